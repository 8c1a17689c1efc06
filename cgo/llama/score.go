package llama

/*
#include "atod.h"
*/
import "C"

import (
	"fmt"

	"github.com/atod-dev/atod/model"
)

// Score computes log-probs of given tokens for many sequences in shared batches; the log-softmax is
// computed in C and logits are requested only for scored positions. Like Generate it reuses each
// sequence's cached prefix and shares prefixes within the call; afterwards a sequence's KV cache holds
// all its tokens but the last.
func (c *Context) Score(reqs []model.ScoreRequest) ([]model.ScoreResult, error) {
	if err := c.usable(); err != nil {
		return nil, fmt.Errorf("score: %w", err)
	}
	seqs := make([]int, len(reqs))
	toks := make([][]int32, len(reqs))
	topN, nOut := 0, 0
	for i, r := range reqs {
		seqs[i], toks[i] = r.Seq, r.Tokens
		switch {
		case r.From < 1 || r.From >= len(r.Tokens):
			return nil, fmt.Errorf("score: request %d: From %d must be in [1, %d)", i, r.From, len(r.Tokens))
		case len(r.Tokens) > c.p.NCtx:
			return nil, fmt.Errorf("score: request %d: %d tokens do not fit the context of %d tokens per sequence", i, len(r.Tokens), c.p.NCtx)
		case r.TopK < 0 || r.TopK > c.m.nVocab:
			return nil, fmt.Errorf("score: request %d: TopK %d out of range", i, r.TopK)
		}
		topN = max(topN, r.TopK)
		nOut += len(r.Tokens) - r.From
	}
	if err := c.checkSeqs(seqs, toks); err != nil {
		return nil, fmt.Errorf("score: %w", err)
	}

	jobs := make([]job, len(reqs))
	base := make([]int, len(reqs))
	outs := make([]C.atod_out, nOut)
	k := 0
	for i, r := range reqs {
		jobs[i] = job{seq: r.Seq, toks: r.Tokens[:len(r.Tokens)-1], firstOut: r.From - 1}
		base[i] = k
		for _, t := range r.Tokens[r.From:] {
			outs[k] = C.atod_out{target: C.int32_t(t), n_top: C.int32_t(r.TopK)}
			k++
		}
	}
	topTok := make([]int32, nOut*topN)
	topLP := make([]float32, nOut*topN)
	decoded, err := c.prefill(jobs, outs, base, topN, topTok, topLP)
	if err != nil {
		return nil, fmt.Errorf("score: %w", err)
	}

	res := make([]model.ScoreResult, len(reqs))
	for i, r := range reqs {
		n := len(r.Tokens) - r.From
		res[i].Decoded = decoded[i]
		res[i].LogProbs = make([]float32, n)
		if r.TopK > 0 {
			res[i].TopK = make([][]model.TokenLogProb, n)
		}
		for j := range n {
			k := base[i] + j
			res[i].LogProbs[j] = float32(outs[k].logprob)
			for t := range r.TopK {
				res[i].TopK[j] = append(res[i].TopK[j], model.TokenLogProb{Token: topTok[k*topN+t], LogProb: topLP[k*topN+t]})
			}
		}
	}
	return res, nil
}
