package trainer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atod-dev/atod/gguf"
)

// A merged model scores tokens like the base model with the adapter applied.
func TestMergeAdapterMatchesLoRA(t *testing.T) {
	cfg := nativeConfig(t, "optim.lr=0.05")
	ms, err := OpenNative(cfg, Need{Student: true, Learner: true, NSeq: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	toks, err := ms.Student.Tokenize("the kitchen has a red apple on the table", false)
	if err != nil {
		t.Fatal(err)
	}
	seq := TrainSeq{Tokens: toks, Mask: make([]bool, len(toks)), Weights: make([]float32, len(toks))}
	for i := 1; i < len(toks); i++ {
		seq.Mask[i], seq.Weights[i] = true, 1
	}
	for range 3 { // LoRA B starts at zero: a few steps make the adapter non-trivial
		if _, err := ms.Learner.Step([][]TrainSeq{{seq}}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	adapter, merged := filepath.Join(dir, "adapter.gguf"), filepath.Join(dir, "merged.gguf")
	if err := ms.Learner.SaveAdapter(adapter); err != nil {
		t.Fatal(err)
	}
	score := func(lm LM) []float32 {
		r, err := lm.Score([]ScoreRequest{{Tokens: toks, From: 1}})
		if err != nil {
			t.Fatal(err)
		}
		return r[0].LogProbs
	}
	base := score(ms.Student)
	if err := ms.Student.SetAdapter(adapter); err != nil {
		t.Fatal(err)
	}
	withLoRA := score(ms.Student)
	if err := MergeAdapter(cfg.Student.Model, adapter, merged); err != nil {
		t.Fatal(err)
	}
	mc := *cfg
	mc.Student.Model = merged
	mm, err := OpenNative(&mc, Need{Student: true, NSeq: 1})
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
	if err := MergeAdapter(cfg.Student.Model, cfg.Student.Model, merged); err == nil || !strings.Contains(err.Error(), "not a LoRA adapter") {
		t.Errorf("merging a model as adapter: %v", err)
	}
}

// A quantized base is refused with a clear reason.
func TestMergeRefusesQuantizedBase(t *testing.T) {
	dir := t.TempDir()
	w := gguf.NewWriter()
	w.Set("general.architecture", "llama")
	w.AddTensor("blk.0.attn_q.weight", gguf.F32, []uint64{4, 4}, make([]byte, 64))
	q := filepath.Join(dir, "q.gguf")
	if err := w.WriteFile(q); err != nil {
		t.Fatal(err)
	}
	// Patch the tensor type to Q8_0 (8) in place: the reader must reject it.
	b, _ := os.ReadFile(q)
	i := strings.Index(string(b), "blk.0.attn_q.weight") + len("blk.0.attn_q.weight") + 4 + 16
	b[i] = 8
	os.WriteFile(q, b, 0o644)
	err := MergeAdapter(q, q, filepath.Join(dir, "out.gguf"))
	if err == nil || !strings.Contains(err.Error(), "quantized") {
		t.Errorf("quantized base: %v", err)
	}
}
