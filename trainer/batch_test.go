package trainer

import (
	"math"
	"reflect"
	"testing"

	"github.com/atod-dev/atod/model"

	"github.com/atod-dev/atod/trainer/atod"
	"github.com/atod-dev/atod/trainer/fake"
	"github.com/atod-dev/atod/trainer/rollout"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestBatchTokenWeightsHandComputed(t *testing.T) {
	cfg := DefaultConfig()
	cfg.OPD = atod.OPD{Kappa: 2, Clip: 1}
	cfg.GRPO = atod.GRPO{StdNorm: true, Eps: 0}
	cfg.Rollout.InvalidPenalty = 0.1
	cfg.TDUR.Enabled = false
	cfg.Loss.Aggregation = "token"
	eps := []*rollout.Episode{
		{TaskIdx: 0, Score: 1, Transcript: &rollout.Transcript{Seqs: [][]int32{{1, 2, 3, 4, 5}}},
			Turns: []rollout.Turn{{Seq: 0, Start: 2, N: 2, LpS: []float32{-1, -2}, LpT: []float32{-0.5, -4}, Ent: []float32{1, 1}}}},
		{TaskIdx: 0, Score: 0, Invalid: 1, Transcript: &rollout.Transcript{Seqs: [][]int32{{1, 9, 7}}},
			Turns: []rollout.Turn{{Seq: 0, Start: 1, N: 1, LpS: []float32{-1}, LpT: []float32{-1}, Ent: []float32{1}, Invalid: true}}},
		{TaskIdx: 1, Score: 1, Transcript: &rollout.Transcript{Seqs: [][]int32{{1, 5}, {1, 2, 6}}}, // "last" mode: a sequence per turn
			Turns: []rollout.Turn{
				{Seq: 0, Start: 1, N: 1, LpS: []float32{-0.25}, LpT: []float32{-0.5}, Ent: []float32{1}},
				{Seq: 1, Start: 2, N: 1, LpS: []float32{-3}, LpT: []float32{-2}, Ent: []float32{1}},
			}},
		{TaskIdx: 1, Score: 1, Transcript: &rollout.Transcript{Seqs: [][]int32{{1, 5}}},
			Turns: []rollout.Turn{{Seq: 0, Start: 1, N: 0}}}, // an empty reply: no train tokens
	}
	b := buildBatch(&cfg, eps, 0.5, 0.5, 0) // λ = 0.5
	// Group 0: R = 1, −0.1 → mean 0.45, std 0.55 → a_rl = +1, −1. Group 1: equal returns → 0.
	// Episode 0: a_opd = clip(0.5) = 0.5, clip(−2) = −1 → A = 0.5·2·0.5 + 0.5·1 = 1, 0.5·2·(−1) + 0.5 = −0.5.
	// Episode 1: a_opd = 0 → A = 0.5·(−1) = −0.5. Episode 2: a_opd = −0.25, clip(1) = 1 → A = −0.25, 1.
	want := []struct {
		toks    []int32
		weights []float32
	}{
		{[]int32{1, 2, 3, 4, 5}, []float32{0, 0, 1, -0.5, 0}},
		{[]int32{1, 9, 7}, []float32{0, -0.5, 0}},
		{[]int32{1, 5}, []float32{0, -0.25}},
		{[]int32{1, 2, 6}, []float32{0, 0, 1}},
	}
	if len(b.seqs) != len(want) {
		t.Fatalf("%d train sequences, want %d", len(b.seqs), len(want))
	}
	for i, w := range want {
		s := b.seqs[i]
		for j := range w.weights {
			if !near(float64(s.Weights[j]), float64(w.weights[j]), 1e-6) || s.Mask[j] != (w.weights[j] != 0) || s.Tokens[j] != w.toks[j] {
				t.Errorf("seq %d pos %d: token %d mask %v weight %v, want token %d weight %v", i, j, s.Tokens[j], s.Mask[j], s.Weights[j], w.toks[j], w.weights[j])
			}
		}
	}
	// reverse KL = mean(lp_s − lp_t) = (−0.5 + 2 + 0 + 0.25 − 1)/5
	if !near(b.revKL, 0.75/5, 1e-7) || b.tokens != 5 {
		t.Errorf("reverse KL %v over %d tokens, want 0.15 over 5", b.revKL, b.tokens)
	}
	// λ = 1: only the RL signal; λ = 0 with T-DUR: the turn weights scale a_opd.
	b = buildBatch(&cfg, eps, 0, 1, 0)
	if b.seqs[0].Weights[2] != 1 || b.seqs[0].Weights[3] != 1 || b.seqs[2].Weights[1] != 0 {
		t.Errorf("λ = 1 weights %v %v", b.seqs[0].Weights, b.seqs[2].Weights)
	}
	cfg.TDUR = atod.TDUR{Enabled: true, Form: "zscore", Beta: 1, Tau: 1, WMin: 0.1, WMax: 10, Disagreement: "logratio"}
	b = buildBatch(&cfg, eps, 1, 0, 0)
	w := cfg.TDUR.TurnWeights([][]atod.TurnStat{{{D: 0.75, U: 1, Tokens: 2}}, {{D: 0, U: 1, Tokens: 1}}, {{D: 0.25, U: 1, Tokens: 1}, {D: -1, U: 1, Tokens: 1}}, {{}}})
	if !near(float64(b.seqs[2].Weights[1]), 2*w[2][0]*-0.25, 1e-6) || !near(float64(b.seqs[3].Weights[2]), 2*w[2][1]*1, 1e-6) || w[2][0] == 1 {
		t.Errorf("T-DUR weights %v, train weights %v %v", w, b.seqs[2].Weights, b.seqs[3].Weights)
	}
	// Sequences of 5, 3, 2 and 3 tokens in micro-batches of 6 padded tokens: sorted
	// by length, {2, 3} (2×3 padded), {3}, {5}; a budget below a sequence gives it its own.
	lens := func(mbs [][]model.TrainSeq) (out [][]int) {
		for _, mb := range mbs {
			var l []int
			for _, s := range mb {
				l = append(l, len(s.Tokens))
			}
			out = append(out, l)
		}
		return out
	}
	if got := lens(MicroBatches(b.seqs, 6)); !reflect.DeepEqual(got, [][]int{{2, 3}, {3}, {5}}) {
		t.Errorf("micro-batches of 6 tokens: %v", got)
	}
	if got := lens(MicroBatches(b.seqs, 4)); !reflect.DeepEqual(got, [][]int{{2}, {3}, {3}, {5}}) {
		t.Errorf("micro-batches of 4 tokens: %v", got)
	}
}

func TestGroupStatsHandComputed(t *testing.T) {
	cfg := DefaultConfig()
	cfg.GRPO = atod.GRPO{StdNorm: true, Eps: 0}
	cfg.Rollout.InvalidPenalty = 0.1
	ep := func(task int, score float64, invalid int) *rollout.Episode {
		return &rollout.Episode{TaskIdx: task, Score: score, Invalid: invalid, Transcript: &rollout.Transcript{}}
	}
	eps := []*rollout.Episode{
		ep(0, 1, 0), ep(0, 0, 1), // a win: R = 1, −0.1
		ep(1, 0, 0), ep(1, 0, 0), // equal returns: no signal
		ep(2, 0, 0), ep(2, 0, 2), // equal scores, R = 0, −0.2: the penalty alone
	}
	g := buildBatch(&cfg, eps, 0, 1, 0).groups
	// Within-group stds 0.55, 0, 0.1; every episode of groups 0 and 2 gets |a_rl| = 1.
	if g.n != 3 || g.noSignal != 1 || g.penaltyOnly != 1 || !near(g.retStd, 0.65/3, 1e-12) || !near(g.advAbs, 4.0/6, 1e-12) {
		t.Errorf("group stats %+v, want 3 groups, 1 without signal, 1 penalty-only, return std 0.2167, |a_rl| 0.667", g)
	}
}

// The paper's loss: 1/G Σ_i 1/|T_i| Σ_t A_t·log π(y_t). The learner divides
// Σ weight·log π by the step's N action tokens, so the weights must carry
// N/(G·|T_i|): checked here through the fake learner's loss, against the
// per-sequence mean computed by hand from its own log-probs.
func TestBatchSequenceAggregation(t *testing.T) {
	cfg := DefaultConfig() // the paper's: per-sequence aggregation, T-DUR soft-OR, unclipped
	cfg.Rollout.InvalidPenalty, cfg.GRPO.Eps = 0, 0
	eps := []*rollout.Episode{
		{TaskIdx: 0, Score: 1, Transcript: &rollout.Transcript{Seqs: [][]int32{{1, '3', '4', fake.ImEnd}}},
			Turns: []rollout.Turn{{Seq: 0, Start: 1, N: 3, LpS: []float32{-1, -2, -0.5}, LpT: []float32{-0.5, -1, -1}, Ent: []float32{1, 1, 1}}}},
		{TaskIdx: 0, Score: 0, Transcript: &rollout.Transcript{Seqs: [][]int32{{1, '7'}}},
			Turns: []rollout.Turn{{Seq: 0, Start: 1, N: 1, LpS: []float32{-2}, LpT: []float32{-3}, Ent: []float32{1}}}},
	}
	kappa, rho := 0.55, 1.5
	b := buildBatch(&cfg, eps, kappa, rho, 0)
	// a_rl = ±1; one-turn trajectories: w = 0.75; Δ = 0.5, 1, −0.5 and −1.
	a := [][]float64{{kappa*0.75*0.5 + rho, kappa*0.75*1 + rho, kappa*0.75*-0.5 + rho}, {kappa*0.75*-1 - rho}}
	// N = 4, G = 2: scales 4/(2·3) and 4/(2·1).
	for i, scale := range []float64{4.0 / 6, 2} {
		for j, want := range a[i] {
			if got := float64(b.seqs[i].Weights[1+j]); !near(got, scale*want, 1e-6) {
				t.Errorf("seq %d token %d: weight %v, want %v", i, j, got, scale*want)
			}
		}
	}
	l := &fake.Learner{}
	st, err := l.Step([][]model.TrainSeq{b.seqs})
	if err != nil {
		t.Fatal(err)
	}
	// loss = −(1/2)·[(1/3) Σ_t A_t·lp_t over sequence 0 + A·lp over sequence 1].
	var want float64
	for i := range b.seqs {
		var sum float64
		for j := range a[i] {
			sum += a[i][j] * float64(st.LogProbs[i][1+j])
		}
		want -= sum / float64(len(a[i])) / 2
	}
	if !near(float64(st.Loss), want, 1e-5) {
		t.Errorf("loss %v, want the per-sequence mean %v", st.Loss, want)
	}
}

func TestBatchFilterGroups(t *testing.T) {
	cfg := DefaultConfig()
	cfg.GRPO = atod.GRPO{StdNorm: false, Eps: 0, FilterGroups: true}
	cfg.Rollout.InvalidPenalty = 0.1
	cfg.Loss.Aggregation = "token"
	ep := func(task int, score float64, invalid int) *rollout.Episode {
		return &rollout.Episode{TaskIdx: task, Score: score, Invalid: invalid,
			Transcript: &rollout.Transcript{Seqs: [][]int32{{1, 2}}},
			Turns:      []rollout.Turn{{Seq: 0, Start: 1, N: 1, LpS: []float32{-1}, LpT: []float32{-1}, Ent: []float32{1}}}}
	}
	eps := []*rollout.Episode{ep(0, 1, 0), ep(0, 0, 1), ep(1, 0, 0), ep(1, 0, 2)}
	b := buildBatch(&cfg, eps, 0, 1, 0)
	// Group 0 (Dr. GRPO, no std): R = 1, −0.1 → ±0.55. Group 1 is penalty-only: dropped.
	want := []float64{0.55, -0.55, 0, 0}
	for i, w := range want {
		if !near(b.advRL[i], w, 1e-12) || !near(float64(b.seqs[i].Weights[1]), w, 1e-6) {
			t.Errorf("episode %d: a_rl %v weight %v, want %v", i, b.advRL[i], b.seqs[i].Weights[1], w)
		}
	}
	if b.groups.filtered != 1 || b.groups.penaltyOnly != 1 {
		t.Errorf("groups %+v: want 1 filtered, 1 penalty-only", b.groups)
	}
	cfg.GRPO.FilterGroups = false
	if b = buildBatch(&cfg, eps, 0, 1, 0); !near(b.advRL[3], -0.1, 1e-12) || b.groups.filtered != 0 {
		t.Errorf("unfiltered penalty-only group: a_rl %v, filtered %d", b.advRL[2:], b.groups.filtered)
	}
}
