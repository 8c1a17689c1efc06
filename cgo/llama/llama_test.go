package llama_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atod-dev/atod/cgo/llama"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/tinymodel"
)

// tinyPath is the default tiny model (f32 llama, vocab ~512), written once for all tests.
var tinyPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "atod-llama-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tinyPath = filepath.Join(dir, "tiny.gguf")
	if err := tinymodel.Write(tinyPath, tinymodel.DefaultOptions()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func loadModel(t testing.TB, path string) *llama.Model {
	t.Helper()
	// One thread: the test machine's cores are shared, and ggml's spinning workers crawl when oversubscribed.
	m, err := llama.LoadModel(path, llama.ModelParams{Backend: "cpu", Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func newContext(t testing.TB, m *llama.Model, nCtx, nSeq int) *llama.Context {
	t.Helper()
	c, err := m.NewContext(llama.ContextParams{NCtx: nCtx, NSeq: nSeq})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func tokenize(t testing.TB, m *llama.Model, text string) []int32 {
	t.Helper()
	toks, err := m.Tokenize(text, false, true)
	if err != nil {
		t.Fatal(err)
	}
	return toks
}

// chatPrompt renders a system+user conversation with the model's template, ready for the assistant.
func chatPrompt(t testing.TB, m *llama.Model, user string) []int32 {
	t.Helper()
	s, err := m.ApplyChatTemplate("", []model.Message{{Role: "system", Content: "You act in a house."}, {Role: "user", Content: user}}, true)
	if err != nil {
		t.Fatal(err)
	}
	return tokenize(t, m, s)
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

func concat(parts ...[]int32) []int32 {
	var out []int32
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestTokenizer(t *testing.T) {
	m := loadModel(t, tinyPath)
	for _, text := range []string{
		"The quick brown fox jumps over the lazy dog.",
		"  mixed: Ünïcödé ✓ 日本語, digits 12345, tabs\tand\nnewlines  ",
		"go to cabinet 3\n<action>take apple</action>",
	} {
		toks, err := m.Tokenize(text, false, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Detokenize(toks, false); got != text {
			t.Errorf("round trip: got %q, want %q", got, text)
		}
		var pieces strings.Builder
		for _, tok := range toks {
			pieces.WriteString(m.TokenPiece(tok))
		}
		if pieces.String() != text {
			t.Errorf("pieces: got %q, want %q", pieces.String(), text)
		}
	}

	for _, special := range []string{"<|im_start|>", "<|im_end|>", "<|endoftext|>"} {
		toks := tokenize(t, m, special)
		if len(toks) != 1 || m.TokenPiece(toks[0]) != special {
			t.Errorf("%s: got tokens %v, want one token", special, toks)
		}
		plain, err := m.Tokenize(special, false, false) // not parsed: plain text
		if err != nil || len(plain) < 2 {
			t.Errorf("%s without parseSpecial: got %v, %v; want several tokens", special, plain, err)
		}
		if m.Detokenize(toks, false) != "" || m.Detokenize(toks, true) != special {
			t.Errorf("%s: renderSpecial not honoured", special)
		}
	}
	imEnd := tokenize(t, m, "<|im_end|>")[0]
	if m.EOS() != imEnd || !m.IsEOG(imEnd) {
		t.Errorf("EOS = %d, want <|im_end|> = %d and end of generation", m.EOS(), imEnd)
	}
	if m.IsEOG(tokenize(t, m, "fox")[0]) || m.IsEOG(-1) || m.IsEOG(int32(m.VocabSize())) {
		t.Error("IsEOG true for a normal or invalid token")
	}
	if bos := m.BOS(); bos != tokenize(t, m, "<|endoftext|>")[0] {
		t.Errorf("BOS = %d, want <|endoftext|>", bos)
	}
	withSpecial, _ := m.Tokenize("fox", true, false) // add_bos_token is false in tiny models
	if len(withSpecial) != len(tokenize(t, m, "fox")) {
		t.Errorf("addSpecial added tokens although the model's add_bos_token is false: %v", withSpecial)
	}
	if m.Detokenize([]int32{-5}, false) != "\uFFFD" {
		t.Error("invalid token id not rendered as U+FFFD")
	}
}

func TestChatTemplate(t *testing.T) {
	m := loadModel(t, tinyPath)
	if !strings.Contains(m.ChatTemplate(), "<|im_start|>") {
		t.Fatalf("model template is not chatml: %q", m.ChatTemplate())
	}
	msgs := []model.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi?"}, {Role: "assistant", Content: "Hello."}}
	got, err := m.ApplyChatTemplate("", msgs, false)
	if err != nil {
		t.Fatal(err)
	}
	want := "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n"
	if got != want {
		t.Errorf("chatml:\ngot  %q\nwant %q", got, want)
	}
	got, _ = m.ApplyChatTemplate("", msgs[:2], true)
	if !strings.HasSuffix(got, "<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n") {
		t.Errorf("addAssistant: got %q", got)
	}
	got, err = m.ApplyChatTemplate("llama3", msgs, false) // override by name
	if err != nil || !strings.Contains(got, "<|start_header_id|>user<|end_header_id|>\n\nHi?<|eot_id|>") {
		t.Errorf("llama3 override: got %q, %v", got, err)
	}
	if _, err := m.ApplyChatTemplate("{{ no such template }}", msgs, false); err == nil {
		t.Error("unknown template: no error")
	}
}

func TestGenerateReproducible(t *testing.T) {
	m := loadModel(t, tinyPath)
	c := newContext(t, m, 256, 2)
	prompt := chatPrompt(t, m, "Find the apple.")
	run := func(seq int, s model.Sampling) model.GenResult {
		t.Helper()
		c.ClearAll()
		res, err := c.Generate([]model.GenRequest{{Seq: seq, Prompt: prompt, Sampling: s}})
		if err != nil {
			t.Fatal(err)
		}
		return res[0]
	}
	s := model.Sampling{Temperature: 1, Seed: 42, MaxTokens: 32}
	a, b := run(0, s), run(1, s)
	if fmt.Sprint(a.Tokens) != fmt.Sprint(b.Tokens) || maxAbsDiff(a.LogProbs, b.LogProbs) > 1e-5 {
		t.Errorf("same seed, different results:\n%v\n%v", a.Tokens, b.Tokens)
	}
	s.Seed = 43
	if other := run(0, s); fmt.Sprint(other.Tokens) == fmt.Sprint(a.Tokens) {
		t.Errorf("seeds 42 and 43 gave the same %d tokens", len(a.Tokens))
	}
	if len(a.Tokens) != len(a.LogProbs) || len(a.Tokens) != len(a.Entropies) || a.Text != m.Detokenize(a.Tokens, false) {
		t.Errorf("result lengths or text inconsistent: %+v", a)
	}
	switch {
	case a.Stop == "length" && len(a.Tokens) == 32:
	case a.Stop == "eog" && m.IsEOG(a.Tokens[len(a.Tokens)-1]):
	default:
		t.Errorf("stop %q after %d tokens", a.Stop, len(a.Tokens))
	}

	// TopK 1 and a tiny TopP keep only the best token: both are greedy decoding.
	greedy := run(0, model.Sampling{MaxTokens: 16})
	for _, s := range []model.Sampling{{Temperature: 1, TopK: 1, Seed: 5, MaxTokens: 16}, {Temperature: 1.5, TopP: 1e-6, Seed: 6, MaxTokens: 16}} {
		if got := run(0, s); fmt.Sprint(got.Tokens) != fmt.Sprint(greedy.Tokens) {
			t.Errorf("%+v: got %v, want greedy %v", s, got.Tokens, greedy.Tokens)
		}
	}
}

// TestBatchMatchesAlone: 8 sequences generated together give the same tokens and log-probs as each
// generated alone in a fresh single-sequence context.
func TestBatchMatchesAlone(t *testing.T) {
	m := loadModel(t, tinyPath)
	samplings := []model.Sampling{
		{Temperature: 1}, {Temperature: 0.7}, {}, {Temperature: 1.3, TopK: 20},
		{Temperature: 1, TopP: 0.9}, {Temperature: 0.8, TopK: 50, TopP: 0.95}, {Temperature: 1}, {Temperature: 2, TopP: 0.5},
	}
	var reqs []model.GenRequest
	for i, s := range samplings {
		s.Seed = uint64(100 + i)
		s.MaxTokens = 24
		reqs = append(reqs, model.GenRequest{Seq: i, Prompt: chatPrompt(t, m, fmt.Sprintf("Task %d: put %d mugs in the sink.", i, i+1)), Sampling: s})
	}
	batched, err := newContext(t, m, 128, 8).Generate(reqs)
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i, r := range reqs {
		r.Seq = 0
		alone, err := newContext(t, m, 128, 1).Generate([]model.GenRequest{r})
		if err != nil {
			t.Fatal(err)
		}
		a, b := alone[0], batched[i]
		worst = max(worst, maxAbsDiff(a.LogProbs, b.LogProbs))
		if fmt.Sprint(a.Tokens) != fmt.Sprint(b.Tokens) {
			t.Errorf("seq %d: batched %v, alone %v", i, b.Tokens, a.Tokens)
			continue
		}
		if d := maxAbsDiff(a.LogProbs, b.LogProbs); d > 1e-4 {
			t.Errorf("seq %d: log-probs differ by %g", i, d)
		}
		if d := maxAbsDiff(a.Entropies, b.Entropies); d > 1e-4 {
			t.Errorf("seq %d: entropies differ by %g", i, d)
		}
	}
	t.Logf("batched vs alone: max |Δ log-prob| = %.2g", worst)
}

// TestGenerateMatchesScore: the log-prob and entropy recorded while sampling equal those computed from
// scoring the finished sequence (entropy from the full distribution returned as top-k over the vocabulary).
func TestGenerateMatchesScore(t *testing.T) {
	m := loadModel(t, tinyPath)
	c := newContext(t, m, 256, 2)
	prompt := chatPrompt(t, m, "Open the fridge.")
	gen, err := c.Generate([]model.GenRequest{{Seq: 0, Prompt: prompt, Sampling: model.Sampling{Temperature: 0.9, TopK: 40, Seed: 7, MaxTokens: 40}}})
	if err != nil {
		t.Fatal(err)
	}
	g := gen[0]
	sc, err := c.Score([]model.ScoreRequest{{Seq: 1, Tokens: concat(prompt, g.Tokens), From: len(prompt), TopK: m.VocabSize()}})
	if err != nil {
		t.Fatal(err)
	}
	d := maxAbsDiff(g.LogProbs, sc[0].LogProbs)
	t.Logf("generation vs scoring: max |Δ log-prob| = %.2g over %d tokens", d, len(g.Tokens))
	if d > 1e-4 {
		t.Errorf("generation vs scoring log-probs: max |Δ| = %g", d)
	}
	for i, top := range sc[0].TopK {
		// H = −Σ p log p over the whole vocabulary; the top-k list is sorted best first.
		h, sum := 0.0, 0.0
		for j, e := range top {
			p := math.Exp(float64(e.LogProb))
			h -= p * float64(e.LogProb)
			sum += p
			if j > 0 && e.LogProb > top[j-1].LogProb {
				t.Fatalf("position %d: top-k not sorted", i)
			}
		}
		if math.Abs(sum-1) > 1e-4 || math.Abs(h-float64(g.Entropies[i])) > 1e-4 {
			t.Errorf("position %d: Σp = %g, entropy %g vs generated %g", i, sum, h, g.Entropies[i])
		}
		if top[0].LogProb < sc[0].LogProbs[i] {
			t.Errorf("position %d: best token less likely than the scored one", i)
		}
	}
}

// TestScoreMask: a masked request scores only its masked positions, with the same log-probs and
// top-k lists as scoring every position; the rest read 0 with no top-k list.
func TestScoreMask(t *testing.T) {
	m := loadModel(t, tinyPath)
	toks := concat(chatPrompt(t, m, "Heat the mug."), tokenize(t, m, "go to microwave 1, open it, heat mug"))
	from := 5
	mask := make([]bool, len(toks))
	for p := range mask {
		mask[p] = p%3 == 0 || p == len(toks)-1
	}
	all, err := newContext(t, m, 128, 1).Score([]model.ScoreRequest{{Tokens: toks, From: from, TopK: 4}})
	if err != nil {
		t.Fatal(err)
	}
	some, err := newContext(t, m, 128, 1).Score([]model.ScoreRequest{{Tokens: toks, From: from, TopK: 4, Mask: mask}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := all[0], some[0]
	if len(b.LogProbs) != len(a.LogProbs) || len(b.TopK) != len(a.TopK) || b.Decoded != a.Decoded {
		t.Fatalf("masked result: %d log-probs, %d top-k lists, %d decoded; want %d, %d, %d",
			len(b.LogProbs), len(b.TopK), b.Decoded, len(a.LogProbs), len(a.TopK), a.Decoded)
	}
	scored := 0
	for j := range a.LogProbs {
		if !mask[from+j] {
			if b.LogProbs[j] != 0 || b.TopK[j] != nil {
				t.Errorf("position %d left out but scored: %v %v", from+j, b.LogProbs[j], b.TopK[j])
			}
			continue
		}
		scored++
		if d := math.Abs(float64(a.LogProbs[j] - b.LogProbs[j])); d > 1e-5 {
			t.Errorf("position %d: masked %v, unmasked %v", from+j, b.LogProbs[j], a.LogProbs[j])
		}
		for k := range a.TopK[j] {
			if a.TopK[j][k].Token != b.TopK[j][k].Token || math.Abs(float64(a.TopK[j][k].LogProb-b.TopK[j][k].LogProb)) > 1e-5 {
				t.Errorf("position %d: top-k %v, unmasked %v", from+j, b.TopK[j], a.TopK[j])
				break
			}
		}
	}
	if scored < 3 {
		t.Fatalf("only %d positions scored", scored)
	}
}

// TestSamplerFrequencies: first tokens drawn with many seeds follow the distribution computed by hand
// from the scored log-probs: keep the TopK best, take p_T ∝ p^(1/T), keep the smallest best-first set
// holding TopP of that mass, renormalise. (Each call's requests share the prompt, decoded once.)
func TestSamplerFrequencies(t *testing.T) {
	m := loadModel(t, tinyPath)
	const nSeq, rounds = 64, 16
	c := newContext(t, m, 64, nSeq)
	prompt := chatPrompt(t, m, "Go.")
	sc, err := c.Score([]model.ScoreRequest{{Seq: 0, Tokens: concat(prompt, []int32{0}), From: len(prompt), TopK: m.VocabSize()}})
	if err != nil {
		t.Fatal(err)
	}
	dist := sc[0].TopK[0] // best first
	for _, s := range []model.Sampling{{Temperature: 0.7}, {Temperature: 1, TopK: 3}, {Temperature: 1.5, TopP: 0.3}, {Temperature: 0.9, TopK: 40, TopP: 0.6}} {
		kept := dist
		if s.TopK > 0 {
			kept = kept[:s.TopK]
		}
		pT := make([]float64, len(kept))
		total := 0.0
		for i, e := range kept {
			pT[i] = math.Exp(float64(e.LogProb) / float64(s.Temperature))
			total += pT[i]
		}
		if s.TopP > 0 {
			cum, n := 0.0, 0
			for cum < float64(s.TopP)*total {
				cum += pT[n]
				n++
			}
			kept, pT, total = kept[:n], pT[:n], cum
		}

		counts := map[int32]int{}
		for r := range rounds {
			c.ClearAll()
			reqs := make([]model.GenRequest, nSeq)
			for i := range reqs {
				s.Seed, s.MaxTokens = uint64(r*nSeq+i), 1
				reqs[i] = model.GenRequest{Seq: i, Prompt: prompt, Sampling: s}
			}
			res, err := c.Generate(reqs)
			if err != nil {
				t.Fatal(err)
			}
			for i, g := range res {
				counts[g.Tokens[0]]++
				want := 1 // the others copy all of the prompt but its last token
				if i == 0 {
					want = len(prompt)
				}
				if g.Decoded != want {
					t.Fatalf("request %d decoded %d prompt tokens, want %d", i, g.Decoded, want)
				}
			}
		}
		n := float64(nSeq * rounds)
		drawn := 0
		for i, e := range kept {
			p := pT[i] / total
			sigma := math.Sqrt(n * p * (1 - p))
			if got := float64(counts[e.Token]); math.Abs(got-n*p) > 4*sigma+1 {
				t.Errorf("%+v: token %d drawn %v times, expected %.1f ± %.1f", s, e.Token, got, n*p, sigma)
			}
			drawn += counts[e.Token]
		}
		if drawn != int(n) {
			t.Errorf("%+v: %d of %d draws outside the %d kept tokens", s, int(n)-drawn, int(n), len(kept))
		}
	}
}

// TestThreadedReduce: reducing logits rows on several threads gives the same tokens, log-probs,
// entropies and top-k as on one.
func TestThreadedReduce(t *testing.T) {
	m := loadModel(t, tinyPath)
	run := func(threads int) ([]model.GenResult, []model.ScoreResult) {
		c, err := m.NewContext(llama.ContextParams{NCtx: 128, NSeq: 4})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReduce(1, threads) // a thread per row, up to threads
		var reqs []model.GenRequest
		var sreqs []model.ScoreRequest
		for i := range 4 {
			p := chatPrompt(t, m, fmt.Sprintf("Clean mug %d.", i))
			reqs = append(reqs, model.GenRequest{Seq: i, Prompt: p, Sampling: model.Sampling{Temperature: 1, TopP: 0.9, Seed: uint64(i), MaxTokens: 12}})
			sreqs = append(sreqs, model.ScoreRequest{Seq: i, Tokens: p, From: 2, TopK: 5})
		}
		gen, err := c.Generate(reqs)
		if err != nil {
			t.Fatal(err)
		}
		sc, err := c.Score(sreqs)
		if err != nil {
			t.Fatal(err)
		}
		return gen, sc
	}
	g1, s1 := run(1)
	g3, s3 := run(3)
	if fmt.Sprint(g1) != fmt.Sprint(g3) || fmt.Sprint(s1) != fmt.Sprint(s3) {
		t.Errorf("1 thread and 3 threads differ:\n%v\n%v\n%v\n%v", g1, g3, s1, s3)
	}
}

// TestKVF16: the half-size KV cache with flash attention works and stays close to scoring.
func TestKVF16(t *testing.T) {
	m := loadModel(t, tinyPath)
	c, err := m.NewContext(llama.ContextParams{NCtx: 128, NSeq: 2, KVF16: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	prompt := chatPrompt(t, m, "Cool the lettuce.")
	gen, err := c.Generate([]model.GenRequest{{Prompt: prompt, Sampling: model.Sampling{Temperature: 1, Seed: 3, MaxTokens: 20}}})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := c.Score([]model.ScoreRequest{{Seq: 1, Tokens: concat(prompt, gen[0].Tokens), From: len(prompt)}})
	if err != nil {
		t.Fatal(err)
	}
	d := maxAbsDiff(gen[0].LogProbs, sc[0].LogProbs)
	t.Logf("f16 KV: generation vs scoring max |Δ log-prob| = %.2g", d)
	if d > 2e-2 {
		t.Errorf("f16 KV: generation vs scoring differ by %g", d)
	}
}
