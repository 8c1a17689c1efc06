package llama_test

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atod-dev/atod/cgo/llama"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/tinymodel"
)

// rewrite is tinymodel.PadVocab, failing the test on an error.
func rewrite(t *testing.T, in, out string, pad int, w0 float32, edit func(name string, ne0 int, v []float32)) {
	t.Helper()
	if err := tinymodel.PadVocab(in, out, pad, w0, edit); err != nil {
		t.Fatal(err)
	}
}

// constDim holds residual dimension 0 at 10 for every token and layer: the
// embeddings set it, and no attention or FFN output writes to it. The output
// norm then gives it a large positive value everywhere, so an output row of
// −100·e₀ is a logit far below every real token's.
func constDim(name string, ne0 int, v []float32) {
	switch {
	case name == "token_embd.weight":
		for r := 0; r < len(v)/ne0; r++ {
			v[r*ne0] = 10
		}
	case strings.HasSuffix(name, ".attn_output.weight"), strings.HasSuffix(name, ".ffn_down.weight"):
		clear(v[:ne0]) // the row that writes output dimension 0
	}
}

// A teacher padded past the student's vocabulary is accepted, and scores the
// student's tokens exactly as the unpadded teacher does when its padding rows'
// logits are very negative; a student longer than its teacher is refused.
func TestPaddedTeacherVocab(t *testing.T) {
	dir := t.TempDir()
	base, plain, padded := filepath.Join(dir, "base.gguf"), filepath.Join(dir, "plain.gguf"), filepath.Join(dir, "padded.gguf")
	if err := tinymodel.Write(base, tinymodel.DefaultOptions()); err != nil {
		t.Fatal(err)
	}
	rewrite(t, base, plain, 0, 0, constDim)
	rewrite(t, base, padded, 40, -100, constDim)                       // with dimension 0 held, logits hundreds below the real ones
	rewrite(t, base, filepath.Join(dir, "live.gguf"), 40, 0, constDim) // padding logits 0: they take probability
	s, p := loadModel(t, plain), loadModel(t, padded)
	if n, err := llama.TeacherVocab(s, p); err != nil || n != 40 {
		t.Fatalf("padded teacher: %d padding ids, %v", n, err)
	}
	_, err := llama.TeacherVocab(p, s)
	wantErr(t, "student longer than the teacher", err, "cannot score")

	score := func(m *llama.Model) []float32 { return scoreSentence(t, s, m) }
	worst := func(a, b []float32) float64 {
		d := 0.0
		for i := range a {
			d = max(d, math.Abs(float64(a[i]-b[i])))
		}
		return d
	}
	a, b, live := score(s), score(p), score(loadModel(t, filepath.Join(dir, "live.gguf")))
	t.Logf("%d tokens: max |lp_plain − lp_padded| = %.2g; with padding logits 0: %.2g", len(a), worst(a, b), worst(a, live))
	if d := worst(a, b); d > 1e-5 {
		t.Errorf("padded teacher's log-probs differ by %g", d)
	}
	// The teacher's log-probs are over its whole vocabulary: padding that takes
	// probability lowers them.
	if d := worst(a, live); d < 1e-3 {
		t.Errorf("padding rows with logit 0 change the log-probs by only %g", d)
	}
}

// scoreSentence is m's log-probs of a fixed sentence as tok tokenizes it.
func scoreSentence(t *testing.T, tok, m *llama.Model) []float32 {
	t.Helper()
	toks, err := tok.Tokenize("the kitchen has a red apple on the table and a knife in drawer 2", false, false)
	if err != nil {
		t.Fatal(err)
	}
	res, err := newContext(t, m, 128, 1).Score([]model.ScoreRequest{{Tokens: toks, From: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return res[0].LogProbs
}
