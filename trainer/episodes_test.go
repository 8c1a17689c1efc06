package trainer

import (
	"bytes"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/atod-dev/atod/trainer/fake"
	"github.com/atod-dev/atod/trainer/rundir"
)

// The run records, per step, the first episode of its first groups with the
// tokens and weights the learner was given, and every evaluation episode; a
// resumed run records exactly what an uninterrupted one does.
func TestRecordedEpisodes(t *testing.T) {
	sets := []string{"steps=4", "checkpoint.every=2", "eval.every=2", "record.episodes=2"}
	a := fakeConfig(t, sets...)
	op := &fakeOpener{lr: 1}
	if _, err := Run(a, RunOptions{Open: op.open, Env: fake.Echo{Turns: 3}, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	names, err := rundir.EpisodeFiles(a.OutDir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"eval-000000-student.jsonl.gz", "eval-000000-teacher.jsonl.gz", "eval-000002-student.jsonl.gz", "eval-000004-student.jsonl.gz",
		"train-000001.jsonl.gz", "train-000002.jsonl.gz", "train-000003.jsonl.gz", "train-000004.jsonl.gz"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("episode files %q", names)
	}
	recs, err := rundir.ReadEpisodes(a.OutDir, "train-000001.jsonl.gz")
	if err != nil || len(recs) != 2 || recs[0].Group != 0 || recs[1].Group != 1 || recs[0].Rollout != 0 {
		t.Fatalf("step 1 records: %+v %v", recs, err)
	}
	// Episode 0's recorded weights are, in order, the masked weights of one of
	// the sequences the learner was given at step 1.
	var w []float32
	for _, tr := range recs[0].Turns {
		var text strings.Builder
		for _, tok := range tr.Tokens {
			w = append(w, float32(tok.W))
			text.WriteString(tok.Piece)
		}
		if !strings.HasPrefix(text.String(), tr.Reply) || tr.TDUR <= 0 || tr.Observation == "" {
			t.Errorf("turn: pieces %q, reply %q, tdur %v", text.String(), tr.Reply, tr.TDUR)
		}
	}
	found := false
	for _, seq := range op.last.Learner.(*fake.Learner).Seen[0] {
		var got []float32
		for i, m := range seq.Mask {
			if m {
				got = append(got, seq.Weights[i])
			}
		}
		same := len(got) == len(w)
		for i := 0; same && i < len(w); i++ {
			same = math.Abs(float64(w[i]-got[i])) <= 1e-3*math.Max(1, math.Abs(float64(got[i]))) // recorded to 4 digits
		}
		found = found || same
	}
	if !found {
		t.Errorf("the recorded weights %v are no trained sequence's", w)
	}
	ev, err := rundir.ReadEpisodes(a.OutDir, "eval-000002-student.jsonl.gz")
	if err != nil || len(ev) != a.Eval.Tasks || ev[0].Kind != "eval" || len(ev[0].Turns) == 0 || len(ev[0].Turns[0].Tokens) == 0 {
		t.Fatalf("eval records: %d, %v", len(ev), err)
	}
	if _, err := rundir.ReadEpisodes(a.OutDir, "../metrics.jsonl"); err == nil {
		t.Error("a path outside the episodes was read")
	}

	b := fakeConfig(t, sets...)
	if _, err := Run(b, RunOptions{Open: (&fakeOpener{lr: 1}).open, Env: fake.Echo{Turns: 3}, Log: io.Discard, StopAfter: 3}); err != ErrStopped {
		t.Fatal(err)
	}
	if _, err := Run(b, RunOptions{Open: (&fakeOpener{lr: 1}).open, Env: fake.Echo{Turns: 3}, Log: io.Discard, Resume: true}); err != nil {
		t.Fatal(err)
	}
	for _, n := range want {
		x, _ := os.ReadFile(filepath.Join(a.OutDir, "episodes", n))
		y, err := os.ReadFile(filepath.Join(b.OutDir, "episodes", n))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs after resume (%v)", n, err)
		}
	}
}
