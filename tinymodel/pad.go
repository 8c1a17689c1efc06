package tinymodel

import (
	"fmt"

	"github.com/atod-dev/atod/gguf"
)

// PadVocab copies the f32 model at in to out with pad padding ids appended, as converters pad
// vocabularies: tokens [PADi] of type unused with score 0, zero rows in the embeddings, rows w0·e₀ in
// the output. edit, when set, sees every tensor first (rows of ne0 floats) and may change it in place.
func PadVocab(in, out string, pad int, w0 float32, edit func(name string, ne0 int, v []float32)) error {
	f, err := gguf.Open(in)
	if err != nil {
		return err
	}
	w := gguf.NewWriter()
	for _, kv := range f.KV {
		v := kv.Value
		switch x := v.(type) {
		case []string:
			if kv.Key == "tokenizer.ggml.tokens" {
				n := len(x)
				for i := range pad {
					x = append(x[:len(x):len(x)], fmt.Sprintf("[PAD%d]", n+i))
				}
				v = x
			}
		case []int32:
			if kv.Key == "tokenizer.ggml.token_type" {
				for range pad {
					x = append(x[:len(x):len(x)], 5) // LLAMA_TOKEN_TYPE_UNUSED
				}
				v = x
			}
		case []float32:
			if kv.Key == "tokenizer.ggml.scores" {
				for range pad {
					x = append(x[:len(x):len(x)], 0)
				}
				v = x
			}
		}
		w.Set(kv.Key, v)
	}
	for _, ti := range f.Tensors {
		b, err := f.ReadTensor(ti.Name)
		if err != nil {
			return err
		}
		v, err := gguf.Float32s(ti.Type, b)
		if err != nil {
			return fmt.Errorf("%s: %w", ti.Name, err)
		}
		ne0 := int(ti.Shape[0])
		if edit != nil {
			edit(ti.Name, ne0, v)
		}
		shape := append([]uint64(nil), ti.Shape...)
		if ti.Name == "token_embd.weight" || ti.Name == "output.weight" {
			row := make([]float32, ne0)
			if ti.Name == "output.weight" {
				row[0] = w0
			}
			for range pad {
				v = append(v, row...)
			}
			shape[1] += uint64(pad)
		}
		w.AddTensor(ti.Name, gguf.F32, shape, gguf.F32Bytes(v))
	}
	return w.WriteFile(out)
}
