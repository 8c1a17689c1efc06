package learn_test

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/atod-dev/atod/model"
)

// weightedNLL is −Σ w·log π / N over the masked-in tokens.
func weightedNLL(seqs []model.TrainSeq, lp [][]float32) float64 {
	s, n := 0.0, 0
	for i, q := range seqs {
		for j, m := range q.Mask {
			if m {
				s -= float64(q.Weights[j]) * float64(lp[i][j])
				n++
			}
		}
	}
	return s / float64(n)
}

func TestLossFallsOnFixedBatch(t *testing.T) {
	cfg := loraConfig()
	cfg.LR = 1e-2
	tr := newLearner(t, tinyModel(t, tinyOpts("llama")), cfg)
	rng := rand.New(rand.NewPCG(1, 1))
	seqs := []model.TrainSeq{randSeq(rng, tr.VocabSize(), 20, 4, 0.5, 1.5), randSeq(rng, tr.VocabSize(), 13, 2, 0.5, 1.5)}
	micro := [][]model.TrainSeq{seqs[:1], seqs[1:]}

	first := 0.0
	var last model.TrainStats
	for i := 0; i < 50; i++ {
		st, err := tr.Step(micro)
		if err != nil {
			t.Fatal(err)
		}
		if st.Skipped || st.Step != i+1 || st.Tokens != 16+11 {
			t.Fatalf("step %d: %+v", i, st)
		}
		// Stats.Loss and Stats.LogProbs describe the same forward pass
		if d := math.Abs(weightedNLL(seqs, st.LogProbs) - float64(st.Loss)); d > 1e-5 {
			t.Fatalf("step %d: loss %g but log-probs give %g", i, st.Loss, weightedNLL(seqs, st.LogProbs))
		}
		if i == 0 {
			first = float64(st.Loss)
		}
		last = st
	}
	final := weightedNLL(seqs, trainerLogProbs(t, tr, seqs))
	t.Logf("weighted NLL %.4f -> %.4f after 50 steps (last step loss %.4f)", first, final, last.Loss)
	if final > 0.5*first {
		t.Errorf("weighted NLL fell from %.4f to %.4f, want at least 50%%", first, final)
	}
}

// A negative weight pushes a token's log-prob down, a positive one up.
func TestWeightSignMovesLogProb(t *testing.T) {
	for _, w := range []float32{-1, 1} {
		cfg := loraConfig()
		cfg.LR = 1e-2
		tr := newLearner(t, tinyModel(t, tinyOpts("qwen2")), cfg)
		randomizeB(t, tr, 9, 0.05) // A's gradient is zero while B is
		rng := rand.New(rand.NewPCG(4, 4))
		s := randSeq(rng, tr.VocabSize(), 10, 10, 0, 0)
		s.Mask[6], s.Weights[6] = true, w
		before := trainerLogProbs(t, tr, []model.TrainSeq{s})[0][6]
		for i := 0; i < 3; i++ {
			if _, err := tr.Step([][]model.TrainSeq{{s}}); err != nil {
				t.Fatal(err)
			}
		}
		after := trainerLogProbs(t, tr, []model.TrainSeq{s})[0][6]
		t.Logf("weight %+g: log π %.4f -> %.4f", w, before, after)
		if (after-before)*w <= 0.01 {
			t.Errorf("weight %+g: log π went %.4f -> %.4f", w, before, after)
		}
	}
}

// Stats.LogProbs of a step are the forward pass before the update, equal to
// LogProbs; sequences alone or batched with others (padding) give the same values.
func TestLogProbsConsistent(t *testing.T) {
	tr := newLearner(t, tinyModel(t, tinyOpts("qwen3")), loraConfig())
	randomizeB(t, tr, 1, 0.1)
	seqs := paritySeqs(tr.VocabSize())
	batched := trainerLogProbs(t, tr, seqs)
	for i, s := range seqs {
		alone := trainerLogProbs(t, tr, []model.TrainSeq{s})
		if d := maxDiff([]model.TrainSeq{s}, alone, batched[i:i+1]); d > 1e-5 {
			t.Errorf("seq %d: alone vs batched max |Δ| = %.3g", i, d)
		}
	}
	st, err := tr.Step([][]model.TrainSeq{seqs[:1], seqs[1:]})
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(seqs, st.LogProbs, batched); d > 1e-5 {
		t.Errorf("step log-probs vs LogProbs max |Δ| = %.3g", d)
	}
}

// One AdamW step from zero moments moves θ by −lr·(g/(|g|+ε) + λθ) (the bias
// corrections cancel: m̂ = g, v̂ = g²), with λ only on matrices.
func TestFirstAdamWStep(t *testing.T) {
	cfg := loraConfig()
	cfg.LR, cfg.WeightDecay, cfg.ClipNorm = 1e-3, 0.1, 0
	tr := newLearner(t, tinyModel(t, tinyOpts("llama")), cfg)
	randomizeB(t, tr, 2, 0.1)
	micro := gradBatch(tr.VocabSize())
	_, g, err := tr.Gradients(micro)
	if err != nil {
		t.Fatal(err)
	}
	before := map[string][]float32{}
	var ss float64
	for _, n := range tr.ParamNames() {
		before[n], _ = tr.Param(n)
		for _, x := range g[n] {
			ss += float64(x) * float64(x)
		}
	}
	st, err := tr.Step(micro)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(st.GradNorm)-math.Sqrt(ss)) > 1e-5*math.Sqrt(ss) {
		t.Errorf("GradNorm %g, want ‖g‖ = %g", st.GradNorm, math.Sqrt(ss))
	}
	for _, n := range []string{"blk.0.attn_q.weight.lora_a", "blk.1.ffn_down.weight.lora_b"} {
		after, _ := tr.Param(n)
		for i := range after {
			gi, p := float64(g[n][i]), float64(before[n][i])
			want := p - 1e-3*(gi/(math.Abs(gi)+1e-8)+0.1*p)
			if math.Abs(float64(after[i])-want) > 1e-6 {
				t.Fatalf("%s[%d]: %g, want %g (g %g)", n, i, after[i], want, gi)
			}
		}
	}
}

// Learning rate: linear warmup over 2 steps, cosine to 0.1·LR at step 6, then flat.
func TestLRSchedule(t *testing.T) {
	cfg := loraConfig()
	cfg.LR, cfg.Warmup, cfg.TotalSteps, cfg.MinLRRatio = 1e-3, 2, 6, 0.1
	tr := newLearner(t, tinyModel(t, tinyOpts("llama")), cfg)
	seqs := paritySeqs(tr.VocabSize())
	cos := func(x float64) float64 { return 0.1 + 0.9*(1+math.Cos(math.Pi*x))/2 }
	want := []float64{0.5, 1, cos(0.25), cos(0.5), cos(0.75), 0.1, 0.1}
	for i, w := range want {
		st, err := tr.Step([][]model.TrainSeq{seqs})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(float64(st.LR)-1e-3*w) > 1e-9 {
			t.Errorf("step %d: lr %g, want %g", i+1, st.LR, 1e-3*w)
		}
	}
}

// A NaN in the forward pass skips the step: no parameter, moment or step change.
func TestNaNSkipsStep(t *testing.T) {
	tr := newLearner(t, tinyModel(t, tinyOpts("llama")), loraConfig())
	seqs := paritySeqs(tr.VocabSize())
	if _, err := tr.Step([][]model.TrainSeq{seqs}); err != nil {
		t.Fatal(err)
	}
	name := "blk.1.attn_v.weight.lora_b"
	v, _ := tr.Param(name)
	v[3] = float32(math.NaN())
	mustSet(t, tr, name, v)
	dir := t.TempDir()
	if err := tr.SaveState(filepath.Join(dir, "before")); err != nil {
		t.Fatal(err)
	}
	st, err := tr.Step([][]model.TrainSeq{seqs})
	if err != nil {
		t.Fatal(err)
	}
	if !st.Skipped || st.Step != 1 || tr.StepCount() != 1 {
		t.Fatalf("NaN step: %+v", st)
	}
	if err := tr.SaveState(filepath.Join(dir, "after")); err != nil {
		t.Fatal(err)
	}
	if !sameFile(t, filepath.Join(dir, "before"), filepath.Join(dir, "after")) {
		t.Error("a skipped step changed the optimizer state")
	}
}

// A target whose probability underflows float32 (logits scaled ×1e4) gets a
// finite log-prob floor instead of −Inf, and the step is taken, not skipped.
func TestUnderflowedProbabilityStaysFinite(t *testing.T) {
	cfg := loraConfig()
	cfg.FullWeights, cfg.Rank, cfg.Targets = true, 0, nil
	tr := newLearner(t, tinyModel(t, tinyOpts("qwen2")), cfg)
	w, _ := tr.Param("output.weight")
	for i := range w {
		w[i] *= 1e4
	}
	mustSet(t, tr, "output.weight", w)
	seqs := paritySeqs(tr.VocabSize())
	lp := trainerLogProbs(t, tr, seqs)
	floor := 0
	for i, s := range seqs {
		for j, m := range s.Mask {
			if m && (math.IsInf(float64(lp[i][j]), 0) || math.IsNaN(float64(lp[i][j]))) {
				t.Fatalf("seq %d token %d: log π = %g", i, j, lp[i][j])
			}
			if m && lp[i][j] < -80 {
				floor++
			}
		}
	}
	if floor == 0 {
		t.Fatal("no target underflowed: the test is vacuous")
	}
	st, err := tr.Step([][]model.TrainSeq{seqs})
	if err != nil || st.Skipped || !(st.GradNorm < float32(math.Inf(1))) {
		t.Fatalf("step with %d underflowed targets: %+v, %v", floor, st, err)
	}
}

// Two AdamW steps with global-norm clipping, replayed by hand in float64:
// g ← g·min(1, c/‖g‖), then the moment updates and the bias-corrected step.
func TestClippedAdamWSteps(t *testing.T) {
	cfg := loraConfig()
	cfg.LR, cfg.ClipNorm, cfg.WeightDecay = 1e-2, 0.05, 0
	tr := newLearner(t, tinyModel(t, tinyOpts("llama")), cfg)
	randomizeB(t, tr, 4, 0.1)
	micro := gradBatch(tr.VocabSize())
	b1, b2, eps, lr := 0.9, 0.999, 1e-8, 1e-2
	m, v := map[string][]float64{}, map[string][]float64{}
	for step := 1; step <= 2; step++ {
		_, g, err := tr.Gradients(micro)
		if err != nil {
			t.Fatal(err)
		}
		var ss float64
		before := map[string][]float32{}
		for _, n := range tr.ParamNames() {
			before[n], _ = tr.Param(n)
			for _, x := range g[n] {
				ss += float64(x) * float64(x)
			}
		}
		clip := math.Min(1, 0.05/math.Sqrt(ss))
		if clip > 0.5 {
			t.Fatalf("step %d: ‖g‖ = %g, clipping would not matter", step, math.Sqrt(ss))
		}
		if _, err := tr.Step(micro); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"blk.0.attn_k.weight.lora_a", "blk.1.ffn_up.weight.lora_b"} {
			if m[n] == nil {
				m[n], v[n] = make([]float64, len(g[n])), make([]float64, len(g[n]))
			}
			after, _ := tr.Param(n)
			for i := range after {
				gi := clip * float64(g[n][i])
				m[n][i] = b1*m[n][i] + (1-b1)*gi
				v[n][i] = b2*v[n][i] + (1-b2)*gi*gi
				mh := m[n][i] / (1 - math.Pow(b1, float64(step)))
				vh := v[n][i] / (1 - math.Pow(b2, float64(step)))
				want := float64(before[n][i]) - lr*mh/(math.Sqrt(vh)+eps)
				if math.Abs(float64(after[i])-want) > 2e-6 {
					t.Fatalf("step %d %s[%d]: %g, want %g", step, n, i, after[i], want)
				}
			}
		}
	}
}
