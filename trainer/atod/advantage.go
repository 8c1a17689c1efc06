// Package atod is the ATOD algorithm as pure functions, each formula in the
// comment above its code: the annealed coefficients κ(s) and ρ(s), the OPD
// signal, GRPO group advantages, T-DUR turn weights and the per-token advantage
// A_t = κ(s)·κ_opd·w_k·Δ_t + ρ(s)·a_rl(i) handed to the train step.
// No I/O, no models: the run composes them over scored episodes.
package atod

import (
	"math"
	"slices"

	"github.com/atod-dev/atod/model"
)

// OPD is the distillation signal's settings: the run config's [opd].
type OPD struct {
	Kappa float64 `toml:"kappa"` // κ_opd
	Clip  float64 `toml:"clip"`  // c; 0 = unclipped
}

// GRPO is how a group's returns become a_rl: the run config's [grpo].
type GRPO struct {
	StdNorm bool    `toml:"std_norm"`
	Eps     float64 `toml:"eps"`
	// FilterGroups leaves groups whose episodes all scored the same out of the
	// RL term (DAPO's dynamic sampling without resampling): their returns differ
	// by the invalid-action penalty at most.
	FilterGroups bool `toml:"filter_groups,omitempty"`
}

// Loss is how the token advantages become the learner's weights: the run config's [loss].
type Loss struct {
	Aggregation string  `toml:"aggregation,omitempty"` // sequence | token
	TISCap      float64 `toml:"tis_cap,omitzero"`      // C of min(π_learner/π_sampler, C); 0 = off
}

// OPDAdvantage is the per-token distillation signal, the negative reverse-KL
// sample Δ_t = lp_t(t) − lp_s(t), clipped to [−c, c] when c > 0 (the paper
// leaves it unclipped: c = 0).
func OPDAdvantage(lpTeacher, lpStudent, c float64) float64 {
	d := lpTeacher - lpStudent
	if c <= 0 {
		return d
	}
	return math.Max(-c, math.Min(c, d))
}

// EpisodeReturn is R = final score − penalty × number of invalid actions.
func EpisodeReturn(score float64, invalid int, penalty float64) float64 {
	return score - penalty*float64(invalid)
}

// GRPOAdvantages turns one group's returns into a_rl(i) = (R_i − mean R)/(std R + eps),
// or R_i − mean R without std normalisation. std is the population standard
// deviation, so a group of equal returns gets 0 everywhere.
func GRPOAdvantages(returns []float64, stdNorm bool, eps float64) []float64 {
	mean, std := MeanStd(returns)
	adv := make([]float64, len(returns))
	if len(returns) == 0 || slices.Min(returns) == slices.Max(returns) {
		// Equal returns carry no signal. Tested on the returns themselves: their
		// floating-point mean can differ from them by an ulp, and with eps = 0 that
		// rounding error would be blown up to ±1.
		return adv
	}
	for i, r := range returns {
		adv[i] = r - mean
		if stdNorm {
			adv[i] /= std + eps
		}
	}
	return adv
}

// MeanStd returns the mean and population standard deviation (0, 0 when empty).
func MeanStd(xs []float64) (mean, std float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		std += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(std / float64(len(xs)))
}

// TokenWeight is A_t = κ·κ_opd·w_k·a_opd(t) + ρ·a_rl(i), the constant weight
// of log π(y_t) in the loss (aggregated per sequence or per token, see
// AggregationScale). In the convex form κ = 1 − λ and ρ = λ.
func TokenWeight(kappa, rho, kappaOPD, wTurn, aOPD, aRL float64) float64 {
	return kappa*kappaOPD*wTurn*aOPD + rho*aRL
}

// AggregationScale is what multiplies A_t so that the learner's loss
// −(1/N) Σ_t weight_t·log π(y_t), over the step's N action tokens, becomes
//   - "sequence" (the paper's): −(1/G) Σ_i (1/|T_i|) Σ_{t ∈ T_i} A_t·log π(y_t),
//     G sequences (trajectories) with |T_i| action tokens each: scale N/(G·|T_i|);
//   - "token": −(1/N) Σ_t A_t·log π(y_t): scale 1.
func AggregationScale(aggregation string, n, g, seqTokens int) float64 {
	if aggregation == "token" || g == 0 || seqTokens == 0 {
		return 1
	}
	return float64(n) / (float64(g) * float64(seqTokens))
}

// TruncatedIS is min(π_learner/π_sampler, c) = min(exp(lp_learner − lp_sampler), c),
// the truncated importance weight that corrects A_t for the difference between
// the sampler's and the learner's numerics (c ≤ 0: off, 1).
func TruncatedIS(lpLearner, lpSampler, c float64) float64 {
	if c <= 0 {
		return 1
	}
	return math.Min(math.Exp(lpLearner-lpSampler), c)
}

// TopKKL estimates the per-position reverse KL(π_s ‖ π_t) from the two models'
// top-k lists: Σ_{v ∈ top-k_s} p̃_s(v)·(lp_s(v) − lp_t(v)), with p̃_s the student's
// probabilities renormalised over its top-k. A token missing from the teacher's
// list gets the teacher's smallest listed log-prob (an upper bound on its true
// value), so the estimate errs low rather than exploding.
func TopKKL(student, teacher []model.TokenLogProb) float64 {
	if len(student) == 0 || len(teacher) == 0 {
		return 0
	}
	lpT := make(map[int32]float64, len(teacher))
	floor := math.Inf(1)
	for _, e := range teacher {
		lpT[e.Token] = float64(e.LogProb)
		floor = math.Min(floor, float64(e.LogProb))
	}
	var z, kl float64
	for _, e := range student {
		z += math.Exp(float64(e.LogProb))
	}
	for _, e := range student {
		t, ok := lpT[e.Token]
		if !ok {
			t = floor
		}
		kl += math.Exp(float64(e.LogProb)) / z * (float64(e.LogProb) - t)
	}
	return kl
}
