package learn

/*
#include "train.h"
*/
import "C"

import "math"

// lrAt is the learning rate of optimizer step s (1-based): linear warmup
//
//	lr(s) = LR · s/W                                     for s ≤ W
//
// then cosine decay to LR·MinLRRatio at TotalSteps (constant LR if TotalSteps ≤ W)
//
//	x = (s − W)/(TotalSteps − W) clamped to [0, 1]
//	lr(s) = LR · (r + (1 − r)·(1 + cos πx)/2),  r = MinLRRatio
func (c *Config) lrAt(s int) float32 {
	if s <= c.WarmupSteps {
		return c.LR * float32(s) / float32(c.WarmupSteps)
	}
	if c.TotalSteps <= c.WarmupSteps {
		return c.LR
	}
	x := math.Min(1, float64(s-c.WarmupSteps)/float64(c.TotalSteps-c.WarmupSteps))
	r := float64(c.MinLRRatio)
	return float32(float64(c.LR) * (r + (1-r)*(1+math.Cos(math.Pi*x))/2))
}

// gradNorm is the global L2 norm ‖g‖ = √(Σ g²) over every trainable tensor,
// accumulated in float64; NaN or Inf if any gradient entry is.
func (t *Learner) gradNorm() float64 {
	var ss float64
	for _, q := range t.params {
		for _, g := range q.grad {
			ss += float64(g) * float64(g)
		}
	}
	return math.Sqrt(ss)
}

// update clips the gradient to ClipNorm (g ← g·c/‖g‖ when ‖g‖ > c) and applies
// AdamW (Loshchilov & Hutter, decoupled weight decay λ) at step t = t.step:
//
//	m ← β1·m + (1 − β1)·g
//	v ← β2·v + (1 − β2)·g²
//	θ ← θ − lr·( m/(1 − β1^t) / (√(v/(1 − β2^t)) + ε) + λ·θ )
//
// then writes the parameters to the native tensors.
func (t *Learner) update(lr, gnorm float32) {
	c := &t.cfg
	clip := float32(1)
	if c.ClipNorm > 0 && gnorm > c.ClipNorm {
		clip = c.ClipNorm / gnorm
	}
	bc1 := float32(1 - math.Pow(float64(c.Beta1), float64(t.step)))
	bc2 := float32(1 - math.Pow(float64(c.Beta2), float64(t.step)))
	for i, q := range t.params {
		wd := float32(0)
		if q.decay {
			wd = c.WeightDecay
		}
		for j, g := range q.grad {
			g *= clip
			q.m[j] = c.Beta1*q.m[j] + (1-c.Beta1)*g
			q.v[j] = c.Beta2*q.v[j] + (1-c.Beta2)*g*g
			mh := q.m[j] / bc1
			vh := q.v[j] / bc2
			q.data[j] -= lr * (mh/(float32(math.Sqrt(float64(vh)))+c.Eps) + wd*q.data[j])
		}
		C.atod_train_param_set(t.c, C.int32_t(i), (*C.float)(&q.data[0]))
	}
}
