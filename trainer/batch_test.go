package trainer

import (
	"strings"
	"testing"

	"github.com/atod-dev/atod/envs"
)

func TestBatchTokenWeightsHandComputed(t *testing.T) {
	cfg := DefaultConfig()
	cfg.OPD = OPDConfig{Kappa: 2, Clip: 1}
	cfg.GRPO = GRPOConfig{StdNorm: true, Eps: 0}
	cfg.Rollout.InvalidPenalty = 0.1
	cfg.TDUR.Enabled = false
	eps := []*episode{
		{taskIdx: 0, score: 1, seqs: [][]int32{{1, 2, 3, 4, 5}},
			turns: []turnRec{{seq: 0, start: 2, n: 2, lpS: []float32{-1, -2}, lpT: []float32{-0.5, -4}, ent: []float32{1, 1}}}},
		{taskIdx: 0, score: 0, invalid: 1, seqs: [][]int32{{1, 9, 7}},
			turns: []turnRec{{seq: 0, start: 1, n: 1, lpS: []float32{-1}, lpT: []float32{-1}, ent: []float32{1}, invalid: true}}},
		{taskIdx: 1, score: 1, seqs: [][]int32{{1, 5}, {1, 2, 6}}, // "last" mode: a sequence per turn
			turns: []turnRec{
				{seq: 0, start: 1, n: 1, lpS: []float32{-0.25}, lpT: []float32{-0.5}, ent: []float32{1}},
				{seq: 1, start: 2, n: 1, lpS: []float32{-3}, lpT: []float32{-2}, ent: []float32{1}},
			}},
		{taskIdx: 1, score: 1, seqs: [][]int32{{1, 5}},
			turns: []turnRec{{seq: 0, start: 1, n: 0}}}, // an empty reply: no train tokens
	}
	b := buildBatch(&cfg, eps, 0.5)
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
	b = buildBatch(&cfg, eps, 1)
	if b.seqs[0].Weights[2] != 1 || b.seqs[0].Weights[3] != 1 || b.seqs[2].Weights[1] != 0 {
		t.Errorf("λ = 1 weights %v %v", b.seqs[0].Weights, b.seqs[2].Weights)
	}
	cfg.TDUR = TDUR{Enabled: true, Beta: 1, Tau: 1, WMin: 0.1, WMax: 10, Disagreement: "logratio"}
	b = buildBatch(&cfg, eps, 0)
	w := cfg.TDUR.TurnWeights([][]TurnStat{{{D: 0.75, U: 1, Tokens: 2}}, {{D: 0, U: 1, Tokens: 1}}, {{D: 0.25, U: 1, Tokens: 1}, {D: -1, U: 1, Tokens: 1}}, {{}}})
	if !near(float64(b.seqs[2].Weights[1]), 2*w[2][0]*-0.25, 1e-6) || !near(float64(b.seqs[3].Weights[2]), 2*w[2][1]*1, 1e-6) || w[2][0] == 1 {
		t.Errorf("T-DUR weights %v, train weights %v %v", w, b.seqs[2].Weights, b.seqs[3].Weights)
	}
	if mb := microBatches(b.seqs, 3); len(mb) != 2 || len(mb[0]) != 3 || len(mb[1]) != 1 {
		t.Errorf("micro-batches %d", len(mb))
	}
}

// The "full" transcript is exactly the chat template's rendering of the
// conversation, sampled tokens kept as sampled, and re-scoring it with the
// student gives back the log-probs recorded at sampling time.
func TestFullTranscriptIsAppendOnlyAndOnPolicy(t *testing.T) {
	lm := &fakeLM{nseq: 4, nctx: 4096}
	env := echoEnv{turns: 3}
	tasks, _ := env.Tasks("train", 2, 5)
	pc := envs.PromptConfig{History: "full"}
	spec := rolloutSpec{pc: pc, sampling: Sampling{Temperature: 1, MaxTokens: 3}, maxTurns: 5,
		seed: func(a, b, c int) uint64 { return deriveSeed(9, int64(a), int64(b), int64(c)) }}
	eps, err := rollout(lm, env, tasks, 2, spec)
	if err != nil {
		t.Fatal(err)
	}
	sawEOG, sawLength := false, false
	for _, e := range eps {
		if len(e.seqs) != 1 || len(e.turns) != 3 {
			t.Fatalf("%d seqs %d turns", len(e.seqs), len(e.turns))
		}
		msgs := envs.Messages(env, pc, e.firstObs, e.history, e.obs)
		all, _ := lm.ApplyChatTemplate(msgs, false)
		got := lm.Detokenize(e.seqs[0], true)
		if !strings.HasPrefix(all, got) {
			t.Errorf("transcript is not the template's rendering:\n%q\n%q", got, all)
		}
		for k, tr := range e.turns {
			res, _ := lm.Score([]ScoreRequest{{Tokens: e.seqs[0][:tr.start+tr.n], From: tr.start}})
			for j := range tr.lpS {
				if res[0].LogProbs[j] != tr.lpS[j] {
					t.Errorf("turn %d token %d: rescored %v, sampled %v", k, j, res[0].LogProbs[j], tr.lpS[j])
				}
			}
			last := e.seqs[0][tr.start+tr.n-1]
			sawEOG = sawEOG || lm.IsEOG(last)
			sawLength = sawLength || !lm.IsEOG(last)
		}
	}
	if !sawEOG || !sawLength {
		t.Errorf("want replies ending both in <|im_end|> and by length (eog %v, length %v)", sawEOG, sawLength)
	}
}
