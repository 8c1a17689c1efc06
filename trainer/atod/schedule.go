package atod

import (
	"fmt"
	"math"
)

// Schedule anneals the two coefficients of the token advantage
// A_t = κ(s)·κ_opd·w_k·Δ_t + ρ(s)·a_rl(i) over the global step s:
//
//	x = clamp((s − warmup)/anneal_steps, 0, 1), f(x) ∈ [0, 1] the shape,
//	κ(s) = κ_0 + (κ_1 − κ_0)·f(x),  ρ(s) = ρ_0 + (ρ_1 − ρ_0)·f(x).
//
// Form "coefficients" (the paper's) takes κ_0, κ_1, ρ_0, ρ_1 from kappa_init,
// kappa_min, rho_init, rho_max; with the linear shape and no warmup this is the
// paper's κ(s) = max(κ_min, κ_init − (κ_init − κ_min)·min(s/T, 1)) and
// ρ(s) = ρ_init + (ρ_max − ρ_init)·min(s/T, 1).
// Form "convex" (atod's earlier one) anneals one λ = λ0 + (λ1 − λ0)·f(x) and
// sets κ = 1 − λ, ρ = λ: the same formula with κ_0 = 1 − λ0, κ_1 = 1 − λ1,
// ρ_0 = λ0, ρ_1 = λ1. The shape, warmup, anneal_steps and kappa keys make its Ramp.
type Schedule struct {
	Form        string  `toml:"form,omitempty"` // coefficients | convex
	Shape       string  `toml:"shape"`          // constant | linear | cosine | exp | step
	Lambda0     float64 `toml:"lambda0"`
	Lambda1     float64 `toml:"lambda1"`
	Warmup      int     `toml:"warmup"`
	AnnealSteps int     `toml:"anneal_steps"`
	Kappa       float64 `toml:"kappa"` // steepness of the exp shape
	KappaInit   float64 `toml:"kappa_init,omitzero"`
	KappaMin    float64 `toml:"kappa_min,omitzero"`
	RhoInit     float64 `toml:"rho_init,omitzero"`
	RhoMax      float64 `toml:"rho_max,omitzero"`
}

// Ramp is the annealing every coefficient follows over the global step s:
//
//	x = clamp((s − warmup)/anneal_steps, 0, 1),  v(s) = v_0 + (v_1 − v_0)·f(x),
//
// f ∈ [0, 1] the shape. Schedule's κ and ρ follow one (its shape, warmup,
// anneal_steps and kappa keys); the distillation weight its own.
type Ramp struct {
	Shape       string  `toml:"shape"` // constant | linear | cosine | exp | step
	Warmup      int     `toml:"warmup"`
	AnnealSteps int     `toml:"anneal_steps"`
	Kappa       float64 `toml:"kappa"` // steepness of the exp shape
}

// Ramp is the schedule's annealing.
func (s Schedule) Ramp() Ramp {
	return Ramp{Shape: s.Shape, Warmup: s.Warmup, AnnealSteps: s.AnnealSteps, Kappa: s.Kappa}
}

// Progress is x = clamp((step − warmup)/anneal_steps, 0, 1); with anneal_steps ≤ 0
// the switch comes right after the warmup steps, as the limit of the formula.
func (r Ramp) Progress(step int) float64 {
	if r.AnnealSteps <= 0 {
		if step > r.Warmup {
			return 1
		}
		return 0
	}
	x := float64(step-r.Warmup) / float64(r.AnnealSteps)
	return math.Max(0, math.Min(1, x))
}

// shape returns f(x) ∈ [0, 1] for the configured shape.
//   - constant: 0 (v ≡ v_0)
//   - linear:   x
//   - cosine:   (1 − cos πx)/2
//   - exp:      (1 − e^(−κx))/(1 − e^(−κ)), κ ≠ 0 (fast rise early for κ > 0)
//   - step:     0 until the anneal window is over (x < 1), then 1: the
//     value jumps at step warmup + anneal_steps.
func (r Ramp) shape(x float64) float64 {
	switch r.Shape {
	case "constant":
		return 0
	case "linear":
		return x
	case "cosine":
		return (1 - math.Cos(math.Pi*x)) / 2
	case "exp":
		return (1 - math.Exp(-r.Kappa*x)) / (1 - math.Exp(-r.Kappa))
	case "step":
		if x >= 1 {
			return 1
		}
		return 0
	}
	panic("atod: unvalidated schedule shape " + r.Shape)
}

// At is v(step) = v0 + (v1 − v0)·f(x(step)).
func (r Ramp) At(step int, v0, v1 float64) float64 {
	return v0 + (v1-v0)*r.shape(r.Progress(step))
}

// Validate checks the ramp's keys, which live in the config section named.
func (r Ramp) Validate(section string) error {
	switch r.Shape {
	case "constant", "linear", "cosine", "step":
	case "exp":
		if r.Kappa == 0 || math.IsNaN(r.Kappa) || math.IsInf(r.Kappa, 0) {
			return fmt.Errorf("%s.kappa = %v: the exp shape needs a finite κ ≠ 0", section, r.Kappa)
		}
	default:
		return fmt.Errorf("%s.shape = %q: want constant, linear, cosine, exp or step", section, r.Shape)
	}
	if r.Warmup < 0 || r.AnnealSteps < 0 {
		return fmt.Errorf("%s.warmup = %d, %s.anneal_steps = %d: want ≥ 0", section, r.Warmup, section, r.AnnealSteps)
	}
	return nil
}

// ends returns κ_0, κ_1, ρ_0, ρ_1 of the form.
func (s Schedule) ends() (k0, k1, r0, r1 float64) {
	if s.Form == "convex" {
		return 1 - s.Lambda0, 1 - s.Lambda1, s.Lambda0, s.Lambda1
	}
	return s.KappaInit, s.KappaMin, s.RhoInit, s.RhoMax
}

// Coefficients returns κ(step) and ρ(step).
func (s Schedule) Coefficients(step int) (kappa, rho float64) {
	k0, k1, r0, r1 := s.ends()
	r := s.Ramp()
	return r.At(step, k0, k1), r.At(step, r0, r1)
}

// RLShare is ρ/(κ + ρ), the RL term's share of the mix (0 when both are 0):
// λ itself in the convex form, where κ + ρ = 1.
func RLShare(kappa, rho float64) float64 {
	if kappa+rho == 0 {
		return 0
	}
	return rho / (kappa + rho)
}

// MaxRho is the largest ρ the schedule can reach (f spans [0, 1]).
func (s Schedule) MaxRho() float64 {
	_, _, r0, r1 := s.ends()
	if s.Shape == "constant" {
		return r0
	}
	return math.Max(r0, r1)
}

// Validate checks the schedule keys; errors name them.
func (s Schedule) Validate() error {
	if err := s.Ramp().Validate("schedule"); err != nil {
		return err
	}
	type key struct {
		k    string
		v    float64
		h    float64 // upper bound
		want string
	}
	var keys []key
	switch s.Form {
	case "convex":
		keys = []key{{"schedule.lambda0", s.Lambda0, 1, "[0, 1]"}, {"schedule.lambda1", s.Lambda1, 1, "[0, 1]"}}
	case "coefficients":
		inf := math.Inf(1)
		keys = []key{{"schedule.kappa_init", s.KappaInit, inf, "≥ 0"}, {"schedule.kappa_min", s.KappaMin, inf, "≥ 0"},
			{"schedule.rho_init", s.RhoInit, inf, "≥ 0"}, {"schedule.rho_max", s.RhoMax, inf, "≥ 0"}}
	default:
		return fmt.Errorf("schedule.form = %q: want coefficients or convex", s.Form)
	}
	for _, l := range keys {
		if !(l.v >= 0 && l.v <= l.h) || math.IsInf(l.v, 0) {
			return fmt.Errorf("%s = %v: want a value in %s", l.k, l.v, l.want)
		}
	}
	return nil
}
