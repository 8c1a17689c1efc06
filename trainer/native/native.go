// Package native is the one bridge from the trainer to cgo/: it opens the
// student and teacher with cgo/llama and the training graph with cgo/learn for
// a run's config, and adapts them to model.LM and model.Learner. Nothing else
// outside cgo/ imports cgo/.
package native

import (
	"fmt"

	"github.com/atod-dev/atod/cgo/learn"
	"github.com/atod-dev/atod/cgo/llama"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/trainer"
	"github.com/atod-dev/atod/trainer/scoring"
)

// Open loads what need asks for: the student and teacher each with a context
// of need.NSeq sequences of rollout.context tokens, and the training graph over
// the student. The teacher scores the student's token ids, so its vocabulary
// must be the student's, plus padding ids at most (llama.TeacherVocab).
func Open(cfg *trainer.Config, need trainer.Need) (*trainer.Models, error) {
	mp := llama.ModelParams{Backend: cfg.Backend.Device, GPULayers: cfg.Backend.GPULayers, Threads: cfg.Backend.Threads}
	cp := llama.ContextParams{NCtx: cfg.Rollout.Context, NSeq: max(1, need.NSeq), Threads: cfg.Backend.Threads, KVF16: cfg.Backend.KVF16}
	ms := &trainer.Models{}
	ok := false
	defer func() {
		if !ok {
			ms.Close()
		}
	}()
	var sm, tm *llama.Model
	var err error
	var remote *scoring.Client
	if need.Teacher && cfg.Teacher.URL != "" {
		// Before any model loads: a server that is down fails the run in seconds.
		if remote, err = scoring.Dial(cfg.TeacherClient(max(1, need.NSeq))); err != nil {
			return nil, fmt.Errorf("teacher server: %w", err)
		}
		ms.Teacher = remote
	}
	share := need.Student && need.Learner && cfg.SharesBase() // one copy of the base
	if need.Student {
		smp := mp
		smp.NoRepack = share
		if sm, err = llama.LoadModel(cfg.Student.Model, smp); err != nil {
			return nil, fmt.Errorf("load student %s: %w", cfg.Student.Model, err)
		}
		if ms.Student, err = newLM(sm, cfg.Student.Model, cp, mp, cfg.LoRA.FullWeights); err != nil {
			sm.Close()
			return nil, fmt.Errorf("student: %w", err)
		}
	}
	if remote != nil && sm != nil {
		note, err := remote.Check(ms.Student, cfg.TeacherTopK())
		if err != nil {
			return nil, err
		}
		ms.Notes = append(ms.Notes, note)
	}
	if need.Teacher && remote == nil {
		if tm, err = llama.LoadModel(cfg.Teacher.Model, mp); err != nil {
			return nil, fmt.Errorf("load teacher %s: %w", cfg.Teacher.Model, err)
		}
		if sm != nil {
			pad, err := llama.TeacherVocab(sm, tm)
			if err != nil {
				tm.Close()
				return nil, fmt.Errorf("student %s and teacher %s: %w", cfg.Student.Model, cfg.Teacher.Model, err)
			}
			if pad > 0 {
				ms.Notes = append(ms.Notes, fmt.Sprintf("teacher vocabulary: the student's %d tokens plus %d padding ids; "+
					"the teacher's log-probs are over all %d", sm.VocabSize(), pad, tm.VocabSize()))
			}
		}
		if ms.Teacher, err = newLM(tm, cfg.Teacher.Model, cp, mp, false); err != nil {
			tm.Close()
			return nil, fmt.Errorf("teacher: %w", err)
		}
		note, err := widenNote(cfg.Teacher.Model, llama.OnCPU(mp.Backend) && llama.CPUHasBF16())
		if err != nil {
			return nil, err
		}
		if note != "" {
			ms.Notes = append(ms.Notes, note)
		}
	}
	if need.Weights != "" {
		if err := ms.Student.LoadWeights(need.Weights); err != nil {
			return nil, err
		}
	}
	if need.Learner {
		tc := learn.Config{
			LoRA: cfg.LoRA, Optim: cfg.Optim, Seed: uint64(cfg.Seed), TotalSteps: cfg.Steps, MaxSeqLen: cfg.Rollout.Context,
			Backend: cfg.Backend.Device, GPULayers: cfg.Backend.GPULayers, Threads: cfg.Backend.Threads,
		}
		if tc.FullWeights {
			tc.Rank, tc.Alpha, tc.Targets = 0, 0, nil
		}
		if share {
			tc.Over = sm
		}
		l, err := learn.New(cfg.Student.Model, tc)
		if err != nil {
			return nil, fmt.Errorf("training graph for %s: %w", cfg.Student.Model, err)
		}
		ms.Learner = l
	}
	ok = true
	return ms, nil
}

// OpenScorer loads the GGUF at path to score nseq sequences of nctx tokens at
// a time (atod serve).
func OpenScorer(path string, b trainer.BackendConfig, nseq, nctx int) (model.LM, error) {
	mp := llama.ModelParams{Backend: b.Device, GPULayers: b.GPULayers, Threads: b.Threads}
	m, err := llama.LoadModel(path, mp)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	l, err := newLM(m, path, llama.ContextParams{NCtx: nctx, NSeq: nseq, Threads: b.Threads, KVF16: b.KVF16}, mp, false)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("context for %s: %w", path, err)
	}
	return l, nil
}

// lm is a llama.cpp model with one context. In full-weights mode the trained
// weights are a whole model GGUF, so LoadWeights reloads the model.
type lm struct {
	*llama.Model
	*llama.Context
	adapter *llama.Adapter
	base    string
	cp      llama.ContextParams
	mp      llama.ModelParams
	full    bool
}

var _ model.LM = (*lm)(nil)

func newLM(m *llama.Model, path string, cp llama.ContextParams, mp llama.ModelParams, full bool) (*lm, error) {
	ctx, err := m.NewContext(cp)
	if err != nil {
		return nil, err
	}
	return &lm{Model: m, Context: ctx, base: path, cp: cp, mp: mp, full: full}, nil
}

func (n *lm) NSeq() int { return n.cp.NSeq }
func (n *lm) NCtx() int { return n.cp.NCtx }

// Tokenize never adds BOS: chat templates spell their own start tokens.
func (n *lm) Tokenize(text string, parseSpecial bool) ([]int32, error) {
	return n.Model.Tokenize(text, false, parseSpecial)
}

// ApplyChatTemplate renders with the model's own template.
func (n *lm) ApplyChatTemplate(msgs []model.Message, addAssistant bool) (string, error) {
	return n.Model.ApplyChatTemplate("", msgs, addAssistant)
}

// LoadWeights loads path (a LoRA GGUF, or a whole model in full-weights mode),
// makes it current and frees the previous one; "" goes back to the base.
func (n *lm) LoadWeights(path string) error {
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
		n.Context.Close()
		n.Model.Close()
		n.Model, n.Context = m, ctx
		return nil
	}
	var a *llama.Adapter
	if path != "" {
		var err error
		if a, err = n.LoadAdapter(path); err != nil {
			return fmt.Errorf("load adapter %s: %w", path, err)
		}
	}
	if err := n.SetAdapter(a, 1); err != nil {
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

// SetLoRA hands the student new LoRA weights in memory, into the adapter loaded
// last; false when none is loaded (the first weights come from a file).
func (n *lm) SetLoRA(w map[string][]float32) (bool, error) {
	if n.full || n.adapter == nil {
		return false, nil
	}
	return true, n.adapter.Set(w)
}

func (n *lm) Close() {
	if n.Context != nil {
		n.Context.Close()
	}
	if n.adapter != nil {
		n.adapter.Close()
	}
	n.Model.Close()
	n.Context, n.adapter = nil, nil
}

// Quantize writes the model at in quantized to typ (q8_0, q4_0, q4_k_m,
// q5_k_m or q6_k) at out.
func Quantize(in, out, typ string, threads int) error { return llama.Quantize(in, out, typ, threads) }
