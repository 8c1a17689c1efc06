package atod

import (
	"fmt"
	"math"
)

// Schedule is the annealed mixing weight between the OPD and the RL signal:
// λ(step) = λ0 + (λ1 − λ0)·f(x), x = clamp((step − warmup)/anneal_steps, 0, 1).
type Schedule struct {
	Shape       string  `toml:"shape"` // constant | linear | cosine | exp | step
	Lambda0     float64 `toml:"lambda0"`
	Lambda1     float64 `toml:"lambda1"`
	Warmup      int     `toml:"warmup"`
	AnnealSteps int     `toml:"anneal_steps"`
	Kappa       float64 `toml:"kappa"` // steepness of the exp shape
}

// Progress is x = clamp((step − warmup)/anneal_steps, 0, 1); with anneal_steps ≤ 0
// the switch comes right after the warmup steps, as the limit of the formula.
func (s Schedule) Progress(step int) float64 {
	if s.AnnealSteps <= 0 {
		if step > s.Warmup {
			return 1
		}
		return 0
	}
	x := float64(step-s.Warmup) / float64(s.AnnealSteps)
	return math.Max(0, math.Min(1, x))
}

// Shape returns f(x) ∈ [0, 1] for the configured shape.
//   - constant: 0 (λ ≡ λ0)
//   - linear:   x
//   - cosine:   (1 − cos πx)/2
//   - exp:      (1 − e^(−κx))/(1 − e^(−κ)), κ ≠ 0 (fast rise early for κ > 0)
//   - step:     0 until the anneal window is over (x < 1), then 1: λ jumps from
//     λ0 to λ1 at step warmup + anneal_steps.
func (s Schedule) shape(x float64) float64 {
	switch s.Shape {
	case "constant":
		return 0
	case "linear":
		return x
	case "cosine":
		return (1 - math.Cos(math.Pi*x)) / 2
	case "exp":
		return (1 - math.Exp(-s.Kappa*x)) / (1 - math.Exp(-s.Kappa))
	case "step":
		if x >= 1 {
			return 1
		}
		return 0
	}
	panic("atod: unvalidated schedule shape " + s.Shape)
}

// Lambda is λ(step).
func (s Schedule) Lambda(step int) float64 {
	return s.Lambda0 + (s.Lambda1-s.Lambda0)*s.shape(s.Progress(step))
}

// MaxLambda is the largest λ the schedule can reach (f spans [0, 1]).
func (s Schedule) MaxLambda() float64 {
	if s.Shape == "constant" {
		return s.Lambda0
	}
	return math.Max(s.Lambda0, s.Lambda1)
}

// Validate checks the schedule keys; errors name them.
func (s Schedule) Validate() error {
	switch s.Shape {
	case "constant", "linear", "cosine", "step":
	case "exp":
		if s.Kappa == 0 || math.IsNaN(s.Kappa) || math.IsInf(s.Kappa, 0) {
			return fmt.Errorf("schedule.kappa = %v: the exp shape needs a finite κ ≠ 0", s.Kappa)
		}
	default:
		return fmt.Errorf("schedule.shape = %q: want constant, linear, cosine, exp or step", s.Shape)
	}
	for _, l := range []struct {
		k string
		v float64
	}{{"schedule.lambda0", s.Lambda0}, {"schedule.lambda1", s.Lambda1}} {
		if !(l.v >= 0 && l.v <= 1) {
			return fmt.Errorf("%s = %v: want a value in [0, 1]", l.k, l.v)
		}
	}
	if s.Warmup < 0 || s.AnnealSteps < 0 {
		return fmt.Errorf("schedule.warmup = %d, schedule.anneal_steps = %d: want ≥ 0", s.Warmup, s.AnnealSteps)
	}
	return nil
}
