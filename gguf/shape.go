package gguf

import (
	"fmt"

	"github.com/atod-dev/atod/model"
)

// ReadShape reads a llama-family model file's shape, what its learner's
// memory depends on (model.EstimateLearnerMemory), from its header.
func ReadShape(path string) (model.Shape, error) {
	f, err := Open(path)
	if err != nil {
		return model.Shape{}, err
	}
	u := func(key string) int {
		v, _ := f.Get(key)
		switch x := v.(type) {
		case uint32:
			return int(x)
		case int32:
			return int(x)
		case uint64:
			return int(x)
		}
		return 0
	}
	a, _ := f.Get("general.architecture")
	arch, _ := a.(string)
	s := model.Shape{Layers: u(arch + ".block_count"), Embd: u(arch + ".embedding_length"), Heads: u(arch + ".attention.head_count"),
		KVHeads: u(arch + ".attention.head_count_kv"), HeadDim: u(arch + ".attention.key_length"), FF: u(arch + ".feed_forward_length")}
	if toks, ok := f.Get("tokenizer.ggml.tokens"); ok {
		if t, ok := toks.([]string); ok {
			s.Vocab = len(t)
		}
	}
	if s.KVHeads == 0 {
		s.KVHeads = s.Heads
	}
	if s.HeadDim == 0 && s.Heads > 0 {
		s.HeadDim = s.Embd / s.Heads
	}
	if s.Layers == 0 || s.Embd == 0 || s.Heads == 0 || s.Vocab == 0 {
		return s, fmt.Errorf("%s: no llama-family shape (%s.block_count, embedding_length, head_count, tokens)", path, arch)
	}
	_, untied := f.Tensor("output.weight")
	for _, t := range f.Tensors {
		s.Weights += int64(t.Size)
		s.Quantized = s.Quantized || t.Type.Quantized()
		s.Narrow = s.Narrow || len(t.Shape) == 2 && t.Type != F32
		// the embedding is transposed as the output head only where tied
		if len(t.Shape) == 2 && !t.Type.Quantized() && (t.Name != "token_embd.weight" || !untied) {
			s.Matrices += int64(t.Size)
		}
	}
	return s, nil
}
