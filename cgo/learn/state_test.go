package learn_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atod-dev/atod/cgo/learn"
	"github.com/atod-dev/atod/model"
)

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(x, y)
}

func stateMicro(vocab int, step int) [][]model.TrainSeq {
	rng := rand.New(rand.NewPCG(uint64(step), 9))
	return [][]model.TrainSeq{{randSeq(rng, vocab, 15, 2, -1, 2)}, {randSeq(rng, vocab, 8, 1, -1, 2), randSeq(rng, vocab, 11, 5, -1, 2)}}
}

// save → load into a fresh trainer → continue gives bit-identical parameters to
// an uninterrupted run.
func TestSaveLoadContinueBitIdentical(t *testing.T) {
	path := tinyModel(t, tinyOpts("qwen2"))
	cfg := loraConfig()
	cfg.LR, cfg.Warmup, cfg.TotalSteps, cfg.WeightDecay = 1e-2, 2, 8, 0.01
	dir := t.TempDir()

	a := newLearner(t, path, cfg)
	b := newLearner(t, path, cfg)
	for s := 1; s <= 3; s++ {
		for _, tr := range []*learn.Learner{a, b} {
			if _, err := tr.Step(stateMicro(tr.VocabSize(), s)); err != nil {
				t.Fatal(err)
			}
		}
	}
	state := filepath.Join(dir, "state.bin")
	if err := b.SaveState(state); err != nil {
		t.Fatal(err)
	}
	b.Close()
	c := newLearner(t, path, cfg)
	if err := c.LoadState(state); err != nil {
		t.Fatal(err)
	}
	if c.StepCount() != 3 {
		t.Fatalf("restored step %d, want 3", c.StepCount())
	}
	for s := 4; s <= 6; s++ {
		for _, tr := range []*learn.Learner{a, c} {
			if _, err := tr.Step(stateMicro(tr.VocabSize(), s)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, n := range a.ParamNames() {
		x, _ := a.Param(n)
		y, _ := c.Param(n)
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				t.Fatalf("%s[%d]: uninterrupted %g, resumed %g", n, i, x[i], y[i])
			}
		}
	}
	// moments too: the two states are byte-identical
	a.SaveState(filepath.Join(dir, "a"))
	c.SaveState(filepath.Join(dir, "c"))
	if !sameFile(t, filepath.Join(dir, "a"), filepath.Join(dir, "c")) {
		t.Error("optimizer states differ after resuming")
	}
}

func TestLoadStateRejectsBadFiles(t *testing.T) {
	path := tinyModel(t, tinyOpts("llama"))
	tr := newLearner(t, path, loraConfig())
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	if err := tr.SaveState(good); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(good)
	flipped := append([]byte(nil), raw...)
	flipped[len(flipped)/2] ^= 1
	other := loraConfig()
	other.Rank = 2
	tr2 := newLearner(t, path, other)
	other2 := filepath.Join(dir, "rank2")
	if err := tr2.SaveState(other2); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"truncated": raw[:len(raw)-10], "flipped": flipped, "empty": nil, "garbage": []byte("GGUF not a state file at all"),
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o644)
		if err := tr.LoadState(p); err == nil {
			t.Errorf("%s: LoadState succeeded", name)
		}
	}
	if err := tr.LoadState(other2); err == nil || !strings.Contains(err.Error(), "tensor") {
		t.Errorf("state of a rank-2 trainer: %v", err)
	}
	if err := tr.LoadState(good); err != nil {
		t.Errorf("good state: %v", err)
	}
	// atomic writes leave no temp files behind
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("leftover temp file %s", e.Name())
		}
	}
}

func TestValidation(t *testing.T) {
	path := tinyModel(t, tinyOpts("llama"))
	for name, mod := range map[string]func(*learn.Config){
		"rank 0":       func(c *learn.Config) { c.Rank = 0 },
		"bad target":   func(c *learn.Config) { c.Targets = []string{"q", "lm_head"} },
		"no targets":   func(c *learn.Config) { c.Targets = nil },
		"full + rank":  func(c *learn.Config) { c.FullWeights = true },
		"bad backend":  func(c *learn.Config) { c.Backend = "tpu" },
		"beta1 1":      func(c *learn.Config) { c.Beta1 = 1 },
		"eps 0":        func(c *learn.Config) { c.Eps = 0 },
		"max seq 1":    func(c *learn.Config) { c.MaxSeqLen = 1 },
		"min lr ratio": func(c *learn.Config) { c.MinLRRatio = 2 },
	} {
		c := loraConfig()
		mod(&c)
		if tr, err := learn.New(path, c); err == nil {
			tr.Close()
			t.Errorf("%s: New succeeded", name)
		}
	}
	dir := t.TempDir()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "truncated.gguf"), raw[:len(raw)/3], 0o644)
	os.WriteFile(filepath.Join(dir, "garbage.gguf"), []byte("not a gguf file at all"), 0o644)
	adapter := filepath.Join(dir, "adapter.gguf")
	if err := newLearner(t, path, loraConfig()).SaveAdapter(adapter); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"missing.gguf", "truncated.gguf", "garbage.gguf", "adapter.gguf"} {
		if tr, err := learn.New(filepath.Join(dir, name), loraConfig()); err == nil {
			tr.Close()
			t.Errorf("%s: New succeeded", name)
		}
	}

	tr := newLearner(t, path, loraConfig())
	v := int32(tr.VocabSize())
	ok := model.TrainSeq{Tokens: []int32{1, 2, 3}, Mask: []bool{false, true, true}, Weights: []float32{0, 1, 1}}
	long := model.TrainSeq{Tokens: make([]int32, 129), Mask: make([]bool, 129), Weights: make([]float32, 129)}
	long.Mask[1] = true
	for name, s := range map[string]model.TrainSeq{
		"mask[0]":       {Tokens: []int32{1, 2}, Mask: []bool{true, true}, Weights: []float32{1, 1}},
		"short mask":    {Tokens: []int32{1, 2}, Mask: []bool{false}, Weights: []float32{1, 1}},
		"short weights": {Tokens: []int32{1, 2}, Mask: []bool{false, true}, Weights: []float32{1}},
		"token ≥ vocab": {Tokens: []int32{1, v}, Mask: []bool{false, true}, Weights: []float32{0, 1}},
		"token < 0":     {Tokens: []int32{-1, 2}, Mask: []bool{false, true}, Weights: []float32{0, 1}},
		"NaN weight":    {Tokens: []int32{1, 2}, Mask: []bool{false, true}, Weights: []float32{0, float32(math.NaN())}},
		"empty":         {},
		"too long":      long,
	} {
		if _, err := tr.Step([][]model.TrainSeq{{ok, s}}); err == nil {
			t.Errorf("%s: Step succeeded", name)
		}
		if _, err := tr.LogProbs([]model.TrainSeq{s}); err == nil && name != "NaN weight" && name != "short weights" {
			t.Errorf("%s: LogProbs succeeded", name)
		}
	}
	noTargets := model.TrainSeq{Tokens: []int32{1, 2}, Mask: []bool{false, false}, Weights: []float32{0, 0}}
	for name, micro := range map[string][][]model.TrainSeq{"nil": nil, "empty micro-batch": {{}}, "no targets": {{noTargets}}} {
		if _, err := tr.Step(micro); err == nil {
			t.Errorf("%s: Step succeeded", name)
		}
	}
	if tr.StepCount() != 0 {
		t.Errorf("rejected steps counted: %d", tr.StepCount())
	}
}

// "cpu" computes on the CPU; "cuda" gets a CUDA device or a clear error, never an abort.
func TestBackendSelection(t *testing.T) {
	path := tinyModel(t, tinyOpts("llama"))
	c := loraConfig()
	c.Backend = "cpu"
	if b := newLearner(t, path, c).Backend(); b != "CPU" {
		t.Errorf("backend cpu: computing on %q", b)
	}
	c.Backend = "cuda"
	tr, err := learn.New(path, c)
	if err == nil {
		defer tr.Close()
		if !strings.HasPrefix(tr.Backend(), "CUDA") {
			t.Errorf("backend cuda: computing on %q", tr.Backend())
		}
	} else if !strings.Contains(err.Error(), "CUDA") {
		t.Errorf("backend cuda without a CUDA device: %v", err)
	}
}
