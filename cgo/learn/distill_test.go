package learn_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/atod-dev/atod/cgo/learn"
	"github.com/atod-dev/atod/model"
)

// distillBatch is gradBatch with the top-k distillation term: at most targets
// a teacher list of 1..4 distinct tokens (so lists are padded to the longest)
// whose probabilities sum to 0.5–0.95, with weights d in [0.5, 2); some targets
// have no list. With weights false the log-likelihood term is off (w = 0), so
// that the term is checked alone.
func distillBatch(vocab int, weights bool) [][]model.TrainSeq {
	micro := gradBatch(vocab)
	rng := rand.New(rand.NewPCG(11, 11))
	for _, mb := range micro {
		for i := range mb {
			s := &mb[i]
			s.Distill, s.TopK = make([]float32, len(s.Tokens)), make([][]model.TokenLogProb, len(s.Tokens))
			for j, m := range s.Mask {
				if !weights {
					s.Weights[j] = 0
				}
				if !m || rng.IntN(5) == 0 {
					continue
				}
				s.TopK[j] = teacherList(rng, vocab, 1+rng.IntN(4), 0.5+0.45*rng.Float64())
				s.Distill[j] = 0.5 + 1.5*rng.Float32()
			}
		}
	}
	return micro
}

// teacherList is k distinct tokens sharing the probability mass in random parts.
func teacherList(rng *rand.Rand, vocab, k int, mass float64) []model.TokenLogProb {
	parts := make([]float64, k)
	var sum float64
	for i := range parts {
		parts[i] = 0.1 + rng.Float64()
		sum += parts[i]
	}
	var out []model.TokenLogProb
	for _, tok := range rng.Perm(vocab)[:k] {
		out = append(out, model.TokenLogProb{Token: int32(tok), LogProb: float32(math.Log(mass * parts[len(out)] / sum))})
	}
	return out
}

// The distillation term's gradient equals the central finite difference of
// its loss, alone (w = 0) and with the log-likelihood term, through the whole
// graph and recomputing.
func TestDistillGradientsMatchFiniteDifferences(t *testing.T) {
	names := []string{"blk.0.attn_q.weight.lora_a", "blk.1.ffn_down.weight.lora_b", "blk.1.attn_v.weight.lora_b"}
	for _, c := range []struct {
		name               string
		weights, recompute bool
	}{{"alone", false, false}, {"with-weights", true, false}, {"alone-recompute", false, true}} {
		t.Run(c.name, func(t *testing.T) {
			cfg := loraConfig()
			cfg.Recompute, cfg.HeadChunk = c.recompute, 5
			tr := newLearner(t, tinyModel(t, tinyOpts("llama")), cfg)
			randomizeB(t, tr, 3, 0.2)
			checkGradients(t, tr, distillBatch(tr.VocabSize(), c.weights), names, 1e-2)
		})
	}
}

// The learner's KL_i equals the forward KL computed here from its own
// log-probs, each listed token's read by putting that token at the position;
// and the step's loss is −(1/N) Σ w·log π + (1/N) Σ d·KL from those figures.
func TestDistillKLMatchesLogProbs(t *testing.T) {
	tr := newLearner(t, tinyModel(t, tinyOpts("qwen2")), loraConfig())
	randomizeB(t, tr, 3, 0.2)
	micro := distillBatch(tr.VocabSize(), true)
	seqs := flatten(micro)
	kl, err := tr.DistillKL(seqs)
	if err != nil {
		t.Fatal(err)
	}
	lp := trainerLogProbs(t, tr, seqs)
	// one probe a listed token: the sequence up to that position, that token last
	type at struct{ s, j int }
	var probes []model.TrainSeq
	var where []at
	for i, s := range seqs {
		for j, list := range s.TopK {
			for _, v := range list {
				p := model.TrainSeq{Tokens: append([]int32(nil), s.Tokens[:j+1]...), Mask: make([]bool, j+1)}
				p.Tokens[j], p.Mask[j] = v.Token, true
				probes, where = append(probes, p), append(where, at{i, j})
			}
		}
	}
	plp := trainerLogProbs(t, tr, probes)
	var worst, wantLoss float64
	n, k := 0, 0
	for i, s := range seqs {
		for j, m := range s.Mask {
			if !m {
				continue
			}
			n++
			wantLoss -= float64(s.Weights[j]) * float64(lp[i][j])
			if len(s.TopK[j]) == 0 {
				if kl[i][j] != 0 {
					t.Errorf("seq %d token %d: KL %v without a list", i, j, kl[i][j])
				}
				continue
			}
			// KL = Σ_v p_v (log p_v − log π(v)) + p_tail (log p_tail − log π(tail))
			var want, pSum, piSum float64
			for _, v := range s.TopK[j] {
				if where[k] != (at{i, j}) {
					t.Fatalf("probe %d is for %v, want %v", k, where[k], at{i, j})
				}
				p, lpi := math.Exp(float64(v.LogProb)), float64(plp[k][j])
				want += p * (float64(v.LogProb) - lpi)
				pSum, piSum = pSum+p, piSum+math.Exp(lpi)
				k++
			}
			want += (1 - pSum) * (math.Log(1-pSum) - math.Log(1-piSum))
			wantLoss += float64(s.Distill[j]) * want
			worst = math.Max(worst, math.Abs(float64(kl[i][j])-want))
		}
	}
	t.Logf("%d targets: worst |KL − KL from log-probs| %.2g", n, worst)
	if worst > 1e-5 {
		t.Errorf("KL differs from the one computed from the log-probs by %.2g", worst)
	}
	loss, _, err := tr.Gradients(micro)
	if err != nil {
		t.Fatal(err)
	}
	wantLoss /= float64(n)
	t.Logf("loss %.7g, from the log-probs %.7g", loss, wantLoss)
	if math.Abs(float64(loss)-wantLoss) > 1e-5*math.Abs(wantLoss) {
		t.Errorf("loss %v, want %v", loss, wantLoss)
	}
}

// With the distillation term, the layer-by-layer backward (output head in
// chunks of 5 targets, so lists are cut across chunks) gives the loss, the
// KLs and the gradients of the whole-graph backward.
func TestDistillRecomputeMatchesWholeGraph(t *testing.T) {
	for _, arch := range []string{"llama", "qwen3"} {
		t.Run(arch, func(t *testing.T) {
			path := tinyModel(t, tinyOpts(arch))
			whole := newLearner(t, path, loraConfig())
			rc := loraConfig()
			rc.Recompute, rc.HeadChunk = true, 5
			layered := newLearner(t, path, rc)
			randomizeB(t, whole, 3, 0.2)
			randomizeB(t, layered, 3, 0.2)
			micro := distillBatch(whole.VocabSize(), true)
			sameGradients(t, whole, layered, micro)
			sw, sl := stepKL(t, whole, micro), stepKL(t, layered, micro)
			if d := maxDiff(flatten(micro), sw, sl); d > 1e-5 {
				t.Errorf("KLs differ by %.2g", d)
			}
		})
	}
}

// stepKL is the KLs a step reports (the step is taken on a throwaway learner state: tests only).
func stepKL(t *testing.T, tr *learn.Learner, micro [][]model.TrainSeq) [][]float32 {
	t.Helper()
	st, err := tr.Step(micro)
	if err != nil {
		t.Fatal(err)
	}
	if st.DistillKL == nil {
		t.Fatal("a step with top-k lists reported no KLs")
	}
	return st.DistillKL
}

// Lists the graph would misread are refused before C: a token outside the
// vocabulary, a token twice, probabilities over 1, a weight without a list, a
// list on a token that is no target.
func TestDistillRejectsBadLists(t *testing.T) {
	tr := newLearner(t, tinyModel(t, tinyOpts("llama")), loraConfig())
	v := int32(tr.VocabSize())
	for name, f := range map[string]func(s *model.TrainSeq){
		"outside": func(s *model.TrainSeq) { s.TopK[5] = []model.TokenLogProb{{Token: v, LogProb: -1}} },
		"twice": func(s *model.TrainSeq) {
			s.TopK[5] = []model.TokenLogProb{{Token: 3, LogProb: -1}, {Token: 3, LogProb: -2}}
		},
		"over one": func(s *model.TrainSeq) {
			s.TopK[5] = []model.TokenLogProb{{Token: 3, LogProb: -0.1}, {Token: 4, LogProb: -0.2}}
		},
		"no list":   func(s *model.TrainSeq) { s.TopK[5], s.Distill[5] = nil, 1 },
		"no target": func(s *model.TrainSeq) { s.TopK[1] = []model.TokenLogProb{{Token: 3, LogProb: -1}} },
		"nan":       func(s *model.TrainSeq) { s.TopK[5] = []model.TokenLogProb{{Token: 3, LogProb: float32(math.NaN())}} },
	} {
		micro := distillBatch(tr.VocabSize(), true)
		f(&micro[0][0]) // 12 tokens, targets from 3
		if _, err := tr.Step(micro); err == nil {
			t.Errorf("%s: no error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
