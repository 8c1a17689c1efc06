// Package tokenizer is a byte-level BPE tokenizer in the GPT-2 style that
// llama.cpp reads as tokenizer.ggml.model "gpt2" with the "qwen2"
// pre-tokenizer: training on a text corpus, encoding, decoding, and the GGUF
// tokenizer metadata.
package tokenizer

import (
	"fmt"
	"strings"
)

// Token types of tokenizer.ggml.token_type (llama.cpp's llama_token_type).
// In a BPE vocabulary the 256 byte tokens are normal tokens: llama.cpp
// decodes normal tokens through the byte↔unicode map, and renders byte-type
// tokens not at all.
const (
	TypeNormal      int32 = 1
	TypeControl     int32 = 3
	TypeUserDefined int32 = 4
	TypeUnused      int32 = 5
)

// The special tokens, at ids 256, 257, 258 of every trained vocabulary.
const (
	EndOfText = "<|endoftext|>"
	ImStart   = "<|im_start|>"
	ImEnd     = "<|im_end|>"
)

// Specials lists the special tokens in id order.
var Specials = []string{EndOfText, ImStart, ImEnd}

// ChatTemplate is the chatml template (Jinja, as in Qwen2 models); llama.cpp
// recognises it as "chatml" by its "<|im_start|>".
const ChatTemplate = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

// Tokenizer is a byte-level BPE vocabulary. Tokens holds the token texts as
// GGUF stores them: bytes mapped to printable runes (GPT-2's bytes_to_unicode)
// for normal tokens, verbatim for control tokens.
type Tokenizer struct {
	Tokens []string
	Types  []int32
	Merges []string // "left right" token texts, highest priority first
	BOS    int32    // <|endoftext|>, never added automatically
	EOS    int32    // <|im_end|>
	EOT    int32    // <|im_end|>

	ids     map[string]int32   // token text → id
	ranks   map[[2]int32]merge // adjacent pair → merge
	pieces  [][]byte           // id → bytes it decodes to
	special []int32            // control tokens: matched in text when parsing specials
	user    []int32            // user-defined tokens: always matched in text
}

type merge struct {
	rank   int
	result int32
}

// New builds a tokenizer from a vocabulary as stored in GGUF. Every byte must
// have its single-byte token, and every merge must name two tokens whose
// concatenation is a token.
func New(tokens []string, types []int32, merges []string) (*Tokenizer, error) {
	if len(types) != len(tokens) {
		return nil, fmt.Errorf("%d token types for %d tokens", len(types), len(tokens))
	}
	t := &Tokenizer{
		Tokens: tokens, Types: types, Merges: merges,
		BOS: -1, EOS: -1, EOT: -1,
		ids:    make(map[string]int32, len(tokens)),
		ranks:  make(map[[2]int32]merge, len(merges)),
		pieces: make([][]byte, len(tokens)),
	}
	for i, s := range tokens {
		if s == "" {
			return nil, fmt.Errorf("token %d is empty", i)
		}
		if j, dup := t.ids[s]; dup {
			return nil, fmt.Errorf("token %d %q duplicates token %d", i, s, j)
		}
		t.ids[s] = int32(i)
		switch types[i] {
		case TypeNormal:
			b, ok := unicodeToBytes(s)
			if !ok {
				return nil, fmt.Errorf("normal token %d %q is not byte-level text", i, s)
			}
			t.pieces[i] = b
		case TypeControl:
			t.pieces[i] = []byte(s)
			t.special = append(t.special, int32(i))
		case TypeUserDefined:
			t.pieces[i] = []byte(s)
			t.user = append(t.user, int32(i))
		}
	}
	for b := 0; b < 256; b++ {
		if _, ok := t.ids[byteToUnicode[b]]; !ok {
			return nil, fmt.Errorf("no token for byte %#02x", b)
		}
	}
	for r, m := range merges {
		l, rt, ok := strings.Cut(m, " ")
		a, okA := t.ids[l]
		b, okB := t.ids[rt]
		c, okC := t.ids[l+rt]
		if !ok || !okA || !okB || !okC {
			return nil, fmt.Errorf("merge %d %q: unknown tokens", r, m)
		}
		if _, dup := t.ranks[[2]int32{a, b}]; !dup {
			t.ranks[[2]int32{a, b}] = merge{r, c}
		}
	}
	for _, s := range Specials {
		if _, ok := t.ids[s]; !ok {
			return nil, fmt.Errorf("no special token %s", s)
		}
	}
	t.BOS, t.EOS, t.EOT = t.ids[EndOfText], t.ids[ImEnd], t.ids[ImEnd]
	return t, nil
}

// ID returns the id of a token text, or -1.
func (t *Tokenizer) ID(text string) int32 {
	if id, ok := t.ids[text]; ok {
		return id
	}
	return -1
}

// Encode tokenizes text as llama_tokenize does without adding BOS:
// user-defined token texts always become those tokens, control-token texts
// only with parseSpecial.
func (t *Tokenizer) Encode(text string, parseSpecial bool) []int32 {
	var out []int32
	for text != "" {
		seg, sp, rest := t.nextSpecial(text, parseSpecial)
		for _, w := range Split(seg) {
			out = t.encodeWord(out, w)
		}
		if sp >= 0 {
			out = append(out, sp)
		}
		text = rest
	}
	return out
}

// nextSpecial finds the leftmost special token in text (longest on ties),
// returning the text before it, its id (-1 if none) and the text after it.
func (t *Tokenizer) nextSpecial(text string, control bool) (string, int32, string) {
	cands := t.user
	if control {
		cands = append(t.special[:len(t.special):len(t.special)], t.user...)
	}
	best, bestAt := int32(-1), len(text)
	for _, id := range cands {
		s := t.Tokens[id]
		i := strings.Index(text[:min(len(text), bestAt+len(s))], s)
		if i >= 0 && (i < bestAt || (i == bestAt && len(s) > len(t.Tokens[best]))) {
			best, bestAt = id, i
		}
	}
	if best < 0 {
		return text, -1, ""
	}
	return text[:bestAt], best, text[bestAt+len(t.Tokens[best]):]
}

// encodeWord applies the merges to one pre-token: repeatedly the adjacent pair
// of lowest rank, leftmost first, as llama.cpp's llm_tokenizer_bpe_session.
func (t *Tokenizer) encodeWord(out []int32, w string) []int32 {
	syms := make([]int32, len(w))
	for i := 0; i < len(w); i++ {
		syms[i] = t.ids[byteToUnicode[w[i]]]
	}
	for len(syms) > 1 {
		best, at := merge{rank: -1}, -1
		for i := 0; i+1 < len(syms); i++ {
			if m, ok := t.ranks[[2]int32{syms[i], syms[i+1]}]; ok && (at < 0 || m.rank < best.rank) {
				best, at = m, i
			}
		}
		if at < 0 {
			break
		}
		syms[at] = best.result
		syms = append(syms[:at+1], syms[at+2:]...)
	}
	return append(out, syms...)
}

// Decode returns the text of ids, control and user-defined tokens as their text;
// unused tokens and out-of-range ids decode to nothing.
func (t *Tokenizer) Decode(ids []int32) string {
	var b []byte
	for _, id := range ids {
		if id >= 0 && int(id) < len(t.pieces) {
			b = append(b, t.pieces[id]...)
		}
	}
	return string(b)
}
