package trainer

import (
	"io"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/envs/envtest"
	"github.com/atod-dev/atod/trainer/fake"
	"github.com/atod-dev/atod/trainer/rundir"
)

// eval.sampled_temperature adds, after every evaluation, one of the same tasks
// sampled at that temperature: its line says so, its episodes have their own
// file, and it is the same in two runs of one config.
func TestSampledEvaluation(t *testing.T) {
	run := func() (*Config, *Summary, []rundir.EvalMetrics) {
		cfg := fakeConfig(t, "steps=4", "eval.every=2", "eval.tasks=12", "eval.sampled_temperature=0.4")
		sum, err := Run(cfg, RunOptions{Open: (&fakeOpener{lr: 1}).open, Env: fake.Echo{Turns: 3}, Log: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		_, evals, err := rundir.ReadMetrics(cfg.OutDir)
		if err != nil {
			t.Fatal(err)
		}
		return cfg, sum, evals
	}
	cfg, sum, a := run()
	type at struct {
		step  int
		model string
		temp  float64
	}
	var got []at
	for _, e := range a {
		got = append(got, at{e.Step, e.Model, e.Temperature})
		if e.Tasks != 12 || len(e.Won) != 12 || e.Types != nil { // the echo env has no task types
			t.Errorf("%+v: want 12 tasks, no types", e)
		}
	}
	want := []at{{0, "teacher", 0}, {0, "teacher", 0.4}, {0, "student", 0}, {0, "student", 0.4},
		{2, "student", 0}, {2, "student", 0.4}, {4, "student", 0}, {4, "student", 0.4}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("eval lines %v, want %v", got, want)
	}
	if sum.FinalSuccess != a[6].Success {
		t.Errorf("final success %v, want the greedy evaluation's %v", sum.FinalSuccess, a[6].Success)
	}
	if main := rundir.MainEvals(a); len(main) != 4 || !reflect.DeepEqual(main[3], a[6]) {
		t.Errorf("main evaluations %+v", main)
	}
	for _, name := range []string{"eval-000004-student.jsonl.gz", "eval-000004-student-t0.4.jsonl.gz", "eval-000000-teacher-t0.4.jsonl.gz"} {
		if recs, err := rundir.ReadEpisodes(cfg.OutDir, name); err != nil || len(recs) != 12 {
			t.Errorf("%s: %d episodes, %v", name, len(recs), err)
		}
	}
	differs := false
	_, _, b := run()
	for i := range a {
		if a[i].Won != b[i].Won || a[i].Success != b[i].Success {
			t.Errorf("line %d differs between two runs: %s vs %s", i, a[i].Won, b[i].Won)
		}
		if i%2 == 1 && a[i].Won != a[i-1].Won {
			differs = true
		}
	}
	if !differs {
		t.Error("every sampled evaluation played as the greedy one: was it sampled?")
	}
}

// With an env that types its tasks, every eval line lists the types in the
// order of its won string: the i-th of each is the i-th task drawn.
func TestEvalTypesAlignWithWon(t *testing.T) {
	cfg := fakeConfig(t, "steps=1", "eval.every=0", "eval.tasks=12", "eval.teacher=false", "rollout.max_turns=2")
	env := envtest.New(t, "household", nil)
	if _, err := Run(cfg, RunOptions{Open: (&fakeOpener{lr: 1}).open, Env: env, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	tasks, err := env.Tasks(cfg.Eval.Split, cfg.Eval.Tasks, cfg.EvalSeed())
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, task := range tasks {
		ty, err := env.(envs.Typer).TaskType(task)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, ty)
	}
	for _, e := range readEval(t, cfg.OutDir, "student") {
		recs, err := rundir.ReadEpisodes(cfg.OutDir, filepath.Base(rundir.EpisodePath(cfg.OutDir, "eval", e.Step, "student")))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(e.Types, want) || len(recs) != len(want) {
			t.Fatalf("step %d: types %v, want %v (%d episodes)", e.Step, e.Types, want, len(recs))
		}
		for i, r := range recs {
			if r.Task != tasks[i].ID || e.Won[i] != map[bool]byte{true: '1', false: '0'}[r.Won] {
				t.Errorf("step %d, task %d: episode of %s (won %v), won string %q", e.Step, i, r.Task, r.Won, e.Won)
			}
		}
	}
}
