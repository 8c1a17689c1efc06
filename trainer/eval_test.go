package trainer

import (
	"io"
	"reflect"
	"testing"

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
