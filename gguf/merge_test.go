package gguf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A quantized base is refused with a clear reason.
func TestMergeRefusesQuantizedBase(t *testing.T) {
	dir := t.TempDir()
	w := NewWriter()
	w.Set("general.architecture", "llama")
	w.AddTensor("blk.0.attn_q.weight", F32, []uint64{4, 4}, make([]byte, 64))
	q := filepath.Join(dir, "q.gguf")
	if err := w.WriteFile(q); err != nil {
		t.Fatal(err)
	}
	// Patch the tensor type to Q8_0 (8) in place: the reader must reject it.
	b, _ := os.ReadFile(q)
	i := strings.Index(string(b), "blk.0.attn_q.weight") + len("blk.0.attn_q.weight") + 4 + 16
	b[i] = 8
	os.WriteFile(q, b, 0o644)
	err := MergeLoRA(q, q, filepath.Join(dir, "out.gguf"))
	if err == nil || !strings.Contains(err.Error(), "quantized") {
		t.Errorf("quantized base: %v", err)
	}
}
