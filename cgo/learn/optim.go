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
	lr := float32(c.LR) // the learner computes in float32
	if s <= c.Warmup {
		return lr * float32(s) / float32(c.Warmup)
	}
	if c.TotalSteps <= c.Warmup {
		return lr
	}
	x := math.Min(1, float64(s-c.Warmup)/float64(c.TotalSteps-c.Warmup))
	r := float64(float32(c.MinLRRatio))
	return float32(float64(lr) * (r + (1-r)*(1+math.Cos(math.Pi*x))/2))
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
	// the learner computes in float32
	beta1, beta2, eps, clipNorm := float32(t.cfg.Beta1), float32(t.cfg.Beta2), float32(t.cfg.Eps), float32(t.cfg.ClipNorm)
	clip := float32(1)
	if clipNorm > 0 && gnorm > clipNorm {
		clip = clipNorm / gnorm
	}
	bc1 := float32(1 - math.Pow(float64(beta1), float64(t.step)))
	bc2 := float32(1 - math.Pow(float64(beta2), float64(t.step)))
	for i, q := range t.params {
		wd := float32(0)
		if q.decay {
			wd = float32(t.cfg.WeightDecay)
		}
		for j, g := range q.grad {
			g *= clip
			q.m[j] = beta1*q.m[j] + (1-beta1)*g
			q.v[j] = beta2*q.v[j] + (1-beta2)*g*g
			mh := q.m[j] / bc1
			vh := q.v[j] / bc2
			q.data[j] -= lr * (mh/(float32(math.Sqrt(float64(vh)))+eps) + wd*q.data[j])
		}
		C.atod_train_param_set(t.c, C.int32_t(i), (*C.float)(&q.data[0]))
	}
}
