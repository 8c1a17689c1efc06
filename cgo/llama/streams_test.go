package llama_test

import (
	"fmt"
	"testing"

	"github.com/atod-dev/atod/cgo/llama"
	"github.com/atod-dev/atod/model"
)

// TestStreamsMatchUnified runs one multi-turn workload, with shared prompts and reused prefixes, through
// a context with a KV stream per sequence and through one unified KV buffer: the same tokens, log-probs
// and top-k within 1e-4, and the same tokens decoded per request (the prefix sharing is not lost).
func TestStreamsMatchUnified(t *testing.T) {
	m := loadModel(t, tinyPath)
	open := func(unified bool) *llama.Context {
		c, err := m.NewContext(llama.ContextParams{NCtx: 300, NSeq: 6, Unified: unified})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	streams, unified := open(false), open(true)

	a := chatPrompt(t, m, "Put a clean mug in the coffee machine.")
	b := chatPrompt(t, m, "Find two apples.")
	prompts := [][]int32{a, a, concat(a, tokenize(t, m, "I go")), a, b, b}
	gen := func(turn int) []model.GenResult {
		var out [2][]model.GenResult
		for k, c := range []*llama.Context{streams, unified} {
			var reqs []model.GenRequest
			for i, p := range prompts {
				reqs = append(reqs, model.GenRequest{Seq: i, Prompt: p, Sampling: model.Sampling{Temperature: 1, Seed: uint64(10*turn + i), MaxTokens: 8 + 3*(5*i%6)}}) // finishing out of order
			}
			res, err := c.Generate(reqs)
			if err != nil {
				t.Fatalf("turn %d, unified %v: %v", turn, k == 1, err)
			}
			out[k] = res
		}
		for i := range prompts {
			s, u := out[0][i], out[1][i]
			if fmt.Sprint(s.Tokens) != fmt.Sprint(u.Tokens) || s.Decoded != u.Decoded {
				t.Fatalf("turn %d, seq %d: streams %v (decoded %d), unified %v (decoded %d)", turn, i, s.Tokens, s.Decoded, u.Tokens, u.Decoded)
			}
			if d := max(maxAbsDiff(s.LogProbs, u.LogProbs), maxAbsDiff(s.Entropies, u.Entropies)); d > 1e-4 {
				t.Errorf("turn %d, seq %d: log-probs or entropies differ by %g", turn, i, d)
			}
		}
		return out[0]
	}

	res := gen(0)
	if res[1].Decoded != 1 || res[3].Decoded != 1 {
		t.Errorf("shared prompts decoded %d and %d tokens, want 1 each (copied from the group's first)", res[1].Decoded, res[3].Decoded)
	}
	obs := tokenize(t, m, "<|im_end|>\n<|im_start|>user\nOK.<|im_end|>\n<|im_start|>assistant\n")
	for i := range prompts {
		prompts[i] = concat(prompts[i], res[i].Tokens, obs)
	}
	// Sequence 4 starts over from prompt a: it copies a's prefix from sequence 0, whose stream holds a
	// whole turn more than that prefix.
	prompts[4] = concat(a, tokenize(t, m, "Again."))
	streams.ClearSeq(4)
	unified.ClearSeq(4)
	res = gen(1)
	if want := len(prompts[4]) - len(a); res[4].Decoded != want {
		t.Errorf("restarted sequence decoded %d tokens, want %d (the rest copied)", res[4].Decoded, want)
	}
	for i := range prompts {
		prompts[i] = concat(prompts[i], res[i].Tokens)
	}

	// Scoring the transcripts (a teacher's pass) with a mask and top-k, then again after they grow.
	for round := range 2 {
		var out [2][]model.ScoreResult
		for k, c := range []*llama.Context{streams, unified} {
			var reqs []model.ScoreRequest
			for i, p := range prompts {
				mask := make([]bool, len(p))
				for q := range mask {
					mask[q] = q%3 != 0
				}
				reqs = append(reqs, model.ScoreRequest{Seq: i, Tokens: p, From: len(a) / 2, TopK: 4, Mask: mask})
			}
			sc, err := c.Score(reqs)
			if err != nil {
				t.Fatalf("score round %d, unified %v: %v", round, k == 1, err)
			}
			out[k] = sc
		}
		for i := range prompts {
			s, u := out[0][i], out[1][i]
			if s.Decoded != u.Decoded {
				t.Errorf("score round %d, seq %d: decoded %d with streams, %d unified", round, i, s.Decoded, u.Decoded)
			}
			worst := maxAbsDiff(s.LogProbs, u.LogProbs)
			for p := range s.TopK {
				for r := range s.TopK[p] {
					if s.TopK[p][r].Token != u.TopK[p][r].Token {
						t.Fatalf("score round %d, seq %d, position %d: top-k %v vs %v", round, i, p, s.TopK[p], u.TopK[p])
					}
					worst = max(worst, float64(abs32(s.TopK[p][r].LogProb-u.TopK[p][r].LogProb)))
				}
			}
			if worst > 1e-4 {
				t.Errorf("score round %d, seq %d: log-probs differ by %g", round, i, worst)
			}
		}
		for i := range prompts {
			prompts[i] = concat(prompts[i], tokenize(t, m, "You take the mug."))
		}
	}
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}
