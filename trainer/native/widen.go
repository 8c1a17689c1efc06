package native

import (
	"fmt"

	"github.com/atod-dev/atod/gguf"
)

// widenNote is the run's hint for a teacher whose matrices are quantized and
// computed on a CPU with AVX-512 BF16 (cpuBF16): ggml's bf16 matmuls outrun
// its quantized kernels there, and the same teacher widened to bf16 scored
// 1.68× faster at the 1B Q4_K_M shape (docs/benchmarks.md). Widening is the
// user's choice, since it costs memory; "" when there is nothing to say.
func widenNote(path string, cpuBF16 bool) (string, error) {
	if !cpuBF16 {
		return "", nil
	}
	extra, err := widenedExtra(path)
	if err != nil || extra == 0 {
		return "", err
	}
	return fmt.Sprintf("teacher %s: its quantized matrices run on a CPU with AVX-512 BF16, whose bf16 matmuls are faster; "+
		"`atod model quantize %s TEACHER-bf16.gguf bf16` widens it, for faster scoring (1.7× at the 1B Q4_K_M shape) "+
		"at %s more memory", path, path, sizeText(extra)), nil
}

func sizeText(b uint64) string {
	if b >= 1<<30 {
		return fmt.Sprintf("%.2f GB", float64(b)/(1<<30))
	}
	return fmt.Sprintf("%.1f MB", float64(b)/(1<<20))
}

// widenedExtra is how many bytes widening the model's quantized matrices to
// bf16 adds (their bf16 size less what they take now).
func widenedExtra(path string) (uint64, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return 0, fmt.Errorf("teacher %s: %w", path, err)
	}
	var extra uint64
	for _, t := range f.Tensors {
		if len(t.Shape) < 2 || !t.Type.Quantized() || t.Type == gguf.BF16 {
			continue
		}
		wide, err := t.SizeAs(gguf.BF16)
		if err != nil {
			return 0, fmt.Errorf("teacher %s: tensor %s: %w", path, t.Name, err)
		}
		extra += wide - t.Size
	}
	return extra, nil
}
