package atod

import (
	"math"
	"strings"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestScheduleShapes(t *testing.T) {
	// warmup 10, anneal 20: step 20 is x = 0.5, step 15 is x = 0.25.
	base := Schedule{Form: "convex", Lambda0: 0.2, Lambda1: 1, Warmup: 10, AnnealSteps: 20, Kappa: 2}
	cases := []struct {
		shape string
		step  int
		want  float64
	}{
		{"constant", 0, 0.2}, {"constant", 100, 0.2},
		{"linear", 0, 0.2}, {"linear", 10, 0.2}, {"linear", 20, 0.2 + 0.8*0.5}, {"linear", 30, 1}, {"linear", 99, 1},
		// cosine at x = 0.25: (1 − cos(π/4))/2 = (1 − 0.70710678)/2 = 0.14644661
		{"cosine", 15, 0.2 + 0.8*0.14644661}, {"cosine", 20, 0.6}, {"cosine", 30, 1},
		// exp κ = 2 at x = 0.5: (1 − e^−1)/(1 − e^−2) = 0.63212056/0.86466472 = 0.73105858
		{"exp", 20, 0.2 + 0.8*0.73105858}, {"exp", 10, 0.2}, {"exp", 30, 1},
		{"step", 29, 0.2}, {"step", 30, 1}, {"step", 10, 0.2},
	}
	for _, c := range cases {
		s := base
		s.Shape = c.shape
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		// convex form: ρ = λ, κ = 1 − λ.
		if k, r := s.Coefficients(c.step); !near(r, c.want, 1e-7) || !near(k, 1-c.want, 1e-7) || !near(RLShare(k, r), c.want, 1e-7) {
			t.Errorf("%s step %d: κ, ρ = %.8f, %.8f, want λ = %.8f", c.shape, c.step, k, r, c.want)
		}
	}
}

func TestScheduleDecreasingAndImmediate(t *testing.T) {
	rho := func(s Schedule, step int) float64 { _, r := s.Coefficients(step); return r }
	s := Schedule{Form: "convex", Shape: "linear", Lambda0: 1, Lambda1: 0, AnnealSteps: 4}
	if got := rho(s, 1); !near(got, 0.75, 1e-12) {
		t.Errorf("decreasing linear λ(1) = %v, want 0.75", got)
	}
	s = Schedule{Form: "convex", Shape: "cosine", Lambda0: 0, Lambda1: 1, Warmup: 3}
	// warmup = 3 steps at λ0, then λ1 (the same switch as anneal_steps = 1 gives at step 4).
	if rho(s, 3) != 0 || rho(s, 4) != 1 {
		t.Errorf("anneal_steps 0: λ(3), λ(4) = %v, %v, want 0, 1", rho(s, 3), rho(s, 4))
	}
	if (Schedule{Form: "convex", Shape: "constant", Lambda0: 0, Lambda1: 1}).MaxRho() != 0 {
		t.Error("constant schedule max λ is λ0")
	}
}

func TestScheduleValidate(t *testing.T) {
	bad := []Schedule{
		{Form: "convex", Shape: "sigmoid"},
		{Form: "convex", Shape: "exp", Kappa: 0, Lambda1: 1},
		{Form: "convex", Shape: "linear", Lambda1: 1.5},
		{Form: "convex", Shape: "linear", Lambda0: -0.1},
		{Form: "convex", Shape: "linear", AnnealSteps: -1},
		{Form: "coefficients", Shape: "linear", KappaMin: -0.1},
		{Form: "coefficients", Shape: "linear", RhoMax: math.Inf(1)},
		{Form: "lambda", Shape: "linear"},
	}
	for _, s := range bad {
		if s.Validate() == nil {
			t.Errorf("%+v: accepted", s)
		}
	}
}

// The paper's schedule: κ 1 → 0.1, ρ 1 → 2, linear over T = 80 steps, held after.
func TestSchedulePaper(t *testing.T) {
	s := Schedule{Form: "coefficients", Shape: "linear", AnnealSteps: 80, KappaInit: 1, KappaMin: 0.1, RhoInit: 1, RhoMax: 2}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	// p = 0, 0.5, 1, 1: κ = 1 − 0.9p, ρ = 1 + p.
	for _, c := range []struct {
		step       int
		kappa, rho float64
	}{{0, 1, 1}, {40, 0.55, 1.5}, {80, 0.1, 2}, {160, 0.1, 2}} {
		if k, r := s.Coefficients(c.step); !near(k, c.kappa, 1e-12) || !near(r, c.rho, 1e-12) {
			t.Errorf("step %d: κ, ρ = %v, %v, want %v, %v", c.step, k, r, c.kappa, c.rho)
		}
	}
	if s.MaxRho() != 2 {
		t.Errorf("max ρ %v, want 2", s.MaxRho())
	}
	// RL share ρ/(κ + ρ) at T/2: 1.5/2.05.
	if k, r := s.Coefficients(40); !near(RLShare(k, r), 1.5/2.05, 1e-12) {
		t.Errorf("RL share %v", RLShare(k, r))
	}
}

// A ramp of its own (the distillation weight's): 1 → 0.1 linear over 10
// steps after 2 of warmup, by hand; its errors name its section.
func TestRampAt(t *testing.T) {
	r := Ramp{Shape: "linear", Warmup: 2, AnnealSteps: 10}
	for _, c := range []struct {
		step int
		want float64
	}{{0, 1}, {2, 1}, {7, 0.55}, {12, 0.1}, {40, 0.1}} {
		if got := r.At(c.step, 1, 0.1); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("step %d: %v, want %v", c.step, got, c.want)
		}
	}
	if err := (Ramp{Shape: "wavy"}).Validate("distill"); err == nil || !strings.Contains(err.Error(), "distill.shape") {
		t.Errorf("error %v does not name distill.shape", err)
	}
}
