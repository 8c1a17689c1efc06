package trainer

import (
	"math"
	"slices"
	"sort"

	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/trainer/atod"
	"github.com/atod-dev/atod/trainer/rollout"
)

// batch is a step's training input and the figures it was computed from.
type batch struct {
	seqs      []model.TrainSeq
	returns   []float64     // R_i per episode
	advRL     []float64     // a_rl(i) per episode
	turnW     [][]float64   // w_k per episode and turn
	tokW      [][][]float32 // A(t) per episode, turn and action token
	revKL     float64       // mean lp_s − lp_t over action tokens
	groups    groupStats
	tokens    int // action tokens
	nonFinite int // tokens whose weight came out NaN/Inf (set to 0)
}

// buildBatch turns scored episodes into per-token weights
// A(t) = (1 − λ)·κ_opd·w_k·a_opd(t) + λ·a_rl(i) on the action tokens.
func buildBatch(cfg *Config, eps []*rollout.Episode, lambda float64) batch {
	var b batch
	b.returns = make([]float64, len(eps))
	groups := map[int][]int{}
	var order []int
	for i, e := range eps {
		b.returns[i] = atod.EpisodeReturn(e.Score, e.Invalid, cfg.Rollout.InvalidPenalty)
		if _, ok := groups[e.TaskIdx]; !ok {
			order = append(order, e.TaskIdx)
		}
		groups[e.TaskIdx] = append(groups[e.TaskIdx], i)
	}
	b.advRL = make([]float64, len(eps))
	for _, g := range order {
		idx := groups[g]
		rs := make([]float64, len(idx))
		for j, i := range idx {
			rs[j] = b.returns[i]
		}
		for j, a := range atod.GRPOAdvantages(rs, cfg.GRPO.StdNorm, cfg.GRPO.Eps) {
			b.advRL[idx[j]] = a
		}
		b.groups.add(eps, idx, rs)
	}
	b.groups.finish(b.advRL)

	stats := make([][]atod.TurnStat, len(eps))
	var klSum float64
	for i, e := range eps {
		stats[i] = make([]atod.TurnStat, len(e.Turns))
		for k, t := range e.Turns {
			s := atod.TurnStat{Tokens: t.N}
			for j := 0; j < t.N; j++ {
				d := float64(t.LpS[j]) - float64(t.LpT[j])
				klSum += d
				if t.KL != nil {
					d = t.KL[j]
				}
				s.D += d
				s.U += float64(t.Ent[j])
			}
			if t.N > 0 {
				s.D /= float64(t.N)
				s.U /= float64(t.N)
			}
			stats[i][k] = s
			b.tokens += t.N
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
			b.turnW[i] = make([]float64, len(e.Turns))
			for k := range b.turnW[i] {
				b.turnW[i][k] = 1
			}
		}
	}

	b.tokW = make([][][]float32, len(eps))
	for i, e := range eps {
		b.tokW[i] = make([][]float32, len(e.Turns))
		for si, toks := range e.Seqs {
			seq := model.TrainSeq{Tokens: toks, Mask: make([]bool, len(toks)), Weights: make([]float32, len(toks))}
			any := false
			for k, t := range e.Turns {
				if t.Seq != si {
					continue
				}
				for j := 0; j < t.N; j++ {
					aOPD := atod.OPDAdvantage(float64(t.LpT[j]), float64(t.LpS[j]), cfg.OPD.Clip)
					w := atod.TokenWeight(lambda, cfg.OPD.Kappa, b.turnW[i][k], aOPD, b.advRL[i])
					if math.IsNaN(w) || math.IsInf(w, 0) {
						w = 0
						b.nonFinite++
					}
					seq.Mask[t.Start+j] = true
					seq.Weights[t.Start+j] = float32(w)
					b.tokW[i][k] = append(b.tokW[i][k], float32(w))
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

// groupStats says how much reward signal a step's groups carry: GRPO learns
// nothing from a group of equal returns, and a group whose episodes all
// scored the same but made different numbers of invalid actions is pushed
// only by the penalty (with std normalisation, as hard as a group with a win).
type groupStats struct {
	n, noSignal, penaltyOnly int
	retStd                   float64 // mean over groups of the population std of R
	advAbs                   float64 // mean |a_rl| over episodes
}

func (g *groupStats) add(eps []*rollout.Episode, idx []int, returns []float64) {
	g.n++
	_, std := atod.MeanStd(returns)
	g.retStd += std
	if slices.Min(returns) == slices.Max(returns) {
		g.noSignal++
		return
	}
	for _, i := range idx[1:] {
		if eps[i].Score != eps[idx[0]].Score {
			return
		}
	}
	g.penaltyOnly++
}

func (g *groupStats) finish(adv []float64) {
	if g.n > 0 {
		g.retStd /= float64(g.n)
	}
	for _, a := range adv {
		g.advAbs += math.Abs(a) / float64(len(adv))
	}
}

// MicroBatches groups seqs into micro-batches of at most budget tokens as the
// learner lays them out (each sequence padded to the batch's longest), sorted
// by length so that sequences of very different lengths do not pad each other;
// a sequence longer than the budget is a micro-batch of its own.
func MicroBatches(seqs []model.TrainSeq, budget int) [][]model.TrainSeq {
	order := make([]int, len(seqs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(seqs[order[a]].Tokens) < len(seqs[order[b]].Tokens) })
	var out [][]model.TrainSeq
	var cur []model.TrainSeq
	for _, i := range order {
		s := seqs[i]
		if len(cur) > 0 && (len(cur)+1)*len(s.Tokens) > budget { // sorted: s is the longest so far
			out, cur = append(out, cur), nil
		}
		cur = append(cur, s)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
