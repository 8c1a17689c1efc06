// Package model is the one definition of what atod asks of a language model: chat
// messages, sampling settings, generation and scoring requests and their results,
// training sequences and step statistics, and the LM and Learner interfaces. The
// native layer (cgo/llama, cgo/learn) returns these types and the trainer consumes
// them, so nothing is mirrored or copied field by field across the cgo boundary.
// It imports nothing of atod's.
package model

// Message is one chat turn.
type Message struct{ Role, Content string }

// Sampling configures one sequence's generation. Tokens are drawn from the top TopK tokens, then
// the smallest best-first set holding TopP of the probability at Temperature, with an RNG seeded
// by Seed, so a request's tokens depend on nothing else in the batch.
type Sampling struct {
	Temperature float32 // 0 = greedy
	TopP        float32 // 0 or 1 = off
	TopK        int     // 0 = off
	Seed        uint64
	MaxTokens   int      // 0 = until end of generation, a stop string or the context's end
	Stop        []string // stop once the generated text contains one (kept in Text)
}

// GenRequest asks for a continuation of Prompt in sequence Seq.
type GenRequest struct {
	Seq    int     // 0..NSeq-1, at most one request per sequence and call
	Prompt []int32 // the whole transcript so far; the longest prefix already in Seq's KV cache is reused,
	// a prefix shared with other requests of the same call is decoded once and copied
	Sampling
}

// GenResult is one request's continuation.
type GenResult struct {
	Tokens    []int32   // generated tokens, the end-of-generation token included
	Text      string    // Tokens as text, special tokens not rendered
	LogProbs  []float32 // log π(tok) under the temperature-1 distribution over the full vocabulary
	Entropies []float32 // entropy of that full temperature-1 distribution
	Stop      string    // "eog" | "stop" | "length" | "context"
	Decoded   int       // prompt tokens decoded for this request (not reused)
}

// ScoreRequest asks for the log-probs of Tokens[From:], each given the tokens before it.
type ScoreRequest struct {
	Seq    int
	Tokens []int32
	From   int    // score positions From..len-1, From >= 1
	TopK   int    // also report the TopK most likely tokens at each scored position
	Mask   []bool // when set (one per token), only positions with Mask[p] are scored: the rest read 0, no top-k list
}

// Scored reports whether position p >= From is to be scored.
func (r ScoreRequest) Scored(p int) bool { return r.Mask == nil || r.Mask[p] }

// TokenLogProb is a token with its log-prob.
type TokenLogProb struct {
	Token   int32
	LogProb float32
}

// ScoreResult holds one request's log-probs under the temperature-1 distribution.
type ScoreResult struct {
	LogProbs []float32        // len(Tokens)-From; 0 where the request's mask leaves a position out
	TopK     [][]TokenLogProb // per position, best first; nil when TopK is 0 or the position is left out
	Decoded  int              // tokens decoded for this request (not reused)
}

// LM is a loaded model with one context of NSeq parallel sequences of NCtx tokens.
type LM interface {
	VocabSize() int
	// Tokenize never adds BOS: chat templates spell their own start tokens.
	Tokenize(text string, parseSpecial bool) ([]int32, error)
	Detokenize(toks []int32, renderSpecial bool) string
	IsEOG(tok int32) bool
	ApplyChatTemplate(msgs []Message, addAssistant bool) (string, error)
	NSeq() int
	NCtx() int
	Generate(reqs []GenRequest) ([]GenResult, error)
	Score(reqs []ScoreRequest) ([]ScoreResult, error)
	ClearAll()
	// LoadWeights makes path the trained weights in use: a LoRA adapter GGUF, or
	// in full-weights mode a whole model GGUF; "" goes back to the base model.
	LoadWeights(path string) error
	Close()
}

// TrainSeq is one training sequence. Its loss, summed over the step's N targets, is
//
//	L = (1/N) Σ_i [−Weights[i]·log π(Tokens[i]) + Distill[i]·KL_i],
//
// KL_i the forward KL from the teacher's top-k list TopK[i] plus a tail bucket
// (the rest of the vocabulary) to the same buckets of π: with p_v = exp(LogProb)
// of the listed tokens, p_tail = 1 − Σ_v p_v and π(tail) = 1 − Σ_v π(v),
//
//	KL_i = Σ_v p_v·(log p_v − log π(v)) + p_tail·(log p_tail − log π(tail)).
type TrainSeq struct {
	Tokens  []int32
	Mask    []bool    // Mask[i]: token i is a target, predicted from Tokens[:i]; Mask[0] is false
	Weights []float32 // per token, any sign, used where Mask is true
	// The top-k distillation term, nil when there is none: per token, its
	// weight (where Mask is true) and the teacher's list at that position
	// (distinct tokens; nil where there is none, then Distill[i] is 0).
	Distill []float32
	TopK    [][]TokenLogProb
}

// TrainStats are one optimizer step's figures.
type TrainStats struct {
	Loss, GradNorm, LR float32     // Loss = L of TrainSeq over the whole step; GradNorm before clipping
	Tokens             int         // N = number of masked-in tokens over all micro-batches
	LogProbs           [][]float32 // per sequence, flattened over micro-batches: log π(token i) where Mask, 0 elsewhere
	DistillKL          [][]float32 // like LogProbs: KL_i where TopK lists token i, 0 elsewhere; nil without the term
	Skipped            bool        // NaN/Inf in loss or gradients: nothing updated
	Step               int         // optimizer steps taken so far
}

// Learner owns the trainable weights (LoRA, or every weight of a tiny model) and
// their optimizer state.
type Learner interface {
	Step(micro [][]TrainSeq) (TrainStats, error)
	// OnMicroBatch has Step call f after each of its n micro-batches (nil: none).
	OnMicroBatch(f func(done, n int))
	// SaveWeights writes what LM.LoadWeights loads: a LoRA adapter GGUF, or in
	// full-weights mode the whole model.
	SaveWeights(path string) error
	SaveState(path string) error
	LoadState(path string) error
	Close()
}
