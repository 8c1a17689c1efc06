package tokenizer

// byteToUnicode is GPT-2's bytes_to_unicode: printable Latin-1 bytes map to
// themselves, the other bytes to U+0100 onwards, so every token text is
// printable and has no spaces (a merge is "left right").
var byteToUnicode [256]string

var unicodeToByte = map[rune]byte{}

func init() {
	n := 0
	for b := 0; b < 256; b++ {
		r := rune(b)
		if !('!' <= b && b <= '~' || 0xa1 <= b && b <= 0xac || 0xae <= b && b <= 0xff) {
			r = rune(256 + n)
			n++
		}
		byteToUnicode[b] = string(r)
		unicodeToByte[r] = byte(b)
	}
}

// bytesToUnicode maps raw bytes to token text.
func bytesToUnicode(b []byte) string {
	s := make([]byte, 0, 2*len(b))
	for _, c := range b {
		s = append(s, byteToUnicode[c]...)
	}
	return string(s)
}

// unicodeToBytes maps token text back to raw bytes.
func unicodeToBytes(s string) ([]byte, bool) {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		c, ok := unicodeToByte[r]
		if !ok {
			return nil, false
		}
		b = append(b, c)
	}
	return b, true
}
