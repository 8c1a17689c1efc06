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
	lpS       [][]float32   // per train sequence, the sampler's lp_s where Mask (for TIS and the mismatch)
	returns   []float64     // R_i per episode
	advRL     []float64     // a_rl(i) per episode
	turnW     [][]float64   // w_k per episode and turn
	tokW      [][][]float32 // the learner's weight per episode, turn and action token
	revKL     float64       // mean lp_s − lp_t over action tokens
	groups    groupStats
	tokens    int // action tokens
	nonFinite int // tokens whose weight came out NaN/Inf (set to 0)
}

// buildBatch turns scored episodes into the learner's per-token weights on the
// action tokens: A_t = κ·κ_opd·w_k·a_opd(t) + ρ·a_rl(i), times the loss
// aggregation's scale (atod.AggregationScale, over the episodes with action
// tokens); and, with distill.topk, the distillation term's d_t = η·scale on
// each action token with the teacher's top-k list there, so that the learner's
// (1/N) Σ d_t·KL_t is η times the KL aggregated as the loss is.
func buildBatch(cfg *Config, eps []*rollout.Episode, kappa, rho, eta float64) batch {
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
		flat := b.groups.add(eps, idx, rs)
		if flat && cfg.GRPO.FilterGroups {
			b.groups.filtered++
			continue // no reward signal: out of the RL term
		}
		for j, a := range atod.GRPOAdvantages(rs, cfg.GRPO.StdNorm, cfg.GRPO.Eps) {
			b.advRL[idx[j]] = a
		}
	}
	b.groups.finish(b.advRL)

	stats := make([][]atod.TurnStat, len(eps))
	epTokens := make([]int, len(eps))
	var klSum float64
	live := 0
	for i, e := range eps {
		stats[i] = make([]atod.TurnStat, len(e.Turns))
		for k, t := range e.Turns {
			stats[i][k] = cfg.TDUR.Stat(t.LpS[:t.N], t.LpT[:t.N], t.Ent[:t.N], t.KL)
			for j := 0; j < t.N; j++ {
				klSum += float64(t.LpS[j]) - float64(t.LpT[j])
			}
			epTokens[i] += t.N
		}
		b.tokens += epTokens[i]
		if epTokens[i] > 0 {
			live++
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
		scale := atod.AggregationScale(cfg.Loss.Aggregation, b.tokens, live, epTokens[i])
		for si, toks := range e.Seqs {
			seq := model.TrainSeq{Tokens: toks, Mask: make([]bool, len(toks)), Weights: make([]float32, len(toks))}
			if cfg.Distill.TopK > 0 {
				seq.Distill, seq.TopK = make([]float32, len(toks)), make([][]model.TokenLogProb, len(toks))
			}
			lpS := make([]float32, len(toks))
			any := false
			for k, t := range e.Turns {
				if t.Seq != si {
					continue
				}
				for j := 0; j < t.N; j++ {
					aOPD := atod.OPDAdvantage(float64(t.LpT[j]), float64(t.LpS[j]), cfg.OPD.Clip)
					w := scale * atod.TokenWeight(kappa, rho, cfg.OPD.Kappa, b.turnW[i][k], aOPD, b.advRL[i])
					if math.IsNaN(w) || math.IsInf(w, 0) {
						w = 0
						b.nonFinite++
					}
					seq.Mask[t.Start+j] = true
					seq.Weights[t.Start+j] = float32(w)
					lpS[t.Start+j] = t.LpS[j]
					if seq.TopK != nil && j < len(t.TopK) && len(t.TopK[j]) > 0 {
						if list, ok := distillList(t.TopK[j]); ok {
							seq.TopK[t.Start+j], seq.Distill[t.Start+j] = list, float32(eta*scale)
						} else {
							b.nonFinite++
						}
					}
					b.tokW[i][k] = append(b.tokW[i][k], float32(w))
					any = true
				}
			}
			if any {
				b.seqs, b.lpS = append(b.seqs, seq), append(b.lpS, lpS)
			}
		}
	}
	return b
}

// distillList is the teacher's top-k list for the learner: its probabilities
// scaled down to sum to 1 where a server's rounding made them sum to more; not
// ok (nil) where a log-prob is NaN or +Inf.
func distillList(l []model.TokenLogProb) ([]model.TokenLogProb, bool) {
	var sum float64
	for _, v := range l {
		if math.IsNaN(float64(v.LogProb)) || math.IsInf(float64(v.LogProb), 1) {
			return nil, false
		}
		sum += math.Exp(float64(v.LogProb))
	}
	if sum <= 1 {
		return l, true
	}
	out := make([]model.TokenLogProb, len(l))
	for i, v := range l {
		out[i] = model.TokenLogProb{Token: v.Token, LogProb: float32(float64(v.LogProb) - math.Log(sum))}
	}
	return out, true
}

// groupStats says how much reward signal a step's groups carry: GRPO learns
// nothing from a group of equal returns, and a group whose episodes all
// scored the same but made different numbers of invalid actions is pushed
// only by the penalty (with std normalisation, as hard as a group with a win).
type groupStats struct {
	n, noSignal, penaltyOnly int
	filtered                 int     // left out of the RL term (grpo.filter_groups)
	withWin                  int     // groups with a won episode
	winEps                   []int   // their episodes
	retStd                   float64 // mean over groups of the population std of R
	advAbs                   float64 // mean |a_rl| over episodes
	absFromWins              float64 // share of Σ|a_rl| from the episodes of groups with a win (0 when Σ = 0)
}

// add counts one group and says whether its episodes all scored the same
// (no reward signal: equal returns, or returns that differ by the penalty alone).
func (g *groupStats) add(eps []*rollout.Episode, idx []int, returns []float64) (flat bool) {
	g.n++
	if slices.ContainsFunc(idx, func(i int) bool { return eps[i].Won }) {
		g.withWin++
		g.winEps = append(g.winEps, idx...)
	}
	_, std := atod.MeanStd(returns)
	g.retStd += std
	if slices.Min(returns) == slices.Max(returns) {
		g.noSignal++
		return true
	}
	for _, i := range idx[1:] {
		if eps[i].Score != eps[idx[0]].Score {
			return false
		}
	}
	g.penaltyOnly++
	return true
}

func (g *groupStats) finish(adv []float64) {
	if g.n > 0 {
		g.retStd /= float64(g.n)
	}
	var sum, fromWins float64
	for _, a := range adv {
		g.advAbs += math.Abs(a) / float64(len(adv))
		sum += math.Abs(a)
	}
	for _, i := range g.winEps {
		fromWins += math.Abs(adv[i])
	}
	if sum > 0 {
		g.absFromWins = fromWins / sum
	}
}

// MicroBatches groups seqs into micro-batches of at most budget tokens as the
// learner lays them out (each sequence padded to the batch's longest), sorted
// by length so that sequences of very different lengths do not pad each other;
// a sequence longer than the budget is a micro-batch of its own.
func MicroBatches(seqs []model.TrainSeq, budget int) [][]model.TrainSeq {
	return gather(seqs, microIndex(seqs, budget))
}

// gather is the micro-batches that idx (microIndex) lists, as sequences.
func gather(seqs []model.TrainSeq, idx [][]int) [][]model.TrainSeq {
	out := make([][]model.TrainSeq, len(idx))
	for m, mb := range idx {
		out[m] = make([]model.TrainSeq, len(mb))
		for j, i := range mb {
			out[m][j] = seqs[i]
		}
	}
	return out
}

// microIndex is MicroBatches as indices into seqs.
func microIndex(seqs []model.TrainSeq, budget int) [][]int {
	order := make([]int, len(seqs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(seqs[order[a]].Tokens) < len(seqs[order[b]].Tokens) })
	var out [][]int
	var cur []int
	for _, i := range order {
		if len(cur) > 0 && (len(cur)+1)*len(seqs[i].Tokens) > budget { // sorted: seqs[i] is the longest so far
			out, cur = append(out, cur), nil
		}
		cur = append(cur, i)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
