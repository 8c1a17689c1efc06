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

// TeacherVocab checks that teacher can score every token student may emit:
// both vocabularies agree on every id the student has (text and type), and any
// ids the teacher has past those are padding, unused by type or by name (as
// Qwen2.5-7B's 152,064 ids pad the 151,936 of the smaller Qwen2.5 models). It
// returns the number of padding ids; an error names the first real difference.
func TeacherVocab(student, teacher *Model) (padding int, err error) {
	ns, nt := student.nVocab, teacher.nVocab
	if ns > nt {
		return 0, fmt.Errorf("the student's vocabulary (%d tokens) extends the teacher's (%d): the student could emit ids the teacher cannot score", ns, nt)
	}
	if i := int(C.atod_vocab_diff(student.vocab, teacher.vocab)); i >= 0 && i < ns {
		return 0, fmt.Errorf("vocabularies differ at token %d: %q vs %q", i, student.TokenPiece(int32(i)), teacher.TokenPiece(int32(i)))
	}
	for i := ns; i < nt; i++ {
		if !teacher.isPadding(int32(i)) {
			return 0, fmt.Errorf("vocabularies differ: the teacher's token %d %q is past the student's %d tokens and is not padding", i, teacher.TokenPiece(int32(i)), ns)
		}
	}
	return nt - ns, nil
}

// isPadding says whether tok is an id no text tokenizes to: of type unused, or
// named as converters and model makers name padding ([PAD151665], <unused12>, <pad>).
func (m *Model) isPadding(tok int32) bool {
	if C.llama_vocab_get_attr(m.vocab, C.llama_token(tok))&C.LLAMA_TOKEN_ATTR_UNUSED != 0 {
		return true
	}
	name := strings.ToLower(C.GoString(C.llama_vocab_get_text(m.vocab, C.llama_token(tok))))
	for _, p := range []string{"[pad", "<pad", "<|pad", "<unused", "<|unused", "[unused"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
