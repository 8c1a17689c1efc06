package learn_test

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/atod-dev/atod/cgo/learn"
	"github.com/atod-dev/atod/cgo/llama"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/tinymodel"
)

// paritySeqs: three sequences of different lengths, every token after the first a target.
func paritySeqs(vocab int) []model.TrainSeq {
	rng := rand.New(rand.NewPCG(11, 3))
	return []model.TrainSeq{randSeq(rng, vocab, 23, 1, 1, 1), randSeq(rng, vocab, 9, 1, 1, 1), randSeq(rng, vocab, 16, 1, 1, 1)}
}

// llamaScore returns llama.cpp's log-probs of every token after the first, laid
// out like the trainer's (0 at position 0), with adapter (if not "") at scale 1.
func llamaScore(t *testing.T, modelPath, adapter string, seqs []model.TrainSeq) [][]float32 {
	t.Helper()
	m, err := llama.LoadModel(modelPath, llama.ModelParams{Backend: "cpu", Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c, err := m.NewContext(llama.ContextParams{NCtx: 64, NSeq: len(seqs), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if adapter != "" {
		a, err := m.LoadAdapter(adapter)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		if err := c.SetAdapter(a, 1); err != nil {
			t.Fatal(err)
		}
	}
	reqs := make([]model.ScoreRequest, len(seqs))
	for i, s := range seqs {
		reqs[i] = model.ScoreRequest{Seq: i, Tokens: s.Tokens, From: 1}
	}
	res, err := c.Score(reqs)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]float32, len(seqs))
	for i, r := range res {
		out[i] = append([]float32{0}, r.LogProbs...)
	}
	return out
}

// maxDiff is max |a−b| over positions where mask is set.
func maxDiff(seqs []model.TrainSeq, a, b [][]float32) float64 {
	d := 0.0
	for i, s := range seqs {
		for j, m := range s.Mask {
			if m {
				d = math.Max(d, math.Abs(float64(a[i][j]-b[i][j])))
			}
		}
	}
	return d
}

func trainerLogProbs(t *testing.T, tr *learn.Learner, seqs []model.TrainSeq) [][]float32 {
	t.Helper()
	lp, err := tr.LogProbs(seqs)
	if err != nil {
		t.Fatal(err)
	}
	return lp
}

// TestParityWithLlamaCpp: the training graph's log-probs equal llama.cpp's for the
// base model (zero adapter) and for an adapter trained a few steps, saved as a
// LoRA GGUF and loaded by llama.cpp.
func TestParityWithLlamaCpp(t *testing.T) {
	for _, arch := range []string{"llama", "qwen2", "qwen3"} {
		t.Run(arch, func(t *testing.T) {
			path := tinyModel(t, tinyOpts(arch))
			cfg := loraConfig()
			cfg.LR = 1e-2
			tr := newLearner(t, path, cfg)
			seqs := paritySeqs(tr.VocabSize())
			dir := t.TempDir()

			base := llamaScore(t, path, "", seqs)
			got := trainerLogProbs(t, tr, seqs)
			if d := maxDiff(seqs, got, base); d > 1e-3 {
				t.Errorf("zero adapter: max |Δ log π| = %.3g vs llama.cpp", d)
			}
			zero := filepath.Join(dir, "zero.gguf")
			if err := tr.SaveAdapter(zero); err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(seqs, got, llamaScore(t, path, zero, seqs)); d > 1e-3 {
				t.Errorf("zero adapter loaded in llama.cpp: max |Δ log π| = %.3g", d)
			}

			for i := 0; i < 5; i++ {
				if _, err := tr.Step([][]model.TrainSeq{seqs[:2], seqs[2:]}); err != nil {
					t.Fatal(err)
				}
			}
			got = trainerLogProbs(t, tr, seqs)
			if d := maxDiff(seqs, got, base); d < 1e-2 {
				t.Fatalf("5 steps moved log-probs by only %.3g: the adapter test would be vacuous", d)
			}
			adapter := filepath.Join(dir, "trained.gguf")
			if err := tr.SaveAdapter(adapter); err != nil {
				t.Fatal(err)
			}
			d := maxDiff(seqs, got, llamaScore(t, path, adapter, seqs))
			t.Logf("trained adapter: max |Δ log π| training graph vs llama.cpp = %.3g", d)
			if d > 1e-3 {
				t.Errorf("trained adapter: max |Δ log π| = %.3g vs llama.cpp", d)
			}
		})
	}
}

// TestSaveModelParity: FullWeights training of a tiny model, exported as a whole
// GGUF, loads in llama.cpp and gives the training graph's log-probs. Norm gains
// and biases are randomized first (the tiny models have unit gains), so a gain or
// bias applied wrongly would show.
func TestSaveModelParity(t *testing.T) {
	for _, c := range []struct {
		arch string
		tied bool
	}{{"qwen2", false}, {"qwen3", true}, {"llama", true}} {
		o := tinyOpts(c.arch)
		o.Tied = c.tied
		path := tinyModel(t, o)
		cfg := loraConfig()
		cfg.FullWeights, cfg.Rank, cfg.Targets = true, 0, nil
		cfg.LR = 1e-2
		tr := newLearner(t, path, cfg)
		seqs := paritySeqs(tr.VocabSize())
		base := trainerLogProbs(t, tr, seqs)
		if d := maxDiff(seqs, base, llamaScore(t, path, "", seqs)); d > 1e-3 {
			t.Errorf("%+v: base model: max |Δ log π| = %.3g vs llama.cpp", c, d)
		}
		rng := rand.New(rand.NewPCG(5, 5))
		for _, name := range tr.ParamNames() {
			v, _ := tr.Param(name)
			if len(v) > 2*o.Embd { // matrices stay as they are
				continue
			}
			for i := range v {
				v[i] += 0.3 * float32(rng.NormFloat64())
			}
			mustSet(t, tr, name, v)
		}
		for i := 0; i < 3; i++ {
			if _, err := tr.Step([][]model.TrainSeq{seqs}); err != nil {
				t.Fatal(err)
			}
		}
		got := trainerLogProbs(t, tr, seqs)
		if d := maxDiff(seqs, got, base); d < 1e-2 {
			t.Fatalf("%+v: training moved log-probs by only %.3g", c, d)
		}
		out := filepath.Join(t.TempDir(), "trained.gguf")
		if err := tr.SaveModel(out); err != nil {
			t.Fatal(err)
		}
		d := maxDiff(seqs, got, llamaScore(t, out, "", seqs))
		t.Logf("%+v: saved model: max |Δ log π| = %.3g vs llama.cpp", c, d)
		if d > 1e-3 {
			t.Errorf("%+v: saved model: max |Δ log π| = %.3g vs llama.cpp", c, d)
		}
		if err := tr.SaveAdapter(out); err == nil {
			t.Error("SaveAdapter in FullWeights mode: want an error")
		}
	}
}

// TestF16BaseParity: an f16 base trains (the frozen f16 weights are cast to f32 in
// the graph, since the CPU has no f16 out_prod) and stays close to llama.cpp,
// which rounds activations to f16 in its f16 matmuls.
func TestF16BaseParity(t *testing.T) {
	o := tinyOpts("llama")
	o.F16 = true
	path := tinyModel(t, o)
	tr := newLearner(t, path, loraConfig())
	seqs := paritySeqs(tr.VocabSize())
	d := maxDiff(seqs, trainerLogProbs(t, tr, seqs), llamaScore(t, path, "", seqs))
	t.Logf("f16 base: max |Δ log π| = %.3g", d)
	if d > 5e-3 {
		t.Errorf("f16 base: max |Δ log π| = %.3g vs llama.cpp", d)
	}
	st, err := tr.Step([][]model.TrainSeq{seqs})
	if err != nil || st.Skipped || !(st.GradNorm > 0) {
		t.Fatalf("f16 base step: %+v, %v", st, err)
	}
}

// The presets' shapes (one layer of each, a small vocabulary, f16 as users'
// bases are) train and match llama.cpp within TestF16BaseParity's bound:
// qwen3-0.6b's heads are wider than embd/heads, qwen2.5-0.5b's output is tied,
// and both have RoPE base 10⁶.
func TestPresetShapesParity(t *testing.T) {
	for _, name := range []string{"qwen3-0.6b", "qwen2.5-0.5b"} {
		t.Run(name, func(t *testing.T) {
			o := tinymodel.Presets[name]
			o.Layers, o.VocabSize, o.Context, o.F16, o.Seed = 1, 512, 256, true, 1
			path := tinyModel(t, o)
			m, err := llama.LoadModel(path, llama.ModelParams{Backend: "cpu", Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			if n := m.NParams(); n != o.NParams() {
				t.Errorf("llama.cpp counts %d parameters, tinymodel %d", n, o.NParams())
			}
			m.Close()
			cfg := loraConfig()
			cfg.LR = 1e-2
			tr := newLearner(t, path, cfg)
			seqs := paritySeqs(tr.VocabSize())
			d := maxDiff(seqs, trainerLogProbs(t, tr, seqs), llamaScore(t, path, "", seqs))
			t.Logf("max |Δ log π| = %.3g vs llama.cpp", d)
			if d > 5e-3 {
				t.Errorf("max |Δ log π| = %.3g vs llama.cpp", d)
			}
			st, err := tr.Step([][]model.TrainSeq{seqs})
			if err != nil || st.Skipped || !(st.GradNorm > 0) {
				t.Errorf("step: %+v %v", st, err)
			}
		})
	}
}
