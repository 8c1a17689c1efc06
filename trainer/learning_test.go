package trainer

import (
	"io"
	"math"
	"testing"

	"github.com/atod-dev/atod/trainer/fake"
)

// Learning sanity checks: the whole loop over the fake tabular policy and the
// echo env, deterministic, each a few seconds.

// runFake trains cfg against env and returns the student's held-out success
// at each evaluation, and the fakes.
func runFake(t *testing.T, cfg *Config, op *fakeOpener, env fake.Echo) []float64 {
	t.Helper()
	if _, err := Run(cfg, RunOptions{Open: op.open, Env: env, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	var out []float64
	for _, e := range readEval(t, cfg.OutDir, "student") {
		out = append(out, e.Success)
	}
	return out
}

// GRPO from a 20 % start: digits 0 or 1, the student's first token '0' or '1'
// with logit ln 3 each and the nine others 0, so P(right) = 3/15 = 0.2. Sampled
// evaluation (temperature 1) on 64 tasks measures it.
func TestLearnGRPOFromTwentyPercent(t *testing.T) {
	bias := make(fake.Bias, 11)
	bias[0], bias[1] = math.Log(3), math.Log(3)
	cfg := fakeConfig(t, "steps=30", "method=grpo", "rollout.max_turns=1", "rollout.group_size=8",
		"eval.every=0", "eval.teacher=false", "eval.tasks=64", "eval.temperature=1.0")
	s := runFake(t, cfg, &fakeOpener{lr: 30, bias: bias}, fake.Echo{Turns: 1, Digits: 2})
	t.Logf("held-out success %.3f → %.3f", s[0], s[len(s)-1])
	if !(s[0] > 0.1 && s[0] < 0.3) || !(s[len(s)-1] >= 0.9) {
		t.Errorf("GRPO held-out success %.3f → %.3f, want ~0.2 → ≥ 0.9", s[0], s[len(s)-1])
	}
	// metrics.jsonl: κ ≡ 0, ρ 1 → 2 over anneal_steps = 11; the fake sampler and
	// learner share their table, so the mismatch is rounding only.
	ms := readTrain(t, cfg.OutDir)
	for _, m := range ms {
		if want := 1 + math.Min(float64(m.Step)/11, 1); m.Kappa != 0 || !near(m.Rho, want, 1e-12) || !(float64(m.Mismatch) < 1e-6) {
			t.Errorf("step %d: κ %v ρ %v (want 0, %v), mismatch %v", m.Step, m.Kappa, m.Rho, want, m.Mismatch)
		}
	}
}

// reverseKL is the mean over the echo env's states (cue d, first token; cue d,
// after the digit d) of KL(π_s ‖ π_t) over the action tokens, exactly.
func reverseKL(student, teacher *fake.LM) float64 {
	var sum float64
	n := 0
	for d := int32('0'); d <= '9'; d++ {
		prefix := []int32{fake.ImStart}
		prefix = append(prefix, []int32("user\nsay ")...)
		prefix = append(prefix, d, fake.ImEnd, '\n', fake.ImStart)
		prefix = append(prefix, []int32("assistant\n")...)
		for _, p := range [][]int32{prefix, append(prefix, d)} {
			ls, lt := student.Dist(p), teacher.Dist(p)
			for i := range ls {
				sum += math.Exp(ls[i]) * (ls[i] - lt[i])
			}
			n++
		}
	}
	return sum / float64(n)
}

// OPD drives the student's per-state distribution to the teacher's.
func TestLearnOPDMatchesTeacher(t *testing.T) {
	cfg := fakeConfig(t, "steps=30", "method=opd", "rollout.max_turns=1", "eval.every=0", "eval.teacher=false")
	op := &fakeOpener{lr: 30}
	before := reverseKL(&fake.LM{}, &fake.LM{Teacher: true})
	runFake(t, cfg, op, fake.Echo{Turns: 1})
	after := reverseKL(op.last.Student.(*fake.LM), op.last.Teacher.(*fake.LM))
	t.Logf("reverse KL %.4f → %.4f", before, after)
	if !(after < 0.05) {
		t.Errorf("reverse KL %.4f → %.4f, want < 0.05", before, after)
	}
}

// A teacher wrong in one state (cue 7: it says 8) wins 9 tasks in 10. OPD
// copies it, mistake included; the paper's ATOD, whose RL term is present from
// the first step and grows while the teacher's weight falls to κ_min, learns
// the state the teacher gets wrong and ends above it.
func TestLearnATODBeatsWrongTeacher(t *testing.T) {
	final := map[string]float64{}
	var teacher float64
	for _, m := range []string{"opd", "atod"} {
		cfg := fakeConfig(t, "steps=40", "method="+m, "schedule.anneal_steps=20", "rollout.max_turns=1", "rollout.group_size=8",
			"eval.every=0", "eval.tasks=64")
		s := runFake(t, cfg, &fakeOpener{lr: 30, wrong: []int32{'7'}}, fake.Echo{Turns: 1})
		final[m] = s[len(s)-1]
		teacher = readEval(t, cfg.OutDir, "teacher")[0].Success
	}
	t.Logf("teacher %.3f, OPD %.3f, ATOD %.3f", teacher, final["opd"], final["atod"])
	if !(teacher < 1 && teacher > 0.8) {
		t.Fatalf("teacher success %.3f: the wrong state should cost it about 1 task in 10", teacher)
	}
	if math.Abs(final["opd"]-teacher) > 1e-9 {
		t.Errorf("OPD ends at %.3f, want the teacher's %.3f", final["opd"], teacher)
	}
	if !(final["atod"] > teacher) {
		t.Errorf("ATOD ends at %.3f, want above the teacher's %.3f", final["atod"], teacher)
	}
}
