package llama

/*
#include <stdlib.h>
#include "atod.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"github.com/atod-dev/atod/model"
)

func cstr(s string) *C.char {
	if s == "" {
		return nil
	}
	return (*C.char)(unsafe.Pointer(unsafe.StringData(s)))
}

// Tokenize splits text into tokens. addSpecial adds BOS/EOS where the model asks for them;
// parseSpecial turns the text of special and control tokens (e.g. "<|im_start|>") into those tokens.
func (m *Model) Tokenize(text string, addSpecial, parseSpecial bool) ([]int32, error) {
	if len(text) >= 1<<30 {
		return nil, fmt.Errorf("tokenize: text of %d bytes is too long", len(text))
	}
	// llama.cpp aborts on some invalid UTF-8 (e.g. a 4-byte sequence above U+10FFFF).
	text = strings.ToValidUTF8(text, "\uFFFD")
	toks := make([]int32, len(text)+8)
	for {
		n := C.llama_tokenize(m.vocab, cstr(text), C.int32_t(len(text)), (*C.llama_token)(unsafe.Pointer(&toks[0])),
			C.int32_t(len(toks)), C.bool(addSpecial), C.bool(parseSpecial))
		if n >= 0 {
			return toks[:n], nil
		}
		if n == C.INT32_MIN {
			return nil, errors.New("tokenize: too many tokens")
		}
		toks = make([]int32, -n)
	}
}

// Detokenize renders tokens as text; renderSpecial includes the text of special and control
// tokens. Invalid token ids render as U+FFFD.
func (m *Model) Detokenize(toks []int32, renderSpecial bool) string {
	for i, t := range toks {
		if !m.validToken(t) {
			return m.Detokenize(toks[:i], renderSpecial) + "\uFFFD" + m.Detokenize(toks[i+1:], renderSpecial)
		}
	}
	if len(toks) == 0 {
		return ""
	}
	buf := make([]byte, 8*len(toks)+16)
	for {
		n := C.llama_detokenize(m.vocab, (*C.llama_token)(unsafe.Pointer(&toks[0])), C.int32_t(len(toks)),
			(*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(len(buf)), false, C.bool(renderSpecial))
		if n >= 0 {
			return string(buf[:n])
		}
		buf = make([]byte, -n)
	}
}

// TokenPiece is the text of one token, special tokens included.
func (m *Model) TokenPiece(tok int32) string {
	return m.piece(tok, true)
}

func (m *Model) piece(tok int32, special bool) string {
	if !m.validToken(tok) {
		return "\uFFFD"
	}
	var small [64]byte
	buf := small[:]
	for {
		n := C.llama_token_to_piece(m.vocab, C.llama_token(tok), (*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(len(buf)), 0, C.bool(special))
		if n >= 0 {
			return string(buf[:n])
		}
		buf = make([]byte, -n)
	}
}

// ChatTemplate is the model's own chat template ("" if the GGUF has none).
func (m *Model) ChatTemplate() string {
	t := C.llama_model_chat_template(m.m, nil)
	if t == nil {
		return ""
	}
	return C.GoString(t)
}

// ApplyChatTemplate renders msgs with tmpl (a template text or a llama.cpp template name such as
// "chatml"; "" = the model's own). addAssistant appends the start of an assistant turn.
// llama.cpp recognises a fixed list of templates, not arbitrary Jinja.
func (m *Model) ApplyChatTemplate(tmpl string, msgs []model.Message, addAssistant bool) (string, error) {
	if tmpl == "" {
		tmpl = m.ChatTemplate()
		if tmpl == "" {
			return "", errors.New("apply chat template: the model has no chat template; pass one")
		}
	}
	ctmpl := C.CString(tmpl)
	defer C.free(unsafe.Pointer(ctmpl))
	cmsgs := make([]C.struct_llama_chat_message, len(msgs)+1) // +1: never an empty slice
	size := 256
	for i, msg := range msgs {
		cmsgs[i].role = C.CString(msg.Role)
		cmsgs[i].content = C.CString(msg.Content)
		defer C.free(unsafe.Pointer(cmsgs[i].role))
		defer C.free(unsafe.Pointer(cmsgs[i].content))
		size += 2 * (len(msg.Role) + len(msg.Content))
	}
	for {
		buf := C.malloc(C.size_t(size))
		n := C.llama_chat_apply_template(ctmpl, &cmsgs[0], C.size_t(len(msgs)), C.bool(addAssistant), (*C.char)(buf), C.int32_t(size))
		var out string
		if n >= 0 && int(n) <= size {
			out = C.GoStringN((*C.char)(buf), n)
		}
		C.free(buf)
		switch {
		case n < 0:
			return "", errors.New("apply chat template: llama.cpp does not support this template")
		case int(n) <= size:
			return out, nil
		}
		size = int(n)
	}
}

// SameVocab returns nil when a and b have identical token lists and token types, which is what
// scoring one model's tokens with the other needs; otherwise the error names the first difference.
func SameVocab(a, b *Model) error {
	i := int(C.atod_vocab_diff(a.vocab, b.vocab))
	switch {
	case i < 0:
		return nil
	case i >= a.nVocab || i >= b.nVocab:
		return fmt.Errorf("vocabularies differ: %d vs %d tokens", a.nVocab, b.nVocab)
	default:
		return fmt.Errorf("vocabularies differ at token %d: %q vs %q", i, a.TokenPiece(int32(i)), b.TokenPiece(int32(i)))
	}
}
