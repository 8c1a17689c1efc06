package trainer

import (
	"fmt"

	"github.com/atod-dev/atod/cgo/llama"
	"github.com/atod-dev/atod/cgo/train"
	"github.com/atod-dev/atod/envs"
)

// This file is the only one that touches cgo: it adapts cgo/llama and
// cgo/train to the trainer's LM and Learner interfaces.

// OpenNative loads what need asks for: the student and teacher each with a
// context of need.NSeq sequences of rollout.context tokens, and the training
// graph over the student. The two vocabularies must be identical, because the
// teacher scores the student's token ids.
func OpenNative(cfg *Config, need Need) (*Models, error) {
	mp := llama.ModelParams{Backend: cfg.Backend.Device, GPULayers: cfg.Backend.GPULayers, Threads: cfg.Backend.Threads}
	cp := llama.ContextParams{NCtx: cfg.Rollout.Context, NSeq: max(1, need.NSeq), Threads: cfg.Backend.Threads}
	ms := &Models{}
	ok := false
	defer func() {
		if !ok {
			ms.Close()
		}
	}()
	var sm, tm *llama.Model
	var err error
	if need.Student || need.Learner {
		if sm, err = llama.LoadModel(cfg.Student.Model, mp); err != nil {
			return nil, fmt.Errorf("load student %s: %w", cfg.Student.Model, err)
		}
	}
	if need.Teacher {
		if tm, err = llama.LoadModel(cfg.Teacher.Model, mp); err != nil {
			if sm != nil {
				sm.Close()
			}
			return nil, fmt.Errorf("load teacher %s: %w", cfg.Teacher.Model, err)
		}
	}
	if sm != nil && tm != nil {
		if err := llama.SameVocab(sm, tm); err != nil {
			sm.Close()
			tm.Close()
			return nil, fmt.Errorf("student %s and teacher %s: %w", cfg.Student.Model, cfg.Teacher.Model, err)
		}
	}
	if tm != nil {
		lm, err := newNativeLM(tm, cfg.Teacher.Model, cp, mp, false)
		if err != nil {
			tm.Close()
			if sm != nil {
				sm.Close()
			}
			return nil, fmt.Errorf("teacher: %w", err)
		}
		ms.Teacher = lm
	}
	if sm != nil {
		if !need.Student {
			sm.Close() // the learner reads the GGUF itself
		} else {
			lm, err := newNativeLM(sm, cfg.Student.Model, cp, mp, cfg.LoRA.FullWeights)
			if err != nil {
				sm.Close()
				return nil, fmt.Errorf("student: %w", err)
			}
			ms.Student = lm
		}
	}
	if need.Adapter != "" {
		if err := ms.Student.SetAdapter(need.Adapter); err != nil {
			return nil, err
		}
	}
	if need.Learner {
		tc := train.Config{
			Rank: cfg.LoRA.Rank, Alpha: float32(cfg.LoRA.Alpha), Targets: cfg.LoRA.Targets, FullWeights: cfg.LoRA.FullWeights,
			Seed: uint64(cfg.Seed), Backend: cfg.Backend.Device, GPULayers: cfg.Backend.GPULayers, Threads: cfg.Backend.Threads,
			LR: float32(cfg.Optim.LR), Beta1: float32(cfg.Optim.Beta1), Beta2: float32(cfg.Optim.Beta2), Eps: float32(cfg.Optim.Eps),
			WeightDecay: float32(cfg.Optim.WeightDecay), ClipNorm: float32(cfg.Optim.ClipNorm),
			WarmupSteps: cfg.Optim.Warmup, TotalSteps: cfg.Steps, MinLRRatio: float32(cfg.Optim.MinLRRatio),
			MaxSeqLen: cfg.Rollout.Context,
		}
		if tc.FullWeights {
			tc.Rank, tc.Alpha, tc.Targets = 0, 0, nil
		}
		t, err := train.New(cfg.Student.Model, tc)
		if err != nil {
			return nil, fmt.Errorf("training graph for %s: %w", cfg.Student.Model, err)
		}
		ms.Learner = &nativeLearner{t: t, full: cfg.LoRA.FullWeights}
	}
	ok = true
	return ms, nil
}

// nativeLM is a llama.cpp model with one context. In full-weights mode an
// "adapter" is a whole model GGUF, so SetAdapter reloads the model.
type nativeLM struct {
	m       *llama.Model
	ctx     *llama.Context
	adapter *llama.Adapter
	base    string
	cp      llama.ContextParams
	mp      llama.ModelParams
	full    bool
}

func newNativeLM(m *llama.Model, path string, cp llama.ContextParams, mp llama.ModelParams, full bool) (*nativeLM, error) {
	ctx, err := m.NewContext(cp)
	if err != nil {
		return nil, err
	}
	return &nativeLM{m: m, ctx: ctx, base: path, cp: cp, mp: mp, full: full}, nil
}

func (n *nativeLM) VocabSize() int { return n.m.VocabSize() }
func (n *nativeLM) NSeq() int      { return n.cp.NSeq }
func (n *nativeLM) NCtx() int      { return n.cp.NCtx }
func (n *nativeLM) ClearAll()      { n.ctx.ClearAll() }
func (n *nativeLM) IsEOG(t int32) bool {
	return n.m.IsEOG(t)
}

// Tokenize never adds BOS: chat templates spell their own start tokens.
func (n *nativeLM) Tokenize(text string, parseSpecial bool) ([]int32, error) {
	return n.m.Tokenize(text, false, parseSpecial)
}

func (n *nativeLM) Detokenize(toks []int32, renderSpecial bool) string {
	return n.m.Detokenize(toks, renderSpecial)
}

func (n *nativeLM) ApplyChatTemplate(msgs []envs.Message, addAssistant bool) (string, error) {
	lm := make([]llama.Message, len(msgs))
	for i, m := range msgs {
		lm[i] = llama.Message{Role: m.Role, Content: m.Content}
	}
	return n.m.ApplyChatTemplate("", lm, addAssistant)
}

func (n *nativeLM) Generate(reqs []GenRequest) ([]GenResult, error) {
	lr := make([]llama.GenRequest, len(reqs))
	for i, r := range reqs {
		lr[i] = llama.GenRequest{Seq: r.Seq, Prompt: r.Prompt, Sampling: llama.Sampling{
			Temperature: r.Temperature, TopP: r.TopP, TopK: r.TopK, Seed: r.Seed, MaxTokens: r.MaxTokens, Stop: r.Stop}}
	}
	res, err := n.ctx.Generate(lr)
	if err != nil {
		return nil, err
	}
	out := make([]GenResult, len(res))
	for i, r := range res {
		out[i] = GenResult{Tokens: r.Tokens, Text: r.Text, LogProbs: r.LogProbs, Entropies: r.Entropies, Stop: r.Stop}
	}
	return out, nil
}

func (n *nativeLM) Score(reqs []ScoreRequest) ([]ScoreResult, error) {
	lr := make([]llama.ScoreRequest, len(reqs))
	for i, r := range reqs {
		lr[i] = llama.ScoreRequest{Seq: r.Seq, Tokens: r.Tokens, From: r.From, TopK: r.TopK}
	}
	res, err := n.ctx.Score(lr)
	if err != nil {
		return nil, err
	}
	out := make([]ScoreResult, len(res))
	for i, r := range res {
		out[i].LogProbs = r.LogProbs
		if r.TopK != nil {
			out[i].TopK = make([][]TokenLogProb, len(r.TopK))
			for j, l := range r.TopK {
				out[i].TopK[j] = make([]TokenLogProb, len(l))
				for k, e := range l {
					out[i].TopK[j][k] = TokenLogProb{Token: e.Token, LogProb: e.LogProb}
				}
			}
		}
	}
	return out, nil
}

// SetAdapter loads path (a LoRA GGUF, or a whole model in full-weights mode),
// makes it current and frees the previous one; "" goes back to the base.
func (n *nativeLM) SetAdapter(path string) error {
	if n.full {
		src := path
		if src == "" {
			src = n.base
		}
		m, err := llama.LoadModel(src, n.mp)
		if err != nil {
			return fmt.Errorf("reload model %s: %w", src, err)
		}
		ctx, err := m.NewContext(n.cp)
		if err != nil {
			m.Close()
			return fmt.Errorf("context for %s: %w", src, err)
		}
		n.ctx.Close()
		n.m.Close()
		n.m, n.ctx = m, ctx
		return nil
	}
	var a *llama.Adapter
	if path != "" {
		var err error
		if a, err = n.m.LoadAdapter(path); err != nil {
			return fmt.Errorf("load adapter %s: %w", path, err)
		}
	}
	if err := n.ctx.SetAdapter(a, 1); err != nil {
		if a != nil {
			a.Close()
		}
		return err
	}
	if n.adapter != nil {
		n.adapter.Close()
	}
	n.adapter = a
	return nil
}

func (n *nativeLM) Close() {
	if n.ctx != nil {
		n.ctx.Close()
	}
	if n.adapter != nil {
		n.adapter.Close()
	}
	n.m.Close()
	n.ctx, n.adapter = nil, nil
}

// nativeLearner is the ggml training graph.
type nativeLearner struct {
	t    *train.Trainer
	full bool
}

func (l *nativeLearner) Step(micro [][]TrainSeq) (TrainStats, error) {
	tm := make([][]train.Seq, len(micro))
	for i, mb := range micro {
		tm[i] = make([]train.Seq, len(mb))
		for j, s := range mb {
			tm[i][j] = train.Seq{Tokens: s.Tokens, Mask: s.Mask, Weights: s.Weights}
		}
	}
	st, err := l.t.Step(tm)
	if err != nil {
		return TrainStats{}, err
	}
	return TrainStats{Loss: st.Loss, GradNorm: st.GradNorm, LR: st.LR, Tokens: st.Tokens, Skipped: st.Skipped, Step: st.Step}, nil
}

// SaveAdapter writes what the student loads next: a LoRA GGUF, or in
// full-weights mode the whole model.
func (l *nativeLearner) SaveAdapter(path string) error {
	if l.full {
		return l.t.SaveModel(path)
	}
	return l.t.SaveAdapter(path)
}

func (l *nativeLearner) SaveState(path string) error { return l.t.SaveState(path) }
func (l *nativeLearner) LoadState(path string) error { return l.t.LoadState(path) }
func (l *nativeLearner) Close()                      { l.t.Close() }
