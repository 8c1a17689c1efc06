package llama_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/atod-dev/atod/model"
)

// TestMultiTurnReuse grows a transcript turn by turn: each turn decodes only the tokens not yet in the
// sequence's KV cache, and the log-probs recorded while generating equal those of scoring the whole
// transcript at once.
func TestMultiTurnReuse(t *testing.T) {
	m := loadModel(t, tinyPath)
	c := newContext(t, m, 512, 2)
	transcript := chatPrompt(t, m, "You see a fridge and a table.")
	start := len(transcript)
	var lps []float32
	var genPos []int // transcript positions of generated tokens
	inCache := 0
	for turn := range 4 {
		res, err := c.Generate([]model.GenRequest{{Seq: 0, Prompt: transcript, Sampling: model.Sampling{Temperature: 1, Seed: uint64(turn), MaxTokens: 12}}})
		if err != nil {
			t.Fatal(err)
		}
		g := res[0]
		if want := len(transcript) - inCache; g.Decoded != want {
			t.Errorf("turn %d: decoded %d prompt tokens, want the %d new ones", turn, g.Decoded, want)
		}
		for k := range g.Tokens {
			genPos = append(genPos, len(transcript)+k)
		}
		lps = append(lps, g.LogProbs...)
		inCache = len(transcript) + len(g.Tokens) - 1 // the last sampled token is not decoded yet
		obs := tokenize(t, m, fmt.Sprintf("<|im_end|>\n<|im_start|>user\nNothing happens (%d).<|im_end|>\n<|im_start|>assistant\n", turn))
		transcript = concat(transcript, g.Tokens, obs)
	}

	sc, err := c.Score([]model.ScoreRequest{{Seq: 1, Tokens: transcript, From: start}})
	if err != nil {
		t.Fatal(err)
	}
	if sc[0].Decoded != len(transcript)-1 {
		t.Errorf("scoring decoded %d tokens, want %d", sc[0].Decoded, len(transcript)-1)
	}
	worst := 0.0
	for i, p := range genPos {
		worst = max(worst, math.Abs(float64(sc[0].LogProbs[p-start]-lps[i])))
	}
	t.Logf("turn-by-turn vs whole transcript: max |Δ log-prob| = %.2g over %d tokens", worst, len(lps))
	if worst > 1e-4 {
		t.Errorf("turn-by-turn vs whole-transcript log-probs: max |Δ| = %g", worst)
	}

	// Scoring reuses the cache too: scoring the tokens added to the transcript decodes only those,
	// with the log-probs of scoring everything afresh.
	more := concat(transcript, tokenize(t, m, "You take the apple."))
	sc2, err := c.Score([]model.ScoreRequest{{Seq: 1, Tokens: more, From: len(transcript)}})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(more) - len(transcript); sc2[0].Decoded != want {
		t.Errorf("rescoring decoded %d tokens, want %d", sc2[0].Decoded, want)
	}
	c.ClearSeq(0)
	fresh, err := c.Score([]model.ScoreRequest{{Seq: 0, Tokens: more, From: len(transcript)}})
	if err != nil {
		t.Fatal(err)
	}
	if fresh[0].Decoded != len(more)-1 {
		t.Errorf("after ClearSeq, scoring decoded %d tokens, want %d", fresh[0].Decoded, len(more)-1)
	}
	if d := maxAbsDiff(fresh[0].LogProbs, sc2[0].LogProbs); d > 1e-4 {
		t.Errorf("rescoring with reuse vs afresh: max |Δ| = %g", d)
	}
}

// TestSharedPrefix: requests of one call that share a prefix decode it once (the others copy it) and
// still produce what each would alone.
func TestSharedPrefix(t *testing.T) {
	m := loadModel(t, tinyPath)
	system := chatPrompt(t, m, "Put a clean mug in the coffee machine.")
	prompts := [][]int32{system, system, concat(system, tokenize(t, m, "I go to the sink.")), system}
	var reqs []model.GenRequest
	for i, p := range prompts {
		reqs = append(reqs, model.GenRequest{Seq: i, Prompt: p, Sampling: model.Sampling{Temperature: 1, Seed: uint64(i), MaxTokens: 10}})
	}
	c := newContext(t, m, 256, 4)
	res, err := c.Generate(reqs)
	if err != nil {
		t.Fatal(err)
	}
	// The first decodes everything; the others copy all of it they can below their last prompt token.
	wantDecoded := []int{len(system), 1, len(prompts[2]) - len(system) + 1, 1}
	for i, r := range reqs {
		if res[i].Decoded != wantDecoded[i] {
			t.Errorf("request %d decoded %d, want %d", i, res[i].Decoded, wantDecoded[i])
		}
		r.Seq = 0
		alone, err := newContext(t, m, 256, 1).Generate([]model.GenRequest{r})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(alone[0].Tokens) != fmt.Sprint(res[i].Tokens) || maxAbsDiff(alone[0].LogProbs, res[i].LogProbs) > 1e-4 {
			t.Errorf("request %d: shared %v, alone %v", i, res[i].Tokens, alone[0].Tokens)
		}
	}

	// Next turn: every sequence continues its own transcript and decodes only the new tokens, even
	// though the transcripts still share the system prompt.
	obs := tokenize(t, m, "<|im_end|>\n<|im_start|>user\nOK.<|im_end|>\n<|im_start|>assistant\n")
	for i := range reqs {
		reqs[i].Prompt = concat(prompts[i], res[i].Tokens, obs)
	}
	res2, err := c.Generate(reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range reqs {
		if want := len(obs) + 1; res2[i].Decoded != want {
			t.Errorf("turn 2, request %d: decoded %d, want %d", i, res2[i].Decoded, want)
		}
	}
}

func TestStopStrings(t *testing.T) {
	m := loadModel(t, tinyPath)
	c := newContext(t, m, 256, 1)
	prompt := chatPrompt(t, m, "Say something.")
	free, err := c.Generate([]model.GenRequest{{Prompt: prompt, Sampling: model.Sampling{MaxTokens: 20}}})
	if err != nil {
		t.Fatal(err)
	}
	// Stop at the text of the greedy continuation's 4th token: generation ends right there.
	stop := m.Detokenize(free[0].Tokens[3:4], false)
	if stop == "" {
		t.Skip("4th greedy token renders as nothing")
	}
	res, err := c.Generate([]model.GenRequest{{Prompt: prompt, Sampling: model.Sampling{MaxTokens: 20, Stop: []string{"<never>", stop}}}})
	if err != nil {
		t.Fatal(err)
	}
	got := res[0]
	if got.Stop != "stop" || !strings.Contains(got.Text, stop) || len(got.Tokens) > 4 ||
		fmt.Sprint(got.Tokens) != fmt.Sprint(free[0].Tokens[:len(got.Tokens)]) {
		t.Errorf("stop %q: got stop %q, tokens %v, text %q; greedy %v", stop, got.Stop, got.Tokens, got.Text, free[0].Tokens)
	}
}
