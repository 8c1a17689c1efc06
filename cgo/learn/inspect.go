package learn

/*
#include "train.h"
*/
import "C"

import (
	"fmt"

	"github.com/atod-dev/atod/model"
)

// Inspection and perturbation hooks, used by the gradient and resume tests.

// ParamNames lists the trainable tensors in their fixed order.
func (t *Learner) ParamNames() []string {
	names := make([]string, len(t.params))
	for i, q := range t.params {
		names[i] = q.name
	}
	return names
}

// Param returns a copy of a trainable tensor's values (ggml order).
func (t *Learner) Param(name string) ([]float32, error) {
	q, ok := t.byName[name]
	if !ok {
		return nil, fmt.Errorf("no trainable tensor %q", name)
	}
	return append([]float32(nil), q.data...), nil
}

// SetParam overwrites a trainable tensor's values (moments are kept).
func (t *Learner) SetParam(name string, v []float32) error {
	q, ok := t.byName[name]
	if !ok {
		return fmt.Errorf("no trainable tensor %q", name)
	}
	if len(v) != len(q.data) {
		return fmt.Errorf("%s: %d values, want %d", name, len(v), len(q.data))
	}
	copy(q.data, v)
	for i, p := range t.params {
		if p == q {
			C.atod_train_param_set(t.c, C.int32_t(i), (*C.float)(&q.data[0]))
		}
	}
	return nil
}

// LoRA is the adapter's current weights by tensor name (NAME.lora_a, NAME.lora_b,
// as SaveAdapter writes them), shared with the learner until its next Step;
// nil in FullWeights mode.
func (t *Learner) LoRA() map[string][]float32 {
	if t.cfg.FullWeights {
		return nil
	}
	out := make(map[string][]float32, len(t.params))
	for _, q := range t.params {
		out[q.name] = q.data
	}
	return out
}

// Gradients computes the step's loss and ∂L/∂θ for every trainable tensor without
// updating anything.
func (t *Learner) Gradients(micro [][]model.TrainSeq) (float32, map[string][]float32, error) {
	st, err := t.accumulate(micro)
	if err != nil {
		return 0, nil, fmt.Errorf("gradients: %w", err)
	}
	g := make(map[string][]float32, len(t.params))
	for _, q := range t.params {
		g[q.name] = append([]float32(nil), q.grad...)
	}
	return st.Loss, g, nil
}

// Loss evaluates L = −(1/N) Σ (w·log π − d·KL) over the micro-batches, forward
// only, summing the per-token figures in float64 (for finite differences).
func (t *Learner) Loss(micro [][]model.TrainSeq) (float64, error) {
	var sum float64
	n := 0
	for _, mb := range micro {
		if _, err := t.validSeqs(mb, true); err != nil {
			return 0, fmt.Errorf("loss: %w", err)
		}
		o, err := t.eval(mb, 0, false)
		if err != nil {
			return 0, err
		}
		for i, s := range mb {
			for j, m := range s.Mask {
				if !m {
					continue
				}
				sum += float64(s.Weights[j]) * float64(o.logp[i][j])
				if o.kl != nil && s.Distill != nil {
					sum -= float64(s.Distill[j]) * float64(o.kl[i][j])
				}
				n++
			}
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("loss: no masked-in tokens")
	}
	return -sum / float64(n), nil
}

// DistillKL runs the forward pass only: the distillation term's KL_i where a
// sequence's TopK lists token i, 0 elsewhere (nil: no lists in seqs).
func (t *Learner) DistillKL(seqs []model.TrainSeq) ([][]float32, error) {
	if _, err := t.validSeqs(seqs, false); err != nil {
		return nil, fmt.Errorf("distill kl: %w", err)
	}
	o, err := t.eval(seqs, 0, false)
	return o.kl, err
}
