package llama_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/tinymodel"
	"github.com/atod-dev/atod/tokenizer"
)

// llama3Files reads Llama 3's BPE files, which the pinned ollama module ships.
func llama3Files(t *testing.T) (enc, bpe []byte) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/ollama/ollama").Output()
	if err != nil {
		t.Skipf("the ollama module's directory: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "tokenizer", "testdata", "llama3.2")
	if enc, err = os.ReadFile(filepath.Join(dir, "encoder.json")); err == nil {
		bpe, err = os.ReadFile(filepath.Join(dir, "vocab.bpe"))
	}
	if err != nil {
		t.Fatal(err)
	}
	return enc, bpe
}

// A random model with Llama 3's real tokenizer tokenizes as Llama 3 does,
// round-trips text, and renders Llama 3's chat template with its specials.
func TestLlama3Vocabulary(t *testing.T) {
	enc, bpe := llama3Files(t)
	kvs, err := tokenizer.Llama3Vocab(enc, bpe)
	if err != nil {
		t.Fatal(err)
	}
	o := tinymodel.Options{Arch: "llama", Layers: 1, Embd: 32, Heads: 2, KVHeads: 1, FF: 64, Context: 256,
		VocabSize: 128256, Tied: true, F16: true, Seed: 1, RopeBase: 5e5, Vocab: kvs}
	path := filepath.Join(t.TempDir(), "llama3.gguf")
	if err := tinymodel.Write(path, o); err != nil {
		t.Fatal(err)
	}
	m := loadModel(t, path)
	if m.VocabSize() != 128256 {
		t.Fatalf("vocabulary of %d", m.VocabSize())
	}
	toks, err := m.Tokenize("Hello world", false, false)
	if err != nil || !reflect.DeepEqual(toks, []int32{9906, 1917}) {
		t.Errorf("Hello world → %v %v, want Llama 3's [9906 1917]", toks, err)
	}
	for _, text := range []string{"The kitchen has 2 red apples; put one in drawer 3.\n\tÜnïcödé ✓ 日本語", "  leading spaces and trailing  "} {
		toks, err := m.Tokenize(text, false, false)
		if err != nil {
			t.Fatal(err)
		}
		if back := m.Detokenize(toks, false); back != text {
			t.Errorf("round trip %q → %q", text, back)
		}
	}
	chat, err := m.ApplyChatTemplate("", []model.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "hi"}}, true)
	want := "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>" +
		"<|start_header_id|>assistant<|end_header_id|>\n\n"
	if err != nil || !strings.HasSuffix(chat, want) {
		t.Fatalf("chat template: %q %v\nwant %q", chat, err, want)
	}
	ct, _ := m.Tokenize(want, false, true)
	if ct[0] != 128006 || ct[2] != 128007 || !m.IsEOG(128009) || m.IsEOG(128006) {
		t.Errorf("specials: %v; <|eot_id|> ends generation %v", ct[:4], m.IsEOG(128009))
	}
}
