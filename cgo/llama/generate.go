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
		pads := c.padGaps(&b)
		if err := c.decode(&b, outs, 0, nil, nil); err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
		for _, s := range pads {
			C.llama_memory_seq_rm(c.memory(), C.llama_seq_id(s), C.llama_pos(len(c.cached[s])), -1)
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

// padGaps gives each sequence between the first and last of a generation step's batch that has no token
// in it a throwaway token after its cached ones, to be removed after the decode. With a KV stream per
// sequence llama.cpp runs consecutive sequence ids together, and each gap left by a finished sequence
// would cost one more pass over all the weights; a token per gap costs little. It returns the padded
// sequences.
func (c *Context) padGaps(b *batch) []int {
	if c.p.Unified || len(b.seq) < 2 {
		return nil
	}
	in := make(map[int32]bool, len(b.seq))
	lo, hi := b.seq[0], b.seq[0]
	for _, s := range b.seq {
		in[s] = true
		lo, hi = min(lo, s), max(hi, s)
	}
	var pads []int
	for s := lo + 1; s < hi; s++ {
		if !in[s] && len(c.cached[s]) < c.p.NCtx {
			b.add(0, len(c.cached[s]), int(s), -1)
			pads = append(pads, int(s))
		}
	}
	return pads
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
