package trainer

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/atod-dev/atod/trainer/fake"
	"github.com/atod-dev/atod/trainer/rollout"
	"github.com/atod-dev/atod/trainer/rundir"
)

// fakeOpener builds fresh fakes; last keeps them for inspection.
type fakeOpener struct {
	lr       float64
	bias     fake.Bias // the student's untrained logits
	wrong    []int32   // cues the teacher gets wrong
	nanAt    int
	nanScore bool
	last     *Models
}

func (f *fakeOpener) open(cfg *Config, need Need) (*Models, error) {
	m := &Models{
		Student: &fake.LM{Seqs: need.NSeq, Ctx: cfg.Rollout.Context, Bias: f.bias},
		Teacher: &fake.LM{Seqs: need.NSeq, Ctx: cfg.Rollout.Context, Teacher: true, Wrong: f.wrong, NaNScore: f.nanScore},
		Learner: &fake.Learner{LR: f.lr, NaNAt: f.nanAt, Bias: f.bias},
	}
	f.last = m
	return m, nil
}

// fakeConfig is a small run over the echo env with the fake models.
func fakeConfig(t *testing.T, sets ...string) *Config {
	t.Helper()
	dir := t.TempDir()
	for _, m := range []string{"s.gguf", "t.gguf"} {
		if err := os.WriteFile(filepath.Join(dir, m), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := DefaultConfig()
	c.Student.Model, c.Teacher.Model = filepath.Join(dir, "s.gguf"), filepath.Join(dir, "t.gguf")
	c.OutDir = filepath.Join(dir, "run")
	c.Env.Name = "echo"
	c.Rollout = RolloutConfig{TasksPerStep: 4, GroupSize: 4, MaxTurns: 5, History: "full", LastN: 2, Context: 512, InvalidPenalty: 0.1, EnvRetries: 2, MaxFailedShare: 0.5}
	c.Sampling = SamplingConfig{Temperature: 1, TopP: 1, MaxTokens: 3}
	c.Eval = EvalConfig{Every: 5, Tasks: 16, Split: "test", Temperature: 0, Teacher: true}
	c.Optim.MicroTokens = 3 * 160
	c.Checkpoint.Every = 5
	if err := c.Apply(sets); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return &c
}

func readTrain(t *testing.T, runDir string) []rundir.StepMetrics {
	t.Helper()
	train, _, err := rundir.ReadMetrics(runDir)
	if err != nil {
		t.Fatal(err)
	}
	return train
}

func readEval(t *testing.T, runDir, model string) []rundir.EvalMetrics {
	t.Helper()
	_, eval, err := rundir.ReadMetrics(runDir)
	if err != nil {
		t.Fatal(err)
	}
	var out []rundir.EvalMetrics
	for _, m := range eval {
		if m.Model == model {
			out = append(out, m)
		}
	}
	return out
}

func TestLoopOPDLowersKLAndLearns(t *testing.T) {
	cfg := fakeConfig(t, "steps=15", "method=opd", "rollout.max_turns=3")
	op := &fakeOpener{lr: 30}
	env := fake.Echo{Turns: 3}
	sum, err := Run(cfg, RunOptions{Open: op.open, Env: env, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	ms := readTrain(t, cfg.OutDir)
	if len(ms) != 15 {
		t.Fatalf("%d train lines, want 15", len(ms))
	}
	first, last := ms[0], ms[len(ms)-1]
	t.Logf("reverse KL %.3f → %.3f, rollout success %.2f → %.2f", first.ReverseKL, last.ReverseKL, first.Success, last.Success)
	if !(last.ReverseKL < first.ReverseKL/3) {
		t.Errorf("reverse KL %.3f → %.3f: OPD must bring it down", first.ReverseKL, last.ReverseKL)
	}
	// The learner got the action tokens only, micro-batched, with λ = 0 weights of both signs.
	l := op.last.Learner.(*fake.Learner)
	var pos, neg int
	for _, batch := range l.Seen {
		for _, s := range batch {
			for i, tok := range s.Tokens {
				if s.Mask[i] && !fake.IsAction(tok) || !s.Mask[i] && s.Weights[i] != 0 {
					t.Fatalf("token %d at %d: mask %v weight %v", tok, i, s.Mask[i], s.Weights[i])
				}
				if s.Weights[i] > 0 {
					pos++
				} else if s.Weights[i] < 0 {
					neg++
				}
			}
		}
	}
	if len(l.Seen) != 15 || pos == 0 || neg == 0 {
		t.Errorf("%d batches, %d positive and %d negative weights", len(l.Seen), pos, neg)
	}
	ev := readEval(t, cfg.OutDir, "student")
	teacher := readEval(t, cfg.OutDir, "teacher")
	if len(ev) != 4 || ev[0].Step != 0 || ev[3].Step != 15 || len(teacher) != 1 {
		t.Fatalf("eval lines student %+v teacher %+v", ev, teacher)
	}
	if !(ev[3].Success > ev[0].Success+0.5) || teacher[0].Success != 1 {
		t.Errorf("held-out success %.2f → %.2f (teacher %.2f)", ev[0].Success, ev[3].Success, teacher[0].Success)
	}
	if sum.FinalSuccess != ev[3].Success {
		t.Errorf("summary success %v", sum.FinalSuccess)
	}
	for _, p := range []string{"config.toml", "report.md", "plots/success.svg", "plots/lambda.svg", "ckpt/latest", "ckpt/step-15/adapter.gguf", "ckpt/step-15/state.bin", "ckpt/step-10/trainer.json"} {
		if _, err := os.Stat(filepath.Join(cfg.OutDir, p)); err != nil {
			t.Error(err)
		}
	}
	// The written config loads back to the same run.
	back, err := LoadConfig(filepath.Join(cfg.OutDir, "config.toml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if back.Hash() != cfg.Hash() {
		t.Error("config.toml does not reproduce the run's config")
	}
	// Re-running into the same directory without --resume is refused.
	if _, err := Run(cfg, RunOptions{Open: op.open, Env: env, Log: io.Discard}); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Errorf("second run into the same dir: %v", err)
	}
}

func TestLoopGRPOLearns(t *testing.T) {
	cfg := fakeConfig(t, "steps=25", "method=grpo",
		"rollout.max_turns=1", "rollout.group_size=8", "eval.every=0", "eval.teacher=false")
	op := &fakeOpener{lr: 30}
	if _, err := Run(cfg, RunOptions{Open: op.open, Env: fake.Echo{Turns: 1}, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	ev := readEval(t, cfg.OutDir, "student")
	ms := readTrain(t, cfg.OutDir)
	t.Logf("held-out success %.2f → %.2f; rollout success %.2f → %.2f", ev[0].Success, ev[1].Success, ms[0].Success, ms[len(ms)-1].Success)
	if !(ev[1].Success > ev[0].Success+0.3) {
		t.Errorf("GRPO held-out success %.2f → %.2f", ev[0].Success, ev[1].Success)
	}
	if ms[0].Lambda != 1 || ms[0].WStd != 0 {
		t.Errorf("λ %v, T-DUR weight std %v with T-DUR off", ms[0].Lambda, ms[0].WStd)
	}
}

func TestResumeMatchesUninterrupted(t *testing.T) {
	for _, history := range []string{"full", "last"} {
		t.Run(history, func(t *testing.T) {
			sets := []string{"steps=4", "checkpoint.every=2", "eval.every=2", "rollout.history=" + history, "method=atod-convex", "tdur.disagreement=topk_kl", "tdur.topk=3"}
			a := fakeConfig(t, sets...)
			env := fake.Echo{Turns: 3}
			if _, err := Run(a, RunOptions{Open: (&fakeOpener{lr: 1}).open, Env: env, Log: io.Discard}); err != nil {
				t.Fatal(err)
			}
			b := fakeConfig(t, sets...)
			// Killed after step 3's metrics were written but before its checkpoint.
			if _, err := Run(b, RunOptions{Open: (&fakeOpener{lr: 1}).open, Env: env, Log: io.Discard, StopAfter: 3}); err != ErrStopped {
				t.Fatalf("stopped run: %v", err)
			}
			if got := len(readTrain(t, b.OutDir)); got != 3 {
				t.Fatalf("%d lines before resume", got)
			}
			if _, err := Run(b, RunOptions{Open: (&fakeOpener{lr: 1}).open, Env: env, Log: io.Discard, Resume: true}); err != nil {
				t.Fatal(err)
			}
			equalRuns(t, a.OutDir, b.OutDir)
			// A changed algorithm is refused on resume.
			b.OPD.Clip = 1
			if _, err := Run(b, RunOptions{Open: (&fakeOpener{lr: 1}).open, Env: env, Log: io.Discard, Resume: true}); err == nil {
				t.Error("resume with a different config accepted")
			}
		})
	}
}

func TestNonFiniteStepIsSkipped(t *testing.T) {
	cfg := fakeConfig(t, "steps=3", "eval.tasks=0")
	op := &fakeOpener{lr: 1, nanAt: 2}
	if _, err := Run(cfg, RunOptions{Open: op.open, Env: fake.Echo{Turns: 2}, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	ms := readTrain(t, cfg.OutDir)
	if !ms[1].Skipped || ms[0].Skipped || ms[2].Skipped || ms[2].SkippedTotal != 1 {
		t.Errorf("skipped flags %v %v %v total %d", ms[0].Skipped, ms[1].Skipped, ms[2].Skipped, ms[2].SkippedTotal)
	}
	if n := op.last.Student.(*fake.LM).Loads; n != 2 {
		t.Errorf("student adapter set %d times, want 2 (the skipped step keeps the old one)", n)
	}
	// NaN teacher log-probs never reach the learner.
	cfg = fakeConfig(t, "steps=2", "eval.tasks=0")
	op = &fakeOpener{lr: 1, nanScore: true}
	if _, err := Run(cfg, RunOptions{Open: op.open, Env: fake.Echo{Turns: 2}, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	if ms := readTrain(t, cfg.OutDir); !ms[1].Skipped || op.last.Learner.(*fake.Learner).Calls != 0 {
		t.Errorf("NaN scores: skipped %v, learner called %d times", ms[1].Skipped, op.last.Learner.(*fake.Learner).Calls)
	}
}

// A run killed before its first checkpoint resumes from scratch.
func TestResumeWithoutCheckpointStartsOver(t *testing.T) {
	sets := []string{"steps=3", "checkpoint.every=0", "eval.tasks=0"}
	a, b := fakeConfig(t, sets...), fakeConfig(t, sets...)
	env := fake.Echo{Turns: 2}
	if _, err := Run(a, RunOptions{Open: (&fakeOpener{lr: 1}).open, Env: env, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(b, RunOptions{Open: (&fakeOpener{lr: 1}).open, Env: env, Log: io.Discard, StopAfter: 2}); err != ErrStopped {
		t.Fatal(err)
	}
	if _, err := Run(b, RunOptions{Open: (&fakeOpener{lr: 1}).open, Env: env, Log: io.Discard, Resume: true}); err != nil {
		t.Fatal(err)
	}
	if ma, mb := rundir.DropTimes(readTrain(t, a.OutDir)), rundir.DropTimes(readTrain(t, b.OutDir)); !reflect.DeepEqual(ma, mb) {
		t.Errorf("restarted run differs:\n%+v\n%+v", ma, mb)
	}
}

// An episode whose next prompt no longer fits the context ends there; the
// unanswered prompt must not reach the scorer or the learner (both would
// reject a sequence longer than the context).
func TestContextLimitEndsEpisodes(t *testing.T) {
	for _, history := range []string{"full", "last"} {
		for _, nctx := range []int{150, 200, 250} {
			cfg := fakeConfig(t, "steps=2", "rollout.history=\""+history+"\"", fmt.Sprintf("rollout.context=%d", nctx))
			if _, err := Run(cfg, RunOptions{Open: (&fakeOpener{lr: 1}).open, Env: fake.Echo{Turns: 5, Pad: 40}, Log: io.Discard}); err != nil {
				t.Fatalf("history %s, context %d: %v", history, nctx, err)
			}
			if ms := readTrain(t, cfg.OutDir); ms[len(ms)-1].EpisodeLen >= 5 {
				t.Errorf("history %s, context %d: episodes of %.1f turns, want them cut by the context", history, nctx, ms[len(ms)-1].EpisodeLen)
			}
		}
	}
}

// Evaluate's transcripts are the episodes its figures summarise.
func TestEvaluateTranscripts(t *testing.T) {
	cfg := fakeConfig(t)
	env := fake.Echo{Turns: 3}
	tasks, err := env.Tasks("test", 12, 3)
	if err != nil {
		t.Fatal(err)
	}
	r, err := rollout.Evaluate(&fake.LM{Seqs: 4, Ctx: cfg.Rollout.Context}, env, tasks, cfg.EvalSpec(1), cfg.Rollout.InvalidPenalty)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Episodes) != len(tasks) {
		t.Fatalf("%d transcripts for %d tasks", len(r.Episodes), len(tasks))
	}
	won, turns, invalid := 0, 0, 0
	for i, e := range r.Episodes {
		if e.Task != tasks[i].ID || len(e.Turns) == 0 || e.Turns[0].Observation == "" || e.Last == "" {
			t.Errorf("episode %d: %+v", i, e)
		}
		if e.Won {
			won++
		}
		turns += len(e.Turns)
		for _, tr := range e.Turns {
			if tr.Invalid {
				invalid++
			}
		}
	}
	n := float64(len(tasks))
	if float64(won)/n != r.Success || float64(turns)/n != r.EpisodeLen || float64(invalid)/float64(turns) != r.InvalidRate {
		t.Errorf("transcripts: %d won, %d turns, %d invalid; result %+v", won, turns, invalid, r)
	}
	if invalid == 0 || invalid == turns {
		t.Errorf("an untrained fake policy should mix valid and invalid actions (%d of %d invalid)", invalid, turns)
	}
}

// With eval.seed fixed, runs of different seeds play the same held-out tasks,
// and each eval line's won string is its tasks' outcomes in draw order.
func TestEvalSeedPairsTasks(t *testing.T) {
	tasks := func(sets ...string) ([]string, rundir.EvalMetrics) {
		cfg := fakeConfig(t, append([]string{"steps=1", "eval.every=0"}, sets...)...)
		if _, err := Run(cfg, RunOptions{Open: (&fakeOpener{lr: 1}).open, Env: fake.Echo{Turns: 1}, Log: io.Discard}); err != nil {
			t.Fatal(err)
		}
		recs, err := rundir.ReadEpisodes(cfg.OutDir, "eval-000000-teacher.jsonl.gz")
		if err != nil {
			t.Fatal(err)
		}
		var ids, won []string
		for _, r := range recs {
			ids = append(ids, r.Task)
			won = append(won, map[bool]string{true: "1", false: "0"}[r.Won])
		}
		ev := readEval(t, cfg.OutDir, "teacher")[0]
		if ev.Won != strings.Join(won, "") || float64(strings.Count(ev.Won, "1"))/float64(ev.Tasks) != ev.Success {
			t.Errorf("won %q, episodes %v, success %v", ev.Won, won, ev.Success)
		}
		return ids, ev
	}
	a, ea := tasks("seed=1", "eval.seed=7")
	b, eb := tasks("seed=2", "eval.seed=7")
	c, _ := tasks("seed=2")
	if !reflect.DeepEqual(a, b) || ea.Won != eb.Won {
		t.Errorf("eval.seed = 7: seed 1 played %v (%s), seed 2 %v (%s)", a, ea.Won, b, eb.Won)
	}
	if reflect.DeepEqual(b, c) {
		t.Errorf("eval.seed = 0 drew the same tasks as eval.seed = 7: %v", c)
	}
}
