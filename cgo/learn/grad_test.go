package learn_test

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/atod-dev/atod/cgo/learn"
	"github.com/atod-dev/atod/model"
)

// gradBatch: two micro-batches of sequences of different lengths (padding and
// accumulation are both exercised), weights of both signs.
func gradBatch(vocab int) [][]model.TrainSeq {
	rng := rand.New(rand.NewPCG(7, 7))
	return [][]model.TrainSeq{
		{randSeq(rng, vocab, 12, 3, -1, 2), randSeq(rng, vocab, 7, 1, -1, 2)},
		{randSeq(rng, vocab, 9, 4, -1, 2)},
	}
}

// checkGradients compares analytic ∂L/∂θ with the central difference
// (L(θ+h) − L(θ−h)) / 2h on the entries of largest |∂L/∂θ| of each tensor.
func checkGradients(t *testing.T, tr *learn.Learner, micro [][]model.TrainSeq, names []string, h float64) {
	t.Helper()
	_, grads, err := tr.Gradients(micro)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		g := grads[name]
		if g == nil {
			t.Fatalf("no gradient for %s", name)
		}
		idx := make([]int, len(g))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(a, b int) bool { return math.Abs(float64(g[idx[a]])) > math.Abs(float64(g[idx[b]])) })
		if g[idx[0]] == 0 {
			t.Fatalf("%s: gradient is all zero", name)
		}
		orig, _ := tr.Param(name)
		for _, i := range idx[:3] {
			v := append([]float32(nil), orig...)
			// perturb by an exactly representable step so θ±h is what the graph sees
			hp := float64(float32(float64(orig[i])+h)) - float64(orig[i])
			hm := float64(orig[i]) - float64(float32(float64(orig[i])-h))
			v[i] = float32(float64(orig[i]) + h)
			mustSet(t, tr, name, v)
			lp, err := tr.Loss(micro)
			if err != nil {
				t.Fatal(err)
			}
			v[i] = float32(float64(orig[i]) - h)
			mustSet(t, tr, name, v)
			lm, err := tr.Loss(micro)
			if err != nil {
				t.Fatal(err)
			}
			fd := (lp - lm) / (hp + hm)
			rel := math.Abs(fd-float64(g[i])) / math.Max(math.Abs(fd), math.Abs(float64(g[i])))
			t.Logf("%s[%d]: analytic %.6g finite difference %.6g rel err %.2g", name, i, g[i], fd, rel)
			if rel > 1e-2 {
				t.Errorf("%s[%d]: analytic %.6g vs finite difference %.6g (rel err %.3g)", name, i, g[i], fd, rel)
			}
		}
		mustSet(t, tr, name, orig)
	}
}

func mustSet(t *testing.T, tr *learn.Learner, name string, v []float32) {
	t.Helper()
	if err := tr.SetParam(name, v); err != nil {
		t.Fatal(err)
	}
}

func TestLoRAGradientsMatchFiniteDifferences(t *testing.T) {
	for _, arch := range []string{"llama", "qwen2", "qwen3"} {
		t.Run(arch, func(t *testing.T) {
			tr := newLearner(t, tinyModel(t, tinyOpts(arch)), loraConfig())
			randomizeB(t, tr, 3, 0.2)
			checkGradients(t, tr, gradBatch(tr.VocabSize()), []string{
				"blk.0.attn_q.weight.lora_a", "blk.0.attn_k.weight.lora_b", "blk.0.attn_v.weight.lora_a",
				"blk.1.attn_output.weight.lora_b", "blk.1.ffn_gate.weight.lora_a", "blk.0.ffn_up.weight.lora_b",
				"blk.1.ffn_down.weight.lora_a",
			}, 1e-2)
		})
	}
}

func TestFullWeightGradientsMatchFiniteDifferences(t *testing.T) {
	for _, c := range []struct {
		arch  string
		tied  bool
		names []string
	}{
		{"qwen2", false, []string{"output.weight", "output_norm.weight", "blk.1.attn_q.bias", "blk.0.attn_v.bias", "blk.0.attn_norm.weight", "token_embd.weight"}},
		{"qwen3", true, []string{"token_embd.weight", "blk.1.attn_q_norm.weight", "blk.0.attn_k_norm.weight", "blk.1.ffn_norm.weight", "blk.0.attn_k.weight"}},
	} {
		t.Run(c.arch, func(t *testing.T) {
			o := tinyOpts(c.arch)
			o.Tied = c.tied
			cfg := loraConfig()
			cfg.FullWeights, cfg.Rank, cfg.Targets = true, 0, nil
			tr := newLearner(t, tinyModel(t, o), cfg)
			checkGradients(t, tr, gradBatch(tr.VocabSize()), c.names, 1e-2)
		})
	}
}

// Through f16 frozen weights the LoRA gradients equal those of the same model in
// f32 up to rounding: backward multiplies by a BF16 Wᵀ where the CPU has BF16
// matmuls (transpose.cpp), with the whole graph and with Recompute.
// (Finite differences cannot check this: f16 matmuls round their inputs, so the
// loss is not smooth at small steps.)
func TestF16GradientsMatchF32(t *testing.T) {
	grads := func(f16, recompute bool) map[string][]float32 {
		o := tinyOpts("qwen2")
		o.F16 = f16
		cfg := loraConfig()
		cfg.Recompute = recompute
		tr := newLearner(t, tinyModel(t, o), cfg)
		randomizeB(t, tr, 3, 0.2)
		_, g, err := tr.Gradients(gradBatch(tr.VocabSize()))
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	g32 := grads(false, false)
	for _, recompute := range []bool{false, true} {
		g16, worst := grads(true, recompute), 0.0
		for name, want := range g32 {
			var dd, nn float64
			for i, x := range want {
				d := float64(g16[name][i] - x)
				dd += d * d
				nn += float64(x) * float64(x)
			}
			rel := math.Sqrt(dd / nn)
			worst = math.Max(worst, rel)
			if !(rel < 1e-2) {
				t.Errorf("recompute %v: %s: ‖g_f16 − g_f32‖/‖g_f32‖ = %.3g", recompute, name, rel)
			}
		}
		t.Logf("recompute %v: worst ‖g_f16 − g_f32‖/‖g_f32‖ over %d tensors: %.3g", recompute, len(g32), worst)
	}
}
