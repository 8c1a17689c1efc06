//go:build cgo

package sft

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/tinymodel"
	"github.com/atod-dev/atod/trainer"
	"github.com/atod-dev/atod/trainer/native"
)

// These tests train and score real tiny models through cgo; the rest of the
// package tests without it.

// maskedNLL scores seqs with lm (llama.cpp) and returns the mean −log π over
// the masked-in tokens.
func maskedNLL(t *testing.T, lm model.LM, seqs []model.TrainSeq) float64 {
	t.Helper()
	sum, n := 0.0, 0
	for _, s := range seqs {
		lm.ClearAll()
		res, err := lm.Score([]model.ScoreRequest{{Seq: 0, Tokens: s.Tokens, From: 1}})
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(s.Tokens); i++ {
			if s.Mask[i] {
				sum -= float64(res[0].LogProbs[i-1])
				n++
			}
		}
	}
	return sum / float64(n)
}

// A few epochs of behaviour cloning on a real tiny model lower the loss of the
// oracle's replies, measured by llama.cpp on the saved model.
func TestSFTLowersLossOnRealModel(t *testing.T) {
	dir := t.TempDir()
	cfg := trainer.DefaultConfig()
	cfg.Env.Options = map[string]any{"max_receptacles": 3, "max_objects": 1}
	cfg.Rollout.Context = 1024
	cfg.Backend.Threads = 2
	cfg.LoRA = model.LoRA{FullWeights: true}
	cfg.Optim.LR = 3e-3
	env, err := envs.New("household", cfg.Env.Options)
	if err != nil {
		t.Fatal(err)
	}
	tasks, _ := env.Tasks("train", 6, cfg.Seed)
	demos, _, err := Demos(env, tasks, DemoOptions{MaxTurns: cfg.Rollout.MaxTurns})
	if err != nil {
		t.Fatal(err)
	}
	o := tinymodel.DefaultOptions()
	o.Layers, o.Embd, o.FF, o.Context, o.VocabSize = 2, 32, 96, 1024, 512
	o.Corpus = Corpus(env, cfg.Prompt(), demos)
	init := filepath.Join(dir, "init.gguf")
	if err := tinymodel.Write(init, o); err != nil {
		t.Fatal(err)
	}
	cfg.Student.Model = init
	out := filepath.Join(dir, "out.gguf")
	res, err := Run(&cfg, Options{Out: out, Tasks: 6, Epochs: 4, Batch: 2}, native.Open)
	if err != nil {
		t.Fatal(err)
	}
	if res.Demos == 0 || len(res.Epochs) != 4 || res.Steps != 4*((res.Seqs+1)/2) {
		t.Fatalf("result %+v", res)
	}

	before := scoreDemos(t, &cfg, init, env, demos)
	after := scoreDemos(t, &cfg, out, env, demos)
	t.Logf("masked NLL of the oracle's replies: %.3f -> %.3f; epoch losses %+v", before, after, res.Epochs)
	if !(after < 0.6*before) {
		t.Errorf("masked NLL %.3f -> %.3f, want a fall of at least 40%%", before, after)
	}
	// The learner's own last-epoch loss (measured before each update) is above
	// the final model's: the two paths agree on the direction.
	if last := res.Epochs[len(res.Epochs)-1].Loss; !(after < last*1.05) {
		t.Errorf("final NLL %.3f, last epoch loss %.3f", after, last)
	}
}

func scoreDemos(t *testing.T, cfg *trainer.Config, path string, env envs.Env, demos []Demo) float64 {
	t.Helper()
	c := *cfg
	c.Student.Model = path
	ms, err := native.Open(&c, trainer.Need{Student: true, NSeq: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	var seqs []model.TrainSeq
	for _, d := range demos {
		s, _, err := Sequences(ms.Student, env, c.Prompt(), d, c.Rollout.Context)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, s...)
	}
	return maskedNLL(t, ms.Student, seqs)
}

// With LoRA, the student takes later weights in memory, but Out is still the
// last epoch's adapter: evaluating after every epoch writes the file the run
// without evaluations writes.
func TestSFTLoRAWritesTheLastEpoch(t *testing.T) {
	dir := t.TempDir()
	cfg := trainer.DefaultConfig()
	cfg.Env.Options = map[string]any{"max_receptacles": 3, "max_objects": 1}
	cfg.Rollout.Context, cfg.Backend.Threads = 1024, 2
	cfg.LoRA.Rank, cfg.LoRA.Alpha = 4, 8
	cfg.Optim.LR = 1e-2
	o := tinymodel.DefaultOptions()
	o.Layers, o.Embd, o.FF, o.Context = 2, 32, 96, 1024
	cfg.Student.Model = filepath.Join(dir, "init.gguf")
	if err := tinymodel.Write(cfg.Student.Model, o); err != nil {
		t.Fatal(err)
	}
	run := func(name string, evalTasks int) []byte {
		out := filepath.Join(dir, name)
		if _, err := Run(&cfg, Options{Out: out, Tasks: 3, Epochs: 3, Batch: 2, EvalTasks: evalTasks, EvalSplit: "test", EvalEvery: 1}, native.Open); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if a, b := run("evaluated.gguf", 1), run("plain.gguf", 0); !bytes.Equal(a, b) {
		t.Error("the adapter written with evaluations differs from the one written without")
	}
}
