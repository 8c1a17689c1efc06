package tokenizer

import (
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/atod-dev/atod/gguf"
)

const mixed = "Hello, world! It's 2024-07-14; price $39.99 (x3). <think>go to cabinet 1</think>\n" +
	"<action>search[red shoes]</action>  \n\n  <answer>Paris</answer> café über 日本語 \t tabs\nDON'T we'll\r\n"

func TestSplit(t *testing.T) {
	// hand-split by the qwen2 regex
	cases := map[string][]string{
		"Hello, world! It's 123  ok\n\nx":  {"Hello", ",", " world", "!", " It", "'s", " ", "1", "2", "3", " ", " ok", "\n\n", "x"},
		"<action>go to cabinet 1</action>": {"<action", ">go", " to", " cabinet", " ", "1", "</", "action", ">"},
		"a  \n  b   ":                      {"a", "  \n", " ", " b", "   "},
		"DON'T we'LL x'Ve":                 {"DON", "'T", " we", "'LL", " x", "'Ve"},
		" ... !?\n\n.":                     {" ...", " !?\n\n", "."},
		"café日本":                           {"café日本"},
		"":                                 nil,
	}
	for in, want := range cases {
		if got := Split(in); !reflect.DeepEqual(got, want) {
			t.Errorf("Split(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSplitCoversText(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "Z", "7", " ", "  ", "\n", "\r", "\t", "'", "s", ".", "<", "é", "日", "\xff", "\xe6\x97", "\u00a0"}
	for i := 0; i < 2000; i++ {
		var b strings.Builder
		for j := rng.IntN(20); j > 0; j-- {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		s := b.String()
		parts := Split(s)
		if strings.Join(parts, "") != Normalize(s) {
			t.Fatalf("Split(%q) = %q does not cover the text", s, parts)
		}
		for _, p := range parts {
			if p == "" {
				t.Fatalf("Split(%q) has an empty piece", s)
			}
		}
	}
}

func TestNormalize(t *testing.T) {
	// as llama.cpp tokenizes them (checked against llama_tokenize)
	for in, want := range map[string]string{
		"plain é 日 😀":       "plain é 日 😀",
		"\xc0\x80":          "\x00",          // overlong NUL, decoded leniently
		"\xed\xa0\x80":      "\xed\xa0\x80",  // surrogate kept
		"a\xe6\x97":         "a\ufffd\ufffd", // truncated sequence: one U+FFFD per byte
		"\xff\x80b":         "\ufffd\ufffdb",
		"\xf4\x90\x80\x80x": "\ufffdx", // above U+10FFFF: llama.cpp would abort
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTrainHandComputed(t *testing.T) {
	// one pre-token "abababab": pairs a·b ×4, b·a ×3 → merge "ab";
	// then ab·ab ×3 → merge "abab".
	tk, err := Train("abababab", MinVocab+2)
	if err != nil {
		t.Fatal(err)
	}
	if got := tk.Tokens[MinVocab:]; !reflect.DeepEqual(got, []string{"ab", "abab"}) {
		t.Fatalf("learned tokens %q", got)
	}
	if !reflect.DeepEqual(tk.Merges, []string{"a b", "ab ab"}) {
		t.Fatalf("merges %q", tk.Merges)
	}
	ab, abab := int32(MinVocab), int32(MinVocab+1)
	for in, want := range map[string][]int32{
		"ababab": {abab, ab}, // "abab" first (left), then "ab"
		"aba":    {ab, 'a'},
		"ba":     {'b', 'a'},
		"ab ab":  {ab, ' ', ab}, // " ab" is its own pre-token; " ·a" was never merged
	} {
		if got := tk.Encode(in, false); !reflect.DeepEqual(got, want) {
			t.Errorf("Encode(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestTrainProperties(t *testing.T) {
	corpus := strings.Repeat(mixed, 3) + "the cat sat on the mat; the dog sat on the log."
	a, err := Train(corpus, 400)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Train(corpus, 400)
	if !reflect.DeepEqual(a.Tokens, b.Tokens) || !reflect.DeepEqual(a.Merges, b.Merges) {
		t.Fatal("training is not deterministic")
	}
	if len(a.Tokens) != 400 || len(a.Types) != 400 {
		t.Fatalf("%d tokens", len(a.Tokens))
	}
	for i, s := range Specials {
		if a.Tokens[256+i] != s || a.Types[256+i] != TypeControl {
			t.Errorf("special %d is %q type %d", 256+i, a.Tokens[256+i], a.Types[256+i])
		}
	}
	if a.BOS != 256 || a.EOS != 258 || a.EOT != 258 {
		t.Errorf("bos %d eos %d eot %d", a.BOS, a.EOS, a.EOT)
	}
	// the most frequent words became single tokens
	for _, w := range []string{" the", " sat", "action"} {
		if ids := a.Encode(w, false); len(ids) != 1 {
			t.Errorf("%q → %v, want one token", w, ids)
		}
	}
	// a corpus with few pairs is padded with unused tokens
	small, err := Train("abc", 300)
	if err != nil {
		t.Fatal(err)
	}
	if len(small.Tokens) != 300 || small.Types[299] != TypeUnused || small.Decode([]int32{299}) != "" {
		t.Errorf("padding: %d tokens, last %q type %d", len(small.Tokens), small.Tokens[299], small.Types[299])
	}
	for _, c := range []string{"", "<|im_end|>", " \n "} { // no pairs at all
		if tk, err := Train(c, 270); err != nil || len(tk.Tokens) != 270 {
			t.Errorf("corpus %q: %v", c, err)
		}
	}
	if _, err := Train("x", MinVocab-1); err == nil {
		t.Error("vocabulary below the minimum accepted")
	}
}

func TestEncodeDecode(t *testing.T) {
	tk, err := Train(mixed+"go to cabinet 1, go to drawer 2", 600)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{mixed, "", "x", "\xff\xfe invalid \xe6\x97", "unseen words: zebra quokka 98765"} {
		ids := tk.Encode(s, false)
		if got := tk.Decode(ids); got != Normalize(s) {
			t.Errorf("round trip of %q gave %q", s, got)
		}
		if len(s) > 20 && len(ids) >= len(s) {
			t.Errorf("%q: %d tokens for %d bytes, merges unused", s, len(ids), len(s))
		}
	}
	chat := "<|im_start|>user\nhi<|im_end|>\n<|endoftext|>"
	ids := tk.Encode(chat, true)
	if ids[0] != tk.ID(ImStart) || ids[len(ids)-1] != tk.BOS || !contains32(ids, tk.EOS) {
		t.Errorf("special parse: %v", ids)
	}
	if tk.Decode(ids) != chat {
		t.Errorf("special round trip: %q", tk.Decode(ids))
	}
	if plain := tk.Encode(chat, false); contains32(plain, tk.EOS) || tk.Decode(plain) != chat {
		t.Errorf("specials parsed without parseSpecial: %v", plain)
	}
}

func contains32(s []int32, x int32) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func TestNewRejects(t *testing.T) {
	tk, _ := Train("hello hello", 270)
	cases := map[string]func(tokens []string, types []int32, merges []string) ([]string, []int32, []string){
		"duplicate": func(to []string, ty []int32, m []string) ([]string, []int32, []string) {
			to[300-40] = to[5]
			return to, ty, m
		},
		"missing byte": func(to []string, ty []int32, m []string) ([]string, []int32, []string) {
			to[65] = "<|x|>"
			ty[65] = TypeControl
			return to, ty, m
		},
		"bad merge": func(to []string, ty []int32, m []string) ([]string, []int32, []string) {
			return to, ty, append(m, "q z")
		},
		"types length": func(to []string, ty []int32, m []string) ([]string, []int32, []string) {
			return to, ty[1:], m
		},
	}
	for name, edit := range cases {
		to := append([]string(nil), tk.Tokens...)
		ty := append([]int32(nil), tk.Types...)
		m := append([]string(nil), tk.Merges...)
		if _, err := New(edit(to, ty, m)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestGGUFRoundTrip(t *testing.T) {
	tk, _ := Train(mixed, 500)
	w := gguf.NewWriter()
	w.Set("general.architecture", "llama")
	tk.SetKV(w)
	path := filepath.Join(t.TempDir(), "t.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	back, err := FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Tokens, tk.Tokens) || !reflect.DeepEqual(back.Merges, tk.Merges) ||
		!reflect.DeepEqual(back.Encode(mixed, true), tk.Encode(mixed, true)) {
		t.Error("tokenizer changed through GGUF")
	}
	for key, want := range map[string]any{
		"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "qwen2",
		"tokenizer.ggml.bos_token_id": uint32(256), "tokenizer.ggml.eos_token_id": uint32(258),
		"tokenizer.ggml.eot_token_id": uint32(258), "tokenizer.ggml.add_bos_token": false,
	} {
		if got, _ := f.Get(key); got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	if tmpl, _ := f.Get("tokenizer.chat_template"); !strings.Contains(tmpl.(string), "<|im_start|>") {
		t.Error("chat template is not chatml")
	}
	w.Set("tokenizer.ggml.pre", "llama3") // another split: must be refused
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if f, err = gguf.Open(path); err != nil {
		t.Fatal(err)
	}
	if _, err := FromGGUF(f); err == nil {
		t.Error("llama3 pre-tokenizer accepted")
	}
}

func TestUserDefinedTokens(t *testing.T) {
	base, _ := Train(mixed, 300)
	tk, err := New(append(base.Tokens[:300:300], "<think>"), append(base.Types[:300:300], TypeUserDefined), base.Merges)
	if err != nil {
		t.Fatal(err)
	}
	for _, special := range []bool{false, true} { // parsed with or without parseSpecial, as llama.cpp does
		ids := tk.Encode("a<think>b<|im_end|>", special)
		if !contains32(ids, 300) || contains32(ids, tk.EOS) != special {
			t.Errorf("parseSpecial=%v: %v", special, ids)
		}
		if got := tk.Decode(ids); got != "a<think>b<|im_end|>" {
			t.Errorf("decode %q", got)
		}
	}
}

// FuzzEncode: any bytes encode and decode back to themselves as llama.cpp
// reads them; valid UTF-8 exactly.
func FuzzEncode(f *testing.F) {
	tk, err := Train(mixed, 400)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(mixed)
	f.Add("<|im_start|>\xff\n\n  x")
	f.Fuzz(func(t *testing.T, s string) {
		for _, special := range []bool{false, true} {
			if got := tk.Decode(tk.Encode(s, special)); got != Normalize(s) {
				t.Fatalf("parseSpecial=%v: %q → %q", special, s, got)
			}
		}
		if strings.Join(Split(s), "") != Normalize(s) {
			t.Fatalf("Split(%q) does not cover the text", s)
		}
		if utf8.ValidString(s) && Normalize(s) != s {
			t.Fatalf("Normalize changed valid text %q", s)
		}
	})
}
