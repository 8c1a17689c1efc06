package atod

import (
	"math"
	"testing"

	"github.com/atod-dev/atod/model"
)

func TestOPDAdvantageClips(t *testing.T) {
	cases := []struct{ lpT, lpS, c, want float64 }{
		{-1, -3, 5, 2},       // teacher likes the token more: positive
		{-4, -1, 5, -3},      // student overconfident: negative
		{-10, -0.5, 2, -2},   // clipped below
		{-0.1, -20, 2, 2},    // clipped above
		{-0.1, -20, 0, 19.9}, // c = 0: unclipped, as the paper
	}
	for _, c := range cases {
		if got := OPDAdvantage(c.lpT, c.lpS, c.c); got != c.want {
			t.Errorf("OPDAdvantage(%v, %v, %v) = %v, want %v", c.lpT, c.lpS, c.c, got, c.want)
		}
	}
}

func TestGRPOAdvantages(t *testing.T) {
	// returns 1, 0, 0, 1: mean 0.5, population std 0.5.
	got := GRPOAdvantages([]float64{1, 0, 0, 1}, true, 0)
	want := []float64{1, -1, -1, 1}
	for i := range want {
		if !near(got[i], want[i], 1e-12) {
			t.Errorf("a_rl[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	// returns 1, 0.9 (one invalid action, penalty 0.1), 0: mean 0.63333, std 0.44969.
	r := []float64{1, EpisodeReturn(1, 1, 0.1), EpisodeReturn(0, 0, 0.1)}
	got = GRPOAdvantages(r, true, 1e-6)
	if !near(got[0], (1-0.6333333333)/(0.4496912521+1e-6), 1e-8) || !near(got[2], -0.6333333333/(0.4496912521+1e-6), 1e-8) {
		t.Errorf("a_rl = %v", got)
	}
	got = GRPOAdvantages(r, false, 1e-6)
	if !near(got[1], 0.9-0.6333333333, 1e-9) {
		t.Errorf("unnormalised a_rl[1] = %v, want 0.26667", got[1])
	}
	// 1 − 3·0.1 three times: their float mean is 0.6999999999999998, std 1.1e-16;
	// with eps = 0 a std test alone would give ±1.
	same := EpisodeReturn(1, 3, 0.1)
	for _, g := range [][]float64{{0.5, 0.5, 0.5}, {same, same, same}} {
		for i, a := range GRPOAdvantages(g, true, 0) {
			if a != 0 {
				t.Errorf("equal returns %v: a_rl[%d] = %v, want 0", g, i, a)
			}
		}
	}
	if got := GRPOAdvantages(nil, true, 0); len(got) != 0 {
		t.Errorf("empty group: %v", got)
	}
}

func TestTokenWeight(t *testing.T) {
	// κ = 0.75, ρ = 0.25, κ_opd = 2, w = 1.5, a_opd = −0.4, a_rl = 1:
	// 0.75·2·1.5·(−0.4) + 0.25·1 = −0.9 + 0.25 = −0.65
	if got := TokenWeight(0.75, 0.25, 2, 1.5, -0.4, 1); !near(got, -0.65, 1e-12) {
		t.Errorf("A = %v, want −0.65", got)
	}
	if got := TokenWeight(1, 0, 1, 1, 0.3, 7); !near(got, 0.3, 1e-12) {
		t.Errorf("pure OPD A = %v, want 0.3", got)
	}
	if got := TokenWeight(0, 1, 1, 3, 0.3, -2); got != -2 {
		t.Errorf("pure GRPO A = %v, want −2", got)
	}
	// the paper at T/2: κ = 0.55, ρ = 1.5, w = 0.75, Δ = 2, a_rl = −1: 0.825 − 1.5
	if got := TokenWeight(0.55, 1.5, 1, 0.75, 2, -1); !near(got, -0.675, 1e-12) {
		t.Errorf("A = %v, want −0.675", got)
	}
}

func TestTopKKL(t *testing.T) {
	ln := func(p float64) float32 { return float32(math.Log(p)) }
	s := []model.TokenLogProb{{Token: 1, LogProb: ln(0.5)}, {Token: 2, LogProb: ln(0.3)}}
	tt := []model.TokenLogProb{{Token: 1, LogProb: ln(0.25)}, {Token: 3, LogProb: ln(0.6)}}
	// p̃_s = 0.625, 0.375; token 2 missing from the teacher: floor ln 0.25.
	want := 0.625*math.Log(0.5/0.25) + 0.375*math.Log(0.3/0.25)
	if got := TopKKL(s, tt); !near(got, want, 1e-6) {
		t.Errorf("TopKKL = %v, want %v", got, want)
	}
	if TopKKL(s, s) != 0 {
		t.Error("KL of a distribution with itself must be 0")
	}
}

func TestAggregationScale(t *testing.T) {
	// Two sequences of 1 and 3 tokens, N = 4: per sequence, the lone token counts
	// 1/2 and each of the three 1/6, so with the learner's 1/N the scales are
	// 4/(2·1) = 2 and 4/(2·3) = 2/3.
	if got := AggregationScale("sequence", 4, 2, 1); got != 2 {
		t.Errorf("scale %v, want 2", got)
	}
	if got := AggregationScale("sequence", 4, 2, 3); !near(got, 2.0/3, 1e-15) {
		t.Errorf("scale %v, want 2/3", got)
	}
	if AggregationScale("token", 4, 2, 3) != 1 {
		t.Error("token aggregation must leave A alone")
	}
}

func TestTruncatedIS(t *testing.T) {
	if got := TruncatedIS(-1, -1.5, 2); !near(got, math.Exp(0.5), 1e-12) {
		t.Errorf("w = %v, want e^0.5", got)
	}
	if got := TruncatedIS(0, -3, 2); got != 2 {
		t.Errorf("w = %v, want the cap 2", got)
	}
	if TruncatedIS(0, -3, 0) != 1 {
		t.Error("cap 0 must switch it off")
	}
}
