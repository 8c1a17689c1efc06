package llama_test

import (
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atod-dev/atod/cgo/llama"
	"github.com/atod-dev/atod/gguf"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/tinymodel"
)

func wantErr(t *testing.T, what string, err error, contains string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
	} else if !strings.Contains(err.Error(), contains) {
		t.Errorf("%s: error %q does not mention %q", what, err, contains)
	}
}

func TestLoadBadFiles(t *testing.T) {
	dir := t.TempDir()
	_, err := llama.LoadModel(filepath.Join(dir, "missing.gguf"), llama.ModelParams{})
	wantErr(t, "missing file", err, "no such file")

	garbage := make([]byte, 4096)
	rand.New(rand.NewSource(1)).Read(garbage)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	_, err = llama.LoadModel(write("garbage.gguf", garbage), llama.ModelParams{})
	wantErr(t, "garbage", err, "not a valid GGUF")

	good, err := os.ReadFile(tinyPath)
	if err != nil {
		t.Fatal(err)
	}
	_, err = llama.LoadModel(write("half.gguf", good[:len(good)/2]), llama.ModelParams{})
	wantErr(t, "truncated data", err, "truncated")
	_, err = llama.LoadModel(write("header.gguf", good[:100]), llama.ModelParams{})
	wantErr(t, "truncated header", err, "not a valid GGUF")
	_, err = llama.LoadModel(write("empty.gguf", nil), llama.ModelParams{})
	wantErr(t, "empty file", err, "not a valid GGUF")

	w := gguf.NewWriter()
	w.Set("general.architecture", "nosucharch")
	w.AddTensor("token_embd.weight", gguf.F32, []uint64{4, 2}, make([]byte, 32))
	unknown := filepath.Join(dir, "unknown.gguf")
	if err := w.WriteFile(unknown); err != nil {
		t.Fatal(err)
	}
	_, err = llama.LoadModel(unknown, llama.ModelParams{})
	wantErr(t, "unknown architecture", err, "nosucharch")

	_, err = llama.LoadModel(tinyPath, llama.ModelParams{Backend: "tpu"})
	wantErr(t, "unknown backend", err, "unknown backend")
	if _, err := llama.LoadModel(tinyPath, llama.ModelParams{Backend: "cuda"}); err != nil {
		wantErr(t, "cuda without a CUDA device", err, "make cuda")
	}

	auto, err := llama.LoadModel(tinyPath, llama.ModelParams{}) // "auto": a GPU if registered, else the CPU
	if err != nil {
		t.Fatalf("auto backend: %v", err)
	}
	auto.Close()

	m := loadModel(t, tinyPath) // the process is fine after all that
	if m.VocabSize() != tinymodel.DefaultOptions().VocabSize || m.Arch() != "llama" || m.NParams() != tinymodel.DefaultOptions().NParams() {
		t.Errorf("model: vocab %d, arch %s, %d params", m.VocabSize(), m.Arch(), m.NParams())
	}
}

func TestTeacherVocab(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, o tinymodel.Options) *llama.Model {
		p := filepath.Join(dir, name)
		if err := tinymodel.Write(p, o); err != nil {
			t.Fatal(err)
		}
		return loadModel(t, p)
	}
	a := loadModel(t, tinyPath)
	o := tinymodel.DefaultOptions()
	o.Seed, o.Layers = 9, 2 // other weights and depth, same tokenizer
	if n, err := llama.TeacherVocab(a, write("same.gguf", o)); err != nil || n != 0 {
		t.Errorf("same tokenizer: %d padding ids, %v", n, err)
	}
	o.VocabSize = 600 // real tokens past the student's: not padding
	_, err := llama.TeacherVocab(a, write("bigger.gguf", o))
	wantErr(t, "bigger vocabulary", err, "not padding")
	o = tinymodel.DefaultOptions()
	o.Corpus = strings.Repeat("zebras quickly juggle vexing wizards; 0123456789 jumps. ", 40)
	_, err = llama.TeacherVocab(a, write("corpus.gguf", o))
	wantErr(t, "other corpus", err, "differ at token")
}

func TestBadRequests(t *testing.T) {
	m := loadModel(t, tinyPath)
	c := newContext(t, m, 64, 2)
	long := make([]int32, 65)
	for i := range long {
		long[i] = int32(300 + i)
	}
	ok := []int32{257, 300, 301}
	gen := func(reqs ...model.GenRequest) error { _, err := c.Generate(reqs); return err }
	wantErr(t, "prompt longer than the context", gen(model.GenRequest{Prompt: long}), "does not fit the context of 64 tokens")
	wantErr(t, "empty prompt", gen(model.GenRequest{}), "empty prompt")
	wantErr(t, "token id too large", gen(model.GenRequest{Prompt: []int32{257, int32(m.VocabSize())}}), "not in the vocabulary")
	wantErr(t, "negative token id", gen(model.GenRequest{Prompt: []int32{-1}}), "not in the vocabulary")
	wantErr(t, "sequence out of range", gen(model.GenRequest{Seq: 2, Prompt: ok}), "out of range")
	wantErr(t, "same sequence twice", gen(model.GenRequest{Prompt: ok}, model.GenRequest{Prompt: ok}), "twice")
	wantErr(t, "bad sampling", gen(model.GenRequest{Prompt: ok, Sampling: model.Sampling{TopP: 1.5}}), "invalid sampling")

	score := func(r model.ScoreRequest) error { _, err := c.Score([]model.ScoreRequest{r}); return err }
	wantErr(t, "score too long", score(model.ScoreRequest{Tokens: long, From: 1}), "do not fit the context")
	wantErr(t, "score From 0", score(model.ScoreRequest{Tokens: ok, From: 0}), "From")
	wantErr(t, "score bad token", score(model.ScoreRequest{Tokens: []int32{1, 1 << 20}, From: 1}), "not in the vocabulary")
	wantErr(t, "score mask length", score(model.ScoreRequest{Tokens: ok, From: 1, Mask: []bool{true}}), "mask of 1 for 3 tokens")

	// A generation that reaches the end of the context stops there.
	res, err := c.Generate([]model.GenRequest{{Prompt: long[:60], Sampling: model.Sampling{Temperature: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if g := res[0]; g.Stop != "eog" && (g.Stop != "context" || len(g.Tokens) != 5) {
		t.Errorf("at the context's end: stop %q after %d tokens", g.Stop, len(g.Tokens))
	}
}

// llama.cpp's tokenizer aborts the process on some invalid UTF-8; Tokenize must not.
func TestTokenizeInvalidUTF8(t *testing.T) {
	m := loadModel(t, tinyPath)
	for _, s := range []string{"\xf4\x90\x80\x80", "ok \xff\xfe go to \xed\xa0\x80 cabinet", "\xc0"} {
		toks, err := m.Tokenize(s, false, true)
		if err != nil {
			t.Fatalf("tokenize %q: %v", s, err)
		}
		if got, want := m.Detokenize(toks, false), strings.ToValidUTF8(s, "\uFFFD"); got != want {
			t.Errorf("tokenize %q: round trip gives %q, want %q", s, got, want)
		}
	}
}
