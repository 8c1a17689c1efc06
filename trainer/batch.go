package trainer

import (
	"math"
)

// batch is a step's training input and the figures it was computed from.
type batch struct {
	seqs      []TrainSeq
	returns   []float64   // R_i per episode
	advRL     []float64   // a_rl(i) per episode
	turnW     [][]float64 // w_k per episode and turn
	revKL     float64     // mean lp_s − lp_t over action tokens
	tokens    int         // action tokens
	nonFinite int         // tokens whose weight came out NaN/Inf (set to 0)
}

// buildBatch turns scored episodes into per-token weights
// A(t) = (1 − λ)·κ_opd·w_k·a_opd(t) + λ·a_rl(i) on the action tokens.
func buildBatch(cfg *Config, eps []*episode, lambda float64) batch {
	var b batch
	b.returns = make([]float64, len(eps))
	groups := map[int][]int{}
	var order []int
	for i, e := range eps {
		b.returns[i] = EpisodeReturn(e.score, e.invalid, cfg.Rollout.InvalidPenalty)
		if _, ok := groups[e.taskIdx]; !ok {
			order = append(order, e.taskIdx)
		}
		groups[e.taskIdx] = append(groups[e.taskIdx], i)
	}
	b.advRL = make([]float64, len(eps))
	for _, g := range order {
		idx := groups[g]
		rs := make([]float64, len(idx))
		for j, i := range idx {
			rs[j] = b.returns[i]
		}
		for j, a := range GRPOAdvantages(rs, cfg.GRPO.StdNorm, cfg.GRPO.Eps) {
			b.advRL[idx[j]] = a
		}
	}

	stats := make([][]TurnStat, len(eps))
	var klSum float64
	for i, e := range eps {
		stats[i] = make([]TurnStat, len(e.turns))
		for k, t := range e.turns {
			s := TurnStat{Tokens: t.n}
			for j := 0; j < t.n; j++ {
				d := float64(t.lpS[j]) - float64(t.lpT[j])
				klSum += d
				if t.kl != nil {
					d = t.kl[j]
				}
				s.D += d
				s.U += float64(t.ent[j])
			}
			if t.n > 0 {
				s.D /= float64(t.n)
				s.U /= float64(t.n)
			}
			stats[i][k] = s
			b.tokens += t.n
		}
	}
	if b.tokens > 0 {
		b.revKL = klSum / float64(b.tokens)
	}
	if cfg.TDUR.Enabled {
		b.turnW = cfg.TDUR.TurnWeights(stats)
	} else {
		b.turnW = make([][]float64, len(eps))
		for i, e := range eps {
			b.turnW[i] = make([]float64, len(e.turns))
			for k := range b.turnW[i] {
				b.turnW[i][k] = 1
			}
		}
	}

	for i, e := range eps {
		for si, toks := range e.seqs {
			seq := TrainSeq{Tokens: toks, Mask: make([]bool, len(toks)), Weights: make([]float32, len(toks))}
			any := false
			for k, t := range e.turns {
				if t.seq != si {
					continue
				}
				for j := 0; j < t.n; j++ {
					aOPD := OPDAdvantage(float64(t.lpT[j]), float64(t.lpS[j]), cfg.OPD.Clip)
					w := TokenWeight(lambda, cfg.OPD.Kappa, b.turnW[i][k], aOPD, b.advRL[i])
					if math.IsNaN(w) || math.IsInf(w, 0) {
						w = 0
						b.nonFinite++
					}
					seq.Mask[t.start+j] = true
					seq.Weights[t.start+j] = float32(w)
					any = true
				}
			}
			if any {
				b.seqs = append(b.seqs, seq)
			}
		}
	}
	return b
}

// microBatches splits seqs into groups of at most n.
func microBatches(seqs []TrainSeq, n int) [][]TrainSeq {
	var out [][]TrainSeq
	for lo := 0; lo < len(seqs); lo += n {
		out = append(out, seqs[lo:min(len(seqs), lo+n)])
	}
	return out
}
