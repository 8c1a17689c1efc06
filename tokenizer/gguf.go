package tokenizer

import (
	"fmt"

	"github.com/atod-dev/atod/gguf"
)

// Pre is the tokenizer.ggml.pre name: llama.cpp's "qwen2" pre-tokenizer,
// which Split reproduces. Unlike "default" and "gpt-2" it keeps
// clean_spaces off, so detokenizing gives back the exact text.
const Pre = "qwen2"

// SetKV writes the tokenizer metadata llama.cpp's vocabulary loader reads.
func (t *Tokenizer) SetKV(w *gguf.Writer) {
	w.Set("tokenizer.ggml.model", "gpt2")
	w.Set("tokenizer.ggml.pre", Pre)
	w.Set("tokenizer.ggml.tokens", t.Tokens)
	w.Set("tokenizer.ggml.token_type", t.Types)
	w.Set("tokenizer.ggml.merges", t.Merges)
	w.Set("tokenizer.ggml.bos_token_id", uint32(t.BOS))
	w.Set("tokenizer.ggml.eos_token_id", uint32(t.EOS))
	w.Set("tokenizer.ggml.eot_token_id", uint32(t.EOT))
	w.Set("tokenizer.ggml.padding_token_id", uint32(t.BOS))
	w.Set("tokenizer.ggml.add_bos_token", false)
	w.Set("tokenizer.ggml.add_eos_token", false)
	w.Set("tokenizer.chat_template", ChatTemplate)
}

// FromGGUF reads the tokenizer of a GGUF file: one written by SetKV, or any
// gpt2-model vocabulary with the qwen2 pre-tokenizer and the chatml specials
// (Qwen2/Qwen3 models). Other pre-tokenizers split text differently, so they
// are refused rather than encoded wrongly.
func FromGGUF(f *gguf.File) (*Tokenizer, error) {
	if m, _ := f.Get("tokenizer.ggml.model"); m != "gpt2" {
		return nil, fmt.Errorf("tokenizer model %v, want gpt2", m)
	}
	if p, _ := f.Get("tokenizer.ggml.pre"); p != Pre {
		return nil, fmt.Errorf("pre-tokenizer %v, want %s", p, Pre)
	}
	tv, _ := f.Get("tokenizer.ggml.tokens")
	yv, _ := f.Get("tokenizer.ggml.token_type")
	mv, _ := f.Get("tokenizer.ggml.merges")
	tokens, ok1 := tv.([]string)
	types, ok2 := yv.([]int32)
	merges, ok3 := mv.([]string)
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("tokenizer arrays missing or mistyped: tokens %T, token_type %T, merges %T", tv, yv, mv)
	}
	return New(tokens, types, merges)
}
