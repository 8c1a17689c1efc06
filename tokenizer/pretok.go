package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// Split cuts text into the pieces BPE works on, exactly as llama.cpp's "qwen2"
// pre-tokenizer does, whose regex is
//
//	(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|
//	 ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// The matcher follows llama.cpp's hand-written one for the llama3 regex
// (unicode.cpp, unicode_regex_split_custom_llama3), with digits taken one at
// a time and unassigned code points counted as "other", as the regex does.
// Text is read as llama.cpp reads it (see Normalize), so the pieces
// concatenate to Normalize(text): to text itself when it is valid UTF-8.
func Split(text string) []string {
	rs := decodeRunes(text)
	n := len(rs)
	cpt := func(p int) rune {
		if p < n {
			return rs[p]
		}
		return -1
	}
	letter := func(p int) bool { return p < n && unicode.IsLetter(rs[p]) }
	number := func(p int) bool { return p < n && unicode.IsNumber(rs[p]) }
	space := func(p int) bool { return p < n && unicode.IsSpace(rs[p]) }
	other := func(p int) bool {
		return p < n && !unicode.IsSpace(rs[p]) && !unicode.IsLetter(rs[p]) && !unicode.IsNumber(rs[p])
	}
	lower := func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	var out []string
	prev := 0
	add := func(end int) int {
		l := end - prev
		if l > 0 {
			out = append(out, encodeRunes(rs[prev:end]))
		}
		prev = end
		return l
	}
	for pos := 0; pos < n; {
		c := rs[pos]
		// (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])
		if c == '\'' && pos+1 < n {
			c1 := lower(cpt(pos + 1))
			if c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd' {
				pos += add(pos + 2)
				continue
			}
			if pos+2 < n {
				c2 := lower(cpt(pos + 2))
				if (c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l') {
					pos += add(pos + 3)
					continue
				}
			}
		}
		// [^\r\n\p{L}\p{N}]?\p{L}+
		if !(c == '\r' || c == '\n' || number(pos)) && (letter(pos) || letter(pos+1)) {
			pos++
			for letter(pos) {
				pos++
			}
			add(pos)
			continue
		}
		// \p{N}
		if number(pos) {
			pos++
			add(pos)
			continue
		}
		// <space>?[^\s\p{L}\p{N}]+[\r\n]*
		p2 := pos
		if c == ' ' {
			p2 = pos + 1
		}
		if other(p2) {
			pos = p2
			for other(pos) {
				pos++
			}
			for c2 := cpt(pos); c2 == '\r' || c2 == '\n'; c2 = cpt(pos) {
				pos++
			}
			add(pos)
			continue
		}
		nws, lastNL := 0, 0
		for space(pos + nws) {
			if c2 := cpt(pos + nws); c2 == '\r' || c2 == '\n' {
				lastNL = pos + nws + 1
			}
			nws++
		}
		switch {
		case lastNL > 0: // \s*[\r\n]+
			pos = lastNL
		case nws > 1 && pos+nws < n: // \s+(?!\S)
			pos += nws - 1
		case nws > 0: // \s+
			pos += nws
		default: // unreachable: every code point is a letter, number, space or other
			pos++
		}
		add(pos)
	}
	return out
}

// Normalize returns text as llama.cpp's tokenizer reads it: a byte that does
// not start a well-formed sequence becomes U+FFFD, while overlong forms and
// surrogates decode leniently (unicode_cpts_from_utf8) and are written back
// in shortest form. Valid UTF-8 is unchanged.
//
// llama_tokenize aborts the process (uncaught std::invalid_argument) on a
// 4-byte sequence above U+10FFFF, such as "\xf4\x90\x80\x80"; Normalize
// turns it into U+FFFD, so its output is safe to pass to llama_tokenize.
func Normalize(text string) string { return encodeRunes(decodeRunes(text)) }

func decodeRunes(s string) []rune {
	out := make([]rune, 0, len(s))
	cont := func(i int) bool { return i < len(s) && s[i]&0xc0 == 0x80 }
	for i := 0; i < len(s); {
		c := rune(s[i])
		switch {
		case c < 0x80:
			out = append(out, c)
			i++
			continue
		case c&0x40 == 0: // stray continuation byte
		case c&0x20 == 0:
			if cont(i + 1) {
				out = append(out, (c&0x1f)<<6|rune(s[i+1]&0x3f))
				i += 2
				continue
			}
		case c&0x10 == 0:
			if cont(i+1) && cont(i+2) {
				out = append(out, (c&0x0f)<<12|rune(s[i+1]&0x3f)<<6|rune(s[i+2]&0x3f))
				i += 3
				continue
			}
		case c&0x08 == 0:
			if cont(i+1) && cont(i+2) && cont(i+3) {
				r := (c&0x07)<<18 | rune(s[i+1]&0x3f)<<12 | rune(s[i+2]&0x3f)<<6 | rune(s[i+3]&0x3f)
				if r > unicode.MaxRune {
					r = utf8.RuneError // llama.cpp aborts on these: see Normalize
				}
				out = append(out, r)
				i += 4
				continue
			}
		}
		out = append(out, utf8.RuneError)
		i++
	}
	return out
}

// encodeRunes writes code points as UTF-8, surrogates included (as llama.cpp's
// unicode_cpt_to_utf8 does; Go's encoder would replace them).
func encodeRunes(rs []rune) string {
	b := make([]byte, 0, len(rs))
	for _, r := range rs {
		if 0xd800 <= r && r <= 0xdfff {
			b = append(b, byte(0xe0|r>>12), byte(0x80|(r>>6)&0x3f), byte(0x80|r&0x3f))
			continue
		}
		b = utf8.AppendRune(b, r)
	}
	return string(b)
}
