package atod

import (
	"fmt"
	"math"
)

// TDUR configures turn-level disagreement–uncertainty reweighting, in one of
// two forms: "paper" (min–max per trajectory, soft-OR) or "zscore" (atod's
// earlier form; beta, tau, w_min, w_max, disagreement and topk are its keys).
type TDUR struct {
	Enabled      bool    `toml:"enabled"`
	Form         string  `toml:"form,omitempty"` // paper | zscore
	Beta         float64 `toml:"beta"`           // weight of disagreement vs uncertainty
	Tau          float64 `toml:"tau"`            // temperature of exp(u/τ)
	WMin         float64 `toml:"w_min"`
	WMax         float64 `toml:"w_max"`
	Disagreement string  `toml:"disagreement"` // "logratio" (mean lp_s − lp_t) | "topk_kl"
	TopK         int     `toml:"topk"`         // list length for topk_kl
}

// Validate checks the tdur keys; errors name them.
func (c TDUR) Validate() error {
	if !c.Enabled {
		return nil
	}
	switch c.Form {
	case "paper":
		return nil
	case "zscore":
	default:
		return fmt.Errorf("tdur.form = %q: want paper or zscore", c.Form)
	}
	switch {
	case !(c.Beta >= 0 && c.Beta <= 1):
		return fmt.Errorf("tdur.beta = %v: want [0, 1]", c.Beta)
	case !(c.Tau > 0):
		return fmt.Errorf("tdur.tau = %v: want > 0", c.Tau)
	case !(c.WMin > 0 && c.WMin <= 1 && c.WMax >= 1):
		return fmt.Errorf("tdur.w_min = %v, tdur.w_max = %v: want 0 < w_min ≤ 1 ≤ w_max", c.WMin, c.WMax)
	}
	switch c.Disagreement {
	case "logratio":
	case "topk_kl":
		if c.TopK < 1 {
			return fmt.Errorf("tdur.topk = %d: topk_kl needs topk ≥ 1", c.TopK)
		}
	default:
		return fmt.Errorf("tdur.disagreement = %q: want logratio or topk_kl", c.Disagreement)
	}
	return nil
}

// TurnStat is one turn's disagreement D_k and uncertainty U_k (means over the
// turn's action tokens). Turns with no tokens are left out of the statistics.
type TurnStat struct {
	D, U   float64
	Tokens int
}

// Stat is one turn's D_k and U_k from its action tokens' student and teacher
// log-probs, the student's entropies and (topk_kl) per-token top-k KL:
//   - paper:  D_k = (1/N_k) Σ |lp_s − lp_t|, U_k = (1/N_k) Σ −lp_s (the sampled tokens' NLL);
//   - zscore: D_k = (1/N_k) Σ (lp_s − lp_t) or the mean top-k KL, U_k = mean entropy.
func (c TDUR) Stat(lpS, lpT, ent []float32, kl []float64) TurnStat {
	s := TurnStat{Tokens: len(lpS)}
	for j := range lpS {
		d := float64(lpS[j]) - float64(lpT[j])
		switch {
		case c.Form == "paper":
			s.D += math.Abs(d)
			s.U -= float64(lpS[j])
		default:
			if kl != nil {
				d = kl[j]
			}
			s.D += d
			s.U += float64(ent[j])
		}
	}
	if s.Tokens > 0 {
		s.D /= float64(s.Tokens)
		s.U /= float64(s.Tokens)
	}
	return s
}

// TurnWeights computes w_k for every turn of every episode of a batch, in the
// configured form (paperWeights or zscoreWeights).
func (c TDUR) TurnWeights(episodes [][]TurnStat) [][]float64 {
	if c.Form == "paper" {
		out := make([][]float64, len(episodes))
		for i, ep := range episodes {
			out[i] = paperWeights(ep)
		}
		return out
	}
	return c.zscoreWeights(episodes)
}

// paperWeights is the paper's T-DUR over one trajectory's turns: D and U are
// min–max normalised across the trajectory's turns, x̃ = (x − min)/(max − min)
// (0.5 when max − min < 1e-8), and fused by soft-OR
// w_k = 1 − (1 − D̃_k)(1 − Ũ_k) ∈ [0, 1], with no renormalisation. A one-turn
// trajectory gets 1 − 0.5·0.5 = 0.75. Empty turns get 1 (they carry no tokens).
func paperWeights(ep []TurnStat) []float64 {
	w := make([]float64, len(ep))
	dlo, dhi, ulo, uhi := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range ep {
		if s.Tokens > 0 {
			dlo, dhi = math.Min(dlo, s.D), math.Max(dhi, s.D)
			ulo, uhi = math.Min(ulo, s.U), math.Max(uhi, s.U)
		}
	}
	norm := func(x, lo, hi float64) float64 {
		if hi-lo < 1e-8 {
			return 0.5
		}
		return (x - lo) / (hi - lo)
	}
	for k, s := range ep {
		w[k] = 1
		if s.Tokens > 0 {
			w[k] = 1 - (1-norm(s.D, dlo, dhi))*(1-norm(s.U, ulo, uhi))
		}
	}
	return w
}

// zscoreWeights computes w_k for every turn of every episode of a batch:
// D and U are z-scored over all the batch's turns, u_k = β·z(D_k) + (1 − β)·z(U_k),
// w_k = exp(u_k/τ) normalised to mean 1 within the episode, clipped to
// [w_min, w_max] and renormalised to mean 1 (the renormalisation may push a
// weight slightly past a bound again; the mean-1 property is the one kept).
// Empty turns get weight 1 and do not count in the episode mean.
func (c TDUR) zscoreWeights(episodes [][]TurnStat) [][]float64 {
	var ds, us []float64
	for _, ep := range episodes {
		for _, s := range ep {
			if s.Tokens > 0 {
				ds, us = append(ds, s.D), append(us, s.U)
			}
		}
	}
	mD, sD := MeanStd(ds)
	mU, sU := MeanStd(us)
	z := func(x, m, s float64) float64 {
		if s == 0 {
			return 0
		}
		return (x - m) / s
	}
	out := make([][]float64, len(episodes))
	for i, ep := range episodes {
		w := make([]float64, len(ep))
		var live []int
		for k, s := range ep {
			w[k] = 1
			if s.Tokens > 0 {
				live = append(live, k)
			}
		}
		if len(live) > 0 {
			u := make([]float64, len(live))
			umax := math.Inf(-1)
			for j, k := range live {
				u[j] = (c.Beta*z(ep[k].D, mD, sD) + (1-c.Beta)*z(ep[k].U, mU, sU)) / c.Tau
				umax = math.Max(umax, u[j])
			}
			for j, k := range live {
				w[k] = math.Exp(u[j] - umax) // the shift cancels in the normalisation
			}
			normalise(w, live)
			for _, k := range live {
				w[k] = math.Max(c.WMin, math.Min(c.WMax, w[k]))
			}
			normalise(w, live)
		}
		out[i] = w
	}
	return out
}

// normalise scales w[k], k ∈ idx, to mean 1.
func normalise(w []float64, idx []int) {
	var s float64
	for _, k := range idx {
		s += w[k]
	}
	for _, k := range idx {
		w[k] *= float64(len(idx)) / s
	}
}
