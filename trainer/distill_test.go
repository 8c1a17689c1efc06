package trainer

import (
	"math"
	"sort"
	"testing"

	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/trainer/fake"
)

// The top-k distillation term alone (κ_opd = 0, ρ ≡ 0): the learner gets, at
// every action token and only there, the teacher's top 3 at that position
// with weight η(step) (per-token aggregation: scale 1), η following its own
// ramp 2 → 1 over 6 steps; and the mean top-k KL in metrics.jsonl falls.
func TestDistillTopKTrainsTowardTeacher(t *testing.T) {
	cfg := fakeConfig(t, "steps=30", "method=opd", "opd.kappa=0", "loss.aggregation=token", "rollout.max_turns=1",
		"eval.every=0", "eval.tasks=0", "distill.topk=3", "distill.weight=2", "distill.weight_end=1", "distill.anneal_steps=6")
	op := &fakeOpener{lr: 30}
	runFake(t, cfg, op, fake.Echo{Turns: 1})
	ms := readTrain(t, cfg.OutDir)
	seen := op.last.Learner.(*fake.Learner).Seen
	if len(ms) != 30 || len(seen) != 30 {
		t.Fatalf("%d steps in metrics.jsonl, %d batches trained, want 30", len(ms), len(seen))
	}
	teacher := op.last.Teacher.(*fake.LM)
	for i, m := range ms {
		eta := 2 - math.Min(float64(m.Step)/6, 1)
		if !near(m.DistillWeight, eta, 1e-12) {
			t.Errorf("step %d: distill_weight %v, want %v", m.Step, m.DistillWeight, eta)
		}
		lists := 0
		for _, s := range seen[i] {
			for p := range s.Tokens {
				if !s.Mask[p] {
					if s.TopK[p] != nil || s.Distill[p] != 0 {
						t.Fatalf("step %d: a list or weight on token %d, which is no target", m.Step, p)
					}
					continue
				}
				if want := teacherTop(teacher, s.Tokens[:p], 3); !sameList(s.TopK[p], want) {
					t.Fatalf("step %d token %d: list %v, want the teacher's %v", m.Step, p, s.TopK[p], want)
				}
				if s.Distill[p] != float32(eta) {
					t.Fatalf("step %d token %d: weight %v, want η = %v", m.Step, p, s.Distill[p], eta)
				}
				lists++
			}
		}
		if lists != m.Tokens || lists == 0 {
			t.Errorf("step %d: %d lists for %d action tokens", m.Step, lists, m.Tokens)
		}
	}
	first, last := float64(ms[0].DistillKL), float64(ms[len(ms)-1].DistillKL)
	t.Logf("top-k KL %.4f → %.4f", first, last)
	if !(first > 1) || !(last < 0.1*first) {
		t.Errorf("top-k KL %.4f → %.4f, want a fall to below a tenth", first, last)
	}
}

// teacherTop is the fake teacher's k most likely action tokens after prefix.
func teacherTop(lm *fake.LM, prefix []int32, k int) []model.TokenLogProb {
	res, err := lm.Score([]model.ScoreRequest{{Tokens: append(append([]int32(nil), prefix...), 0), From: len(prefix), TopK: k}})
	if err != nil {
		panic(err)
	}
	return res[0].TopK[0]
}

func sameList(a, b []model.TokenLogProb) bool {
	if len(a) != len(b) {
		return false
	}
	key := func(l []model.TokenLogProb) []model.TokenLogProb {
		l = append([]model.TokenLogProb(nil), l...)
		sort.Slice(l, func(i, j int) bool { return l[i].Token < l[j].Token })
		return l
	}
	a, b = key(a), key(b)
	for i := range a {
		if a[i].Token != b[i].Token || math.Abs(float64(a[i].LogProb-b[i].LogProb)) > 1e-6 {
			return false
		}
	}
	return true
}
