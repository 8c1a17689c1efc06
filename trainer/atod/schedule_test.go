package atod

import (
	"math"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestScheduleShapes(t *testing.T) {
	// warmup 10, anneal 20: step 20 is x = 0.5, step 15 is x = 0.25.
	base := Schedule{Lambda0: 0.2, Lambda1: 1, Warmup: 10, AnnealSteps: 20, Kappa: 2}
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
		if got := s.Lambda(c.step); !near(got, c.want, 1e-7) {
			t.Errorf("%s step %d: λ = %.8f, want %.8f", c.shape, c.step, got, c.want)
		}
	}
}

func TestScheduleDecreasingAndImmediate(t *testing.T) {
	s := Schedule{Shape: "linear", Lambda0: 1, Lambda1: 0, AnnealSteps: 4}
	if got := s.Lambda(1); !near(got, 0.75, 1e-12) {
		t.Errorf("decreasing linear λ(1) = %v, want 0.75", got)
	}
	s = Schedule{Shape: "cosine", Lambda0: 0, Lambda1: 1, Warmup: 3}
	// warmup = 3 steps at λ0, then λ1 (the same switch as anneal_steps = 1 gives at step 4).
	if s.Lambda(3) != 0 || s.Lambda(4) != 1 {
		t.Errorf("anneal_steps 0: λ(3), λ(4) = %v, %v, want 0, 1", s.Lambda(3), s.Lambda(4))
	}
	if (Schedule{Shape: "constant", Lambda0: 0, Lambda1: 1}).MaxLambda() != 0 {
		t.Error("constant schedule max λ is λ0")
	}
}

func TestScheduleValidate(t *testing.T) {
	bad := []Schedule{
		{Shape: "sigmoid"},
		{Shape: "exp", Kappa: 0, Lambda1: 1},
		{Shape: "linear", Lambda1: 1.5},
		{Shape: "linear", Lambda0: -0.1},
		{Shape: "linear", AnnealSteps: -1},
	}
	for _, s := range bad {
		if s.Validate() == nil {
			t.Errorf("%+v: accepted", s)
		}
	}
}
