package native

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/atod-dev/atod/gguf"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/trainer"
)

// A merged model scores tokens like the base model with the adapter applied.
func TestMergeAdapterMatchesLoRA(t *testing.T) {
	cfg := nativeConfig(t, "optim.lr=0.05")
	ms, err := Open(cfg, trainer.Need{Student: true, Learner: true, NSeq: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	seq := sentence(t, ms.Student, "the kitchen has a red apple on the table")
	for range 3 { // LoRA B starts at zero: a few steps make the adapter non-trivial
		if _, err := ms.Learner.Step([][]model.TrainSeq{{seq}}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	adapter, merged := filepath.Join(dir, "adapter.gguf"), filepath.Join(dir, "merged.gguf")
	if err := ms.Learner.SaveWeights(adapter); err != nil {
		t.Fatal(err)
	}
	score := func(lm model.LM) []float32 { return scoreTokens(t, lm, seq.Tokens) }
	base := score(ms.Student)
	if err := ms.Student.LoadWeights(adapter); err != nil {
		t.Fatal(err)
	}
	withLoRA := score(ms.Student)
	if err := gguf.MergeLoRA(cfg.Student.Model, adapter, merged); err != nil {
		t.Fatal(err)
	}
	mc := *cfg
	mc.Student.Model = merged
	mm, err := Open(&mc, trainer.Need{Student: true, NSeq: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer mm.Close()
	fromMerged := score(mm.Student)
	var moved, diff float64
	for i := range base {
		moved = max(moved, abs(float64(withLoRA[i]-base[i])))
		diff = max(diff, abs(float64(withLoRA[i]-fromMerged[i])))
	}
	t.Logf("adapter moves log-probs by up to %.3g; merged vs LoRA differ by up to %.2g", moved, diff)
	if moved < 1e-2 || diff > 1e-3 {
		t.Errorf("adapter effect %g, merged-vs-LoRA difference %g", moved, diff)
	}
	// An adapter is not a base, and a non-adapter is not an adapter.
	if err := gguf.MergeLoRA(cfg.Student.Model, cfg.Student.Model, merged); err == nil || !strings.Contains(err.Error(), "not a LoRA adapter") {
		t.Errorf("merging a model as adapter: %v", err)
	}
}
