package atod

import (
	"math"
	"testing"
)

func TestTDURHandComputed(t *testing.T) {
	// Two episodes, four turns. D = 1, 3, 2, 2 → mean 2, std √0.5; U = 0, 0, 1, 1 → mean 0.5, std 0.5.
	eps := [][]TurnStat{
		{{D: 1, U: 0, Tokens: 2}, {D: 3, U: 0, Tokens: 1}},
		{{D: 2, U: 1, Tokens: 3}, {D: 2, U: 1, Tokens: 1}},
	}
	c := TDUR{Enabled: true, Form: "zscore", Beta: 1, Tau: 1, WMin: 0.01, WMax: 100, Disagreement: "logratio"}
	// β = 1: u = z(D) = −√2, +√2 in episode 0: w ∝ e^−√2, e^√2, mean 1.
	w := c.TurnWeights(eps)
	e := math.Exp(math.Sqrt2)
	want0 := []float64{2 / (e*e + 1), 2 * e * e / (e*e + 1)}
	for k := range want0 {
		if !near(w[0][k], want0[k], 1e-12) {
			t.Errorf("β=1 w[0][%d] = %v, want %v", k, w[0][k], want0[k])
		}
	}
	if w[1][0] != 1 || w[1][1] != 1 {
		t.Errorf("equal turns must get weight 1, got %v", w[1])
	}
	// β = 0: only U counts; episode 0 turns have equal U → 1, 1.
	c.Beta = 0
	w = c.TurnWeights(eps)
	if !near(w[0][0], 1, 1e-12) || !near(w[0][1], 1, 1e-12) {
		t.Errorf("β=0 w[0] = %v, want 1, 1", w[0])
	}
	// β = 0.5, τ = 2, in episode 0: u = (0.5·(∓√2) + 0.5·(−1))/2.
	c.Beta, c.Tau = 0.5, 2
	w = c.TurnWeights(eps)
	a, b := math.Exp((-math.Sqrt2/2-0.5)/2), math.Exp((math.Sqrt2/2-0.5)/2)
	if !near(w[0][0], 2*a/(a+b), 1e-12) || !near(w[0][1], 2*b/(a+b), 1e-12) {
		t.Errorf("β=0.5 τ=2 w[0] = %v, want %v %v", w[0], 2*a/(a+b), 2*b/(a+b))
	}
}

func TestTDURClipsAndKeepsMeanOne(t *testing.T) {
	ep := []TurnStat{{D: 0, Tokens: 1}, {D: 0, Tokens: 1}, {D: 10, Tokens: 1}, {Tokens: 0}}
	c := TDUR{Enabled: true, Form: "zscore", Beta: 1, Tau: 0.1, WMin: 0.5, WMax: 2, Disagreement: "logratio"}
	w := c.TurnWeights([][]TurnStat{ep})[0]
	// Before clipping: w ≈ 0, 0, 3. Clipped: 0.5, 0.5, 2 (mean 1), so renormalising keeps them.
	want := []float64{0.5, 0.5, 2, 1}
	for k := range want {
		if !near(w[k], want[k], 1e-9) {
			t.Errorf("w[%d] = %v, want %v", k, w[k], want[k])
		}
	}
	// A clip that breaks the mean is followed by renormalisation: the mean over live turns is 1.
	c.WMax = 1.5
	w = c.TurnWeights([][]TurnStat{ep})[0]
	if m := (w[0] + w[1] + w[2]) / 3; !near(m, 1, 1e-12) {
		t.Errorf("mean weight %v, want 1 (w = %v)", m, w)
	}
	// clipped 0.5, 0.5, 1.5 (sum 2.5) → ×3/2.5: 0.6, 0.6, 1.8.
	if !near(w[0], 0.6, 1e-9) || !near(w[2], 1.8, 1e-9) {
		t.Errorf("w = %v, want 0.6 0.6 1.8", w)
	}
}

func TestTDURValidate(t *testing.T) {
	ok := TDUR{Enabled: true, Form: "zscore", Beta: 0.5, Tau: 1, WMin: 0.2, WMax: 5, Disagreement: "logratio"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []func(*TDUR){
		func(c *TDUR) { c.Beta = 2 }, func(c *TDUR) { c.Tau = 0 }, func(c *TDUR) { c.WMin = 1.5 },
		func(c *TDUR) { c.WMax = 0.5 }, func(c *TDUR) { c.Disagreement = "js" },
		func(c *TDUR) { c.Disagreement = "topk_kl"; c.TopK = 0 },
		func(c *TDUR) { c.Form = "softor" },
	} {
		c := ok
		f(&c)
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func TestTDURPaperHandComputed(t *testing.T) {
	c := TDUR{Enabled: true, Form: "paper"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	eps := [][]TurnStat{
		{{D: 0.3, U: 2, Tokens: 4}},                        // one turn: D̃ = Ũ = 0.5, w = 0.75
		{{D: 1, U: 1, Tokens: 1}, {D: 1, U: 1, Tokens: 2}}, // equal turns: 0.75 each
		{{D: 0, U: 0, Tokens: 1}, {D: 2, U: 1, Tokens: 1}, {D: 1, U: 4, Tokens: 3}, {Tokens: 0}},
	}
	// Third trajectory: D̃ = 0, 1, 0.5; Ũ = 0, 0.25, 1.
	// w = 1 − (1 − 0)(1 − 0) = 0 (lowest on both), 1 − 0·0.75 = 1, 1 − 0.5·0 = 1; empty turn 1.
	want := [][]float64{{0.75}, {0.75, 0.75}, {0, 1, 1, 1}}
	w := c.TurnWeights(eps)
	for i := range want {
		for k := range want[i] {
			if !near(w[i][k], want[i][k], 1e-12) {
				t.Errorf("w[%d][%d] = %v, want %v", i, k, w[i][k], want[i][k])
			}
		}
	}
	// D̃ = 0.25, Ũ = 0.5 in a two-value range: 1 − 0.75·0.5 = 0.625.
	w = c.TurnWeights([][]TurnStat{{{D: 0, U: 0, Tokens: 1}, {D: 1, U: 1, Tokens: 1}, {D: 0.25, U: 0.5, Tokens: 1}}})
	if !near(w[0][2], 0.625, 1e-12) {
		t.Errorf("w = %v, want 0.625 for the third turn", w[0])
	}
}

func TestTDURStat(t *testing.T) {
	lpS, lpT, ent := []float32{-1, -0.5}, []float32{-2, -0.25}, []float32{1.5, 0.5}
	// paper: D = (|−1 + 2| + |−0.5 + 0.25|)/2 = 0.625, U = (1 + 0.5)/2 = 0.75.
	s := TDUR{Form: "paper"}.Stat(lpS, lpT, ent, nil)
	if !near(s.D, 0.625, 1e-12) || !near(s.U, 0.75, 1e-12) || s.Tokens != 2 {
		t.Errorf("paper stat %+v, want D 0.625 U 0.75", s)
	}
	// zscore: D = (1 − 0.25)/2 = 0.375, U = mean entropy 1; with top-k KL D = mean KL.
	s = TDUR{Form: "zscore"}.Stat(lpS, lpT, ent, nil)
	if !near(s.D, 0.375, 1e-12) || !near(s.U, 1, 1e-12) {
		t.Errorf("zscore stat %+v, want D 0.375 U 1", s)
	}
	if s = (TDUR{Form: "zscore"}).Stat(lpS, lpT, ent, []float64{0.2, 0.4}); !near(s.D, 0.3, 1e-12) {
		t.Errorf("top-k KL D = %v, want 0.3", s.D)
	}
}
