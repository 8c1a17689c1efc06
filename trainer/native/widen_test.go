package native

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The hint names the command and what widening costs, the bytes the widened
// file really adds; a teacher that is not quantized, is bf16 already, or runs
// where bf16 is not faster gets none.
func TestWidenNote(t *testing.T) {
	_, teacher, _ := tinyModels(t)
	dir := t.TempDir()
	q, b := filepath.Join(dir, "q4_0.gguf"), filepath.Join(dir, "bf16.gguf")
	if err := Quantize(teacher, q, "q4_0", 1); err != nil {
		t.Fatal(err)
	}
	if err := Quantize(q, b, "bf16", 1); err != nil {
		t.Fatal(err)
	}
	note, err := widenNote(q, true)
	if err != nil || !strings.Contains(note, "`atod model quantize "+q+" TEACHER-bf16.gguf bf16`") {
		t.Errorf("note %q (%v)", note, err)
	}
	extra, err := widenedExtra(q)
	qs, _ := os.Stat(q)
	bs, _ := os.Stat(b)
	// the two files differ by the matrices' bytes, up to the alignment padding of their tensors
	if diff := bs.Size() - qs.Size() - int64(extra); err != nil || extra == 0 || diff < -32*64 || diff > 32*64 {
		t.Errorf("widening adds %d bytes, the files differ by %d (%v)", extra, bs.Size()-qs.Size(), err)
	}
	for _, c := range []struct {
		path string
		bf16 bool
	}{{q, false}, {b, true}, {teacher, true}} {
		if note, err := widenNote(c.path, c.bf16); note != "" || err != nil {
			t.Errorf("%s, cpu bf16 %v: note %q (%v), want none", c.path, c.bf16, note, err)
		}
	}
	if _, err := widenNote(filepath.Join(dir, "missing.gguf"), true); err == nil {
		t.Error("a missing file: no error")
	}
}
