package native

import (
	"fmt"
	"math"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/tinymodel"
	"github.com/atod-dev/atod/trainer"
	"github.com/atod-dev/atod/trainer/scoring"
)

// padded writes the model at in with pad padding ids appended (tinymodel.PadVocab, zero output rows).
func padded(t *testing.T, in string, pad int) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "padded.gguf")
	if err := tinymodel.PadVocab(in, out, pad, 0, nil); err != nil {
		t.Fatal(err)
	}
	return out
}

// scoreServer is atod serve over lm on loopback.
func scoreServer(t *testing.T, lm model.LM) string {
	s := scoring.NewServer(lm, scoring.ServerOptions{Name: "tiny-teacher", MaxLogprobs: 20, Window: 2 * time.Millisecond})
	srv := httptest.NewServer(s)
	t.Cleanup(func() { srv.Close(); s.Close() })
	return srv.URL
}

// Scores through atod serve and the client equal the local teacher's, log-probs
// and top-k, with the teacher's vocabulary the student's or padded past it.
func TestRemoteScoresEqualLocal(t *testing.T) {
	student, teacher, _ := tinyModels(t)
	b := trainer.BackendConfig{Device: "cpu", Threads: 1}
	s, err := OpenScorer(student, b, 1, 512)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var reqs []model.ScoreRequest
	for _, text := range []string{"You are in the kitchen. Go to the fridge and open it.", "take the apple from the counter, then put it in the sink", "look"} {
		toks, err := s.Tokenize(text, false)
		if err != nil {
			t.Fatal(err)
		}
		mask := make([]bool, len(toks))
		for p := 1; p < len(toks); p += 2 {
			mask[p] = true
		}
		reqs = append(reqs, model.ScoreRequest{Seq: len(reqs), Tokens: toks, From: 1, TopK: 5, Mask: mask})
	}
	for _, tc := range []struct {
		name, path string
		pad        int
	}{{"unpadded", teacher, 0}, {"padded", padded(t, teacher, 24), 24}} {
		t.Run(tc.name, func(t *testing.T) {
			lm, err := OpenScorer(tc.path, b, 4, 512)
			if err != nil {
				t.Fatal(err)
			}
			defer lm.Close()
			want, err := lm.Score(reqs)
			if err != nil {
				t.Fatal(err)
			}
			c, err := scoring.Dial(scoring.Config{URL: scoreServer(t, lm), API: scoring.Atod, Timeout: 30 * time.Second, Parallel: 3, PieceTokens: 7})
			if err != nil {
				t.Fatal(err)
			}
			note, err := c.Check(s, 5)
			if err != nil || tc.pad > 0 && !strings.Contains(note, fmt.Sprintf("plus %d more ids", tc.pad)) {
				t.Fatalf("check: %q %v", note, err)
			}
			got, err := c.Score(reqs)
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for i, r := range reqs {
				for p := r.From; p < len(r.Tokens); p++ {
					j := p - r.From
					worst = math.Max(worst, math.Abs(float64(got[i].LogProbs[j]-want[i].LogProbs[j])))
					if len(got[i].TopK[j]) != len(want[i].TopK[j]) {
						t.Fatalf("request %d position %d: top-k %v, local %v", i, p, got[i].TopK[j], want[i].TopK[j])
					}
					for k, x := range want[i].TopK[j] {
						y := got[i].TopK[j][k]
						worst = math.Max(worst, math.Abs(float64(x.LogProb-y.LogProb)))
						if x.Token != y.Token {
							t.Fatalf("request %d position %d: top-k %v, local %v", i, p, got[i].TopK[j], want[i].TopK[j])
						}
					}
				}
			}
			t.Logf("max |remote − local| = %.2g over log-probs and top-5 lists", worst)
			if worst > 1e-4 {
				t.Errorf("remote scores differ from local ones by %g", worst)
			}
		})
	}
}

// native.Open asks the teacher server first: one that is down fails the run
// naming its URL before any model loads (this student file does not exist);
// one that is up becomes the teacher, checked against the student.
func TestOpenRemoteTeacher(t *testing.T) {
	student, teacher, other := tinyModels(t)
	cfg := nativeConfig(t, "eval.teacher=false")
	cfg.Teacher.Model, cfg.Teacher.API, cfg.Teacher.Retries, cfg.Teacher.Timeout = "", "atod", 0, 5
	cfg.Teacher.URL = "http://127.0.0.1:1"
	cfg.Student.Model = filepath.Join(t.TempDir(), "absent.gguf")
	if _, err := Open(cfg, trainer.Need{Student: true, Teacher: true, NSeq: 2}); err == nil || !strings.Contains(err.Error(), "http://127.0.0.1:1") {
		t.Fatalf("server down: %v", err)
	}
	b := trainer.BackendConfig{Device: "cpu", Threads: 1}
	for _, tc := range []struct{ path, want string }{{teacher, ""}, {other, "tokenize"}} {
		lm, err := OpenScorer(tc.path, b, 2, 512)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Student.Model, cfg.Teacher.URL = student, scoreServer(t, lm)
		ms, err := Open(cfg, trainer.Need{Student: true, Teacher: true, NSeq: 2})
		switch {
		case tc.want != "":
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "student: [") {
				t.Errorf("other tokenizer: %v", err)
			}
		case err != nil:
			t.Error(err)
		default:
			if _, ok := ms.Teacher.(*scoring.Client); !ok || len(ms.Notes) == 0 {
				t.Errorf("teacher %T, notes %v", ms.Teacher, ms.Notes)
			}
			ms.Close()
		}
		lm.Close()
	}
}
