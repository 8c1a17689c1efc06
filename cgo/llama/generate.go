package llama

/*
#include "atod.h"
*/
import "C"

import (
	"fmt"
	"strings"

	"github.com/atod-dev/atod/model"
)

// Generate continues every request together: prompts are prefilled in shared batches, then each
// step decodes one token of every unfinished sequence in one llama_decode call. Afterwards a
// sequence's KV cache holds its prompt and all generated tokens but the last.
func (c *Context) Generate(reqs []model.GenRequest) ([]model.GenResult, error) {
	if err := c.usable(); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	seqs := make([]int, len(reqs))
	prompts := make([][]int32, len(reqs))
	for i, r := range reqs {
		seqs[i], prompts[i] = r.Seq, r.Prompt
		switch s := r.Sampling; {
		case len(r.Prompt) == 0:
			return nil, fmt.Errorf("generate: request %d: empty prompt", i)
		case len(r.Prompt) > c.p.NCtx:
			return nil, fmt.Errorf("generate: request %d: prompt of %d tokens does not fit the context of %d tokens per sequence", i, len(r.Prompt), c.p.NCtx)
		case s.Temperature < 0 || s.TopP < 0 || s.TopP > 1 || s.TopK < 0 || s.MaxTokens < 0:
			return nil, fmt.Errorf("generate: request %d: invalid sampling %+v", i, s)
		}
	}
	if err := c.checkSeqs(seqs, prompts); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}

	jobs := make([]job, len(reqs))
	outs := make([]C.atod_out, len(reqs))
	for i, r := range reqs {
		jobs[i] = job{seq: r.Seq, toks: r.Prompt, firstOut: len(r.Prompt) - 1, out: []int{i}}
		outs[i] = C.atod_out{target: -1, temp: C.float(r.Temperature), top_p: C.float(r.TopP), top_k: C.int32_t(r.TopK), rng: C.uint64_t(r.Seed)}
	}
	decoded, err := c.prefill(jobs, outs, 0, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}

	res := make([]model.GenResult, len(reqs))
	text := make([][]byte, len(reqs)) // generated text so far, for stop strings
	active := make([]int, len(reqs))
	for i := range reqs {
		res[i].Decoded = decoded[i]
		active[i] = i
	}
	var b batch
	for len(active) > 0 {
		next := active[:0]
		for _, i := range active {
			tok := int32(outs[i].token)
			res[i].Tokens = append(res[i].Tokens, tok)
			res[i].LogProbs = append(res[i].LogProbs, float32(outs[i].logprob))
			res[i].Entropies = append(res[i].Entropies, float32(outs[i].entropy))
			prev := len(text[i])
			text[i] = append(text[i], c.m.piece(tok, false)...)
			if res[i].Stop = c.stopReason(reqs[i], tok, text[i], prev, len(res[i].Tokens)); res[i].Stop == "" {
				next = append(next, i)
				b.add(tok, len(c.cached[reqs[i].Seq]), reqs[i].Seq, i)
			}
		}
		if err := c.decode(&b, outs, 0, nil, nil); err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
		for _, i := range next {
			s := reqs[i].Seq
			c.cached[s] = append(c.cached[s], res[i].Tokens[len(res[i].Tokens)-1])
		}
		active = next
	}
	for i := range res {
		res[i].Text = c.m.Detokenize(res[i].Tokens, false)
	}
	return res, nil
}

// stopReason says why request r stops after token tok ("" = it goes on). text is its generated text,
// of which the bytes from prev on are new.
func (c *Context) stopReason(r model.GenRequest, tok int32, text []byte, prev, n int) string {
	if c.m.IsEOG(tok) {
		return "eog"
	}
	for _, s := range r.Stop {
		if s != "" && strings.Contains(string(text[max(0, prev-len(s)+1):]), s) {
			return "stop"
		}
	}
	if r.MaxTokens > 0 && n >= r.MaxTokens {
		return "length"
	}
	if len(c.cached[r.Seq]) >= c.p.NCtx {
		return "context"
	}
	return ""
}
