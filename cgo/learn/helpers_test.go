package learn_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"github.com/atod-dev/atod/cgo/learn"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/tinymodel"
)

// tinyOpts is a 2-layer model with grouped-query attention, small enough that
// a train step takes milliseconds.
func tinyOpts(arch string) tinymodel.Options {
	o := tinymodel.DefaultOptions()
	o.Arch = arch
	o.Layers = 2
	o.Embd = 64
	o.Heads = 4
	o.KVHeads = 2
	o.FF = 128
	return o
}

var (
	modelMu    sync.Mutex
	modelCache = map[string]string{} // by fmt.Sprint(options)
	modelDir   string
)

// tinyModel writes (once per test binary) a tiny model with options o.
func tinyModel(t testing.TB, o tinymodel.Options) string {
	t.Helper()
	modelMu.Lock()
	defer modelMu.Unlock()
	key := fmt.Sprint(o)
	if p, ok := modelCache[key]; ok {
		return p
	}
	if modelDir == "" {
		var err error
		if modelDir, err = osMkdirTemp(); err != nil {
			t.Fatal(err)
		}
	}
	// numbered: one test may write models of several options (f32 and f16)
	p := filepath.Join(modelDir, fmt.Sprintf("%s-%s-%d.gguf", filepath.Base(t.Name()), o.Arch, len(modelCache)))
	if err := tinymodel.Write(p, o); err != nil {
		t.Fatalf("tinymodel.Write: %v", err)
	}
	modelCache[key] = p
	return p
}

// testConfig is a rank-16 LoRA on every projection with AdamW at 1e-4: the
// learner's own settings, which the trainer's config fills in a run.
func testConfig() learn.Config {
	return learn.Config{
		LoRA:  model.LoRA{Rank: 16, Alpha: 32, Targets: model.LoRATargets},
		Optim: model.Optim{LR: 1e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0, ClipNorm: 1, MinLRRatio: 0.1},
		Seed:  1, Backend: "auto", GPULayers: -1, MaxSeqLen: 4096,
	}
}

func loraConfig() learn.Config {
	c := testConfig()
	c.Rank = 4
	c.Alpha = 8
	c.Threads = 1
	c.MaxSeqLen = 128
	return c
}

func newLearner(t testing.TB, path string, c learn.Config) *learn.Learner {
	t.Helper()
	tr, err := learn.New(path, c)
	if err != nil {
		t.Fatalf("learn.New: %v", err)
	}
	t.Cleanup(tr.Close)
	return tr
}

// randSeq is a sequence of n random tokens whose targets are tokens from..n-1,
// with weights drawn from [lo, hi).
func randSeq(rng *rand.Rand, vocab, n, from int, lo, hi float32) model.TrainSeq {
	s := model.TrainSeq{Tokens: make([]int32, n), Mask: make([]bool, n), Weights: make([]float32, n)}
	for i := range s.Tokens {
		s.Tokens[i] = int32(rng.IntN(vocab))
		if i >= from {
			s.Mask[i] = true
			s.Weights[i] = lo + (hi-lo)*rng.Float32()
		}
	}
	return s
}

// randomizeB gives every LoRA B non-zero values, so the adapter changes the
// model and the gradients of A are non-zero.
func randomizeB(t testing.TB, tr *learn.Learner, seed uint64, scale float32) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	for _, name := range tr.ParamNames() {
		if filepath.Ext(name) != ".lora_b" {
			continue
		}
		v, err := tr.Param(name)
		if err != nil {
			t.Fatal(err)
		}
		for i := range v {
			v[i] = scale * (2*rng.Float32() - 1)
		}
		if err := tr.SetParam(name, v); err != nil {
			t.Fatal(err)
		}
	}
}

// flatten is the sequences of micro-batches in order.
func flatten(micro [][]model.TrainSeq) []model.TrainSeq {
	var seqs []model.TrainSeq
	for _, mb := range micro {
		seqs = append(seqs, mb...)
	}
	return seqs
}

// relDiff is the largest ‖a−b‖/‖b‖ over the tensors, and that tensor's name.
func relDiff(a, b map[string][]float32) (float64, string) {
	worst, worstName := 0.0, ""
	for name, y := range b {
		var diff, norm float64
		for i := range y {
			diff += math.Pow(float64(a[name][i]-y[i]), 2)
			norm += math.Pow(float64(y[i]), 2)
		}
		if r := math.Sqrt(diff / max(norm, 1e-30)); r > worst {
			worst, worstName = r, name
		}
	}
	return worst, worstName
}

// sameGradients checks that two learners give micro the same loss and gradients (relative 1e-5).
func sameGradients(t *testing.T, whole, layered *learn.Learner, micro [][]model.TrainSeq) {
	t.Helper()
	lw, gw, err := whole.Gradients(micro)
	if err != nil {
		t.Fatal(err)
	}
	ll, gl, err := layered.Gradients(micro)
	if err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(float64(lw-ll)) / math.Abs(float64(lw)); d > 1e-5 {
		t.Errorf("loss %v whole, %v layered (relative %.2g)", lw, ll, d)
	}
	worst, name := relDiff(gl, gw)
	t.Logf("%d tensors: worst relative gradient difference %.2g (%s)", len(gw), worst, name)
	if worst > 1e-5 {
		t.Errorf("gradient of %s differs by %.2g (relative)", name, worst)
	}
}
