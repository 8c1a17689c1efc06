package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/atod-dev/atod/gguf"
)

// Llama3ChatTemplate is Llama 3's chat template; llama.cpp recognises it by
// its header tokens and renders it natively.
const Llama3ChatTemplate = "{% set loop_messages = messages %}{% for message in loop_messages %}" +
	"{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}" +
	"{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}" +
	"{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"

// llama3Specials are the control tokens Llama 3.1 and 3.2 put at ids 128000
// and on; the rest of the 256 are reserved.
var llama3Specials = map[int]string{
	0: "<|begin_of_text|>", 1: "<|end_of_text|>", 4: "<|finetune_right_pad_id|>", 6: "<|start_header_id|>",
	7: "<|end_header_id|>", 8: "<|eom_id|>", 9: "<|eot_id|>", 10: "<|python_tag|>",
}

// Llama3Vocab builds Llama 3's tokenizer keys from its GPT-2-style BPE files
// (encoder.json: token text → id; vocab.bpe: the merges) and its 256 special
// tokens, with the llama-bpe pre-tokenizer and the chat template.
func Llama3Vocab(encoderJSON, vocabBPE []byte) ([]gguf.KV, error) {
	var enc map[string]int
	if err := json.Unmarshal(encoderJSON, &enc); err != nil {
		return nil, fmt.Errorf("encoder.json: %w", err)
	}
	n := len(enc)
	tokens := make([]string, n, n+256)
	for tok, id := range enc {
		if id < 0 || id >= n || tokens[id] != "" {
			return nil, fmt.Errorf("encoder.json: ids are not 0..%d, each once (%q → %d)", n-1, tok, id)
		}
		tokens[id] = tok
	}
	types := make([]int32, n, n+256)
	for i := range types {
		types[i] = TypeNormal
	}
	reserved := 0
	for i := range 256 {
		name, ok := llama3Specials[i]
		if !ok {
			name = fmt.Sprintf("<|reserved_special_token_%d|>", reserved)
			reserved++
		}
		tokens, types = append(tokens, name), append(types, TypeControl)
	}
	var merges []string
	for _, line := range strings.Split(string(vocabBPE), "\n") {
		if line = strings.TrimRight(line, "\r"); line != "" && !strings.HasPrefix(line, "#version") {
			merges = append(merges, line)
		}
	}
	if len(merges) == 0 {
		return nil, fmt.Errorf("vocab.bpe: no merges")
	}
	return []gguf.KV{
		{Key: "tokenizer.ggml.model", Value: "gpt2"},
		{Key: "tokenizer.ggml.pre", Value: "llama-bpe"},
		{Key: "tokenizer.ggml.tokens", Value: tokens},
		{Key: "tokenizer.ggml.token_type", Value: types},
		{Key: "tokenizer.ggml.merges", Value: merges},
		{Key: "tokenizer.ggml.bos_token_id", Value: uint32(n)},
		{Key: "tokenizer.ggml.eos_token_id", Value: uint32(n + 9)},
		{Key: "tokenizer.ggml.eot_token_id", Value: uint32(n + 9)},
		{Key: "tokenizer.ggml.padding_token_id", Value: uint32(n + 4)},
		{Key: "tokenizer.ggml.add_bos_token", Value: false},
		{Key: "tokenizer.chat_template", Value: Llama3ChatTemplate},
	}, nil
}
