package llama

/*
#include "atod.h"
*/
import "C"

import "fmt"

// ScoreRequest asks for the log-probs of Tokens[From:], each given the tokens before it.
type ScoreRequest struct {
	Seq    int
	Tokens []int32
	From   int // score positions From..len-1, From >= 1
	TopK   int // also report the TopK most likely tokens at each scored position
}

// TokenLogProb is a token with its log-prob.
type TokenLogProb struct {
	Token   int32
	LogProb float32
}

// ScoreResult holds one request's log-probs under the temperature-1 distribution.
type ScoreResult struct {
	LogProbs []float32        // len(Tokens)-From
	TopK     [][]TokenLogProb // per scored position, best first; nil when TopK is 0
	Decoded  int              // tokens decoded for this request (not reused)
}

// Score computes log-probs of given tokens for many sequences in shared batches; the log-softmax is
// computed in C and logits are requested only for scored positions. Like Generate it reuses each
// sequence's cached prefix and shares prefixes within the call; afterwards a sequence's KV cache holds
// all its tokens but the last.
func (c *Context) Score(reqs []ScoreRequest) ([]ScoreResult, error) {
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

	res := make([]ScoreResult, len(reqs))
	for i, r := range reqs {
		n := len(r.Tokens) - r.From
		res[i].Decoded = decoded[i]
		res[i].LogProbs = make([]float32, n)
		if r.TopK > 0 {
			res[i].TopK = make([][]TokenLogProb, n)
		}
		for j := range n {
			k := base[i] + j
			res[i].LogProbs[j] = float32(outs[k].logprob)
			for t := range r.TopK {
				res[i].TopK[j] = append(res[i].TopK[j], TokenLogProb{Token: topTok[k*topN+t], LogProb: topLP[k*topN+t]})
			}
		}
	}
	return res, nil
}
