package trainer

import "github.com/atod-dev/atod/envs"

// The trainer reaches llama.cpp and the ggml training graph only through these
// interfaces, so the whole loop runs in tests with pure-Go fakes. native.go
// adapts cgo/llama and cgo/train to them.

// Sampling mirrors llama.Sampling.
type Sampling struct {
	Temperature float32 // 0 = greedy
	TopP        float32 // 0 or 1 = off
	TopK        int     // 0 = off
	Seed        uint64
	MaxTokens   int
	Stop        []string
}

// GenRequest asks for one continuation of Prompt in parallel sequence Seq.
type GenRequest struct {
	Seq    int
	Prompt []int32 // the whole transcript so far; a cached prefix is reused
	Sampling
}

// GenResult is one sampled continuation with per-token log-probs and entropies
// under the temperature-1 distribution.
type GenResult struct {
	Tokens    []int32
	Text      string
	LogProbs  []float32
	Entropies []float32
	Stop      string // "eog" | "stop" | "length" | "context"
}

// ScoreRequest asks for log π(Tokens[i] | Tokens[:i]) for i = From..len−1.
type ScoreRequest struct {
	Seq    int
	Tokens []int32
	From   int
	TopK   int
}

// ScoreResult holds len(Tokens)−From log-probs (and top-k lists when asked).
type ScoreResult struct {
	LogProbs []float32
	TopK     [][]TokenLogProb
}

// LM is a loaded model with one context of NSeq parallel sequences of NCtx tokens.
type LM interface {
	VocabSize() int
	Tokenize(text string, parseSpecial bool) ([]int32, error)
	Detokenize(toks []int32, renderSpecial bool) string
	IsEOG(tok int32) bool
	ApplyChatTemplate(msgs []envs.Message, addAssistant bool) (string, error)
	NSeq() int
	NCtx() int
	Generate(reqs []GenRequest) ([]GenResult, error)
	Score(reqs []ScoreRequest) ([]ScoreResult, error)
	ClearAll()
	SetAdapter(path string) error // "" removes the adapter
	Close()
}

// TrainSeq mirrors train.Seq: Mask[i] marks a target predicted from Tokens[:i].
type TrainSeq struct {
	Tokens  []int32
	Mask    []bool
	Weights []float32
}

// TrainStats mirrors train.Stats.
type TrainStats struct {
	Loss, GradNorm, LR float32
	Tokens             int
	Skipped            bool
	Step               int
}

// Learner owns the trainable weights (LoRA or full) and their optimizer state.
type Learner interface {
	Step(micro [][]TrainSeq) (TrainStats, error)
	SaveAdapter(path string) error // what Student.SetAdapter loads
	SaveState(path string) error
	LoadState(path string) error
	Close()
}

// Models is what a run needs; Teacher and Learner may be nil for evaluation.
type Models struct {
	Student LM
	Teacher LM
	Learner Learner
}

// Close releases every model.
func (m *Models) Close() {
	for _, lm := range []LM{m.Student, m.Teacher} {
		if lm != nil {
			lm.Close()
		}
	}
	if m.Learner != nil {
		m.Learner.Close()
	}
}

// Need says which models an Opener must load and how many sequences they serve.
type Need struct {
	Student, Teacher, Learner bool
	NSeq                      int
	Adapter                   string // student adapter to load first ("" = none)
}

// Opener loads models for a config; OpenNative is the real one.
type Opener func(cfg *Config, need Need) (*Models, error)
