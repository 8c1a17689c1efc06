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
	topN := 0
	for i, r := range reqs {
		seqs[i], toks[i] = r.Seq, r.Tokens
		switch {
		case r.From < 1 || r.From >= len(r.Tokens):
			return nil, fmt.Errorf("score: request %d: From %d must be in [1, %d)", i, r.From, len(r.Tokens))
		case len(r.Tokens) > c.p.NCtx:
			return nil, fmt.Errorf("score: request %d: %d tokens do not fit the context of %d tokens per sequence", i, len(r.Tokens), c.p.NCtx)
		case r.TopK < 0 || r.TopK > c.m.nVocab:
			return nil, fmt.Errorf("score: request %d: TopK %d out of range", i, r.TopK)
		case r.Mask != nil && len(r.Mask) != len(r.Tokens):
			return nil, fmt.Errorf("score: request %d: mask of %d for %d tokens", i, len(r.Mask), len(r.Tokens))
		}
		topN = max(topN, r.TopK)
	}
	if err := c.checkSeqs(seqs, toks); err != nil {
		return nil, fmt.Errorf("score: %w", err)
	}

	// Position p of a job predicts token p+1: Tokens[q] is scored from job position q-1.
	jobs := make([]job, len(reqs))
	var outs []C.atod_out
	for i, r := range reqs {
		j := job{seq: r.Seq, toks: r.Tokens[:len(r.Tokens)-1], firstOut: r.From - 1}
		for q := r.From; q < len(r.Tokens); q++ {
			slot := -1
			if r.Scored(q) {
				slot = len(outs)
				outs = append(outs, C.atod_out{target: C.int32_t(r.Tokens[q]), n_top: C.int32_t(r.TopK)})
			}
			j.out = append(j.out, slot)
		}
		jobs[i] = j
	}
	topTok := make([]int32, len(outs)*topN)
	topLP := make([]float32, len(outs)*topN)
	decoded, err := c.prefill(jobs, outs, topN, topTok, topLP)
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
		for j, k := range jobs[i].out {
			if k < 0 {
				continue
			}
			res[i].LogProbs[j] = float32(outs[k].logprob)
			for t := range r.TopK {
				res[i].TopK[j] = append(res[i].TopK[j], model.TokenLogProb{Token: topTok[k*topN+t], LogProb: topLP[k*topN+t]})
			}
		}
	}
	return res, nil
}
