package trainer

import (
	"fmt"
	"math"
	"time"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/trainer/atod"
	"github.com/atod-dev/atod/trainer/rollout"
	"github.com/atod-dev/atod/trainer/rundir"
)

// trainStep is one ATOD step: rollouts, teacher scoring, weights, update, sync.
// Between phases it returns ErrInterrupted, the learner untouched, once stopped says so.
func trainStep(cfg *Config, env envs.Env, models *Models, step int, weightsPath string, stopped func() bool, prog *progress) (rundir.StepMetrics, error) {
	m := rundir.StepMetrics{Kind: "train", Step: step, Mismatch: rundir.Float(math.NaN()), DistillKL: rundir.Float(math.NaN())}
	m.Kappa, m.Rho = cfg.Schedule.Coefficients(step)
	m.DistillWeight = cfg.Distill.At(step)
	m.Lambda = atod.RLShare(m.Kappa, m.Rho)
	tasks, err := env.Tasks("train", cfg.Rollout.TasksPerStep, int64(rollout.DeriveSeed(cfg.Seed, int64(step))>>1))
	if err != nil {
		return m, fmt.Errorf("tasks: %w", err)
	}
	t0 := time.Now()
	spec := cfg.spec(cfg.Sampling.Temperature, func(task, r, turn int) uint64 {
		return rollout.DeriveSeed(cfg.Seed, int64(step), int64(task), int64(r), int64(turn))
	})
	spec.Progress = func(turn, maxTurns, wave, waves int) {
		name := "rollout turn"
		if waves > 1 {
			name = fmt.Sprintf("rollout wave %d/%d, turn", wave, waves)
		}
		prog.phase(step, name, turn, maxTurns)
	}
	eps, err := rollout.Play(models.Student, env, tasks, cfg.Rollout.GroupSize, spec)
	if err != nil {
		return m, fmt.Errorf("rollout: %w", err)
	}
	if stopped() {
		return m, ErrInterrupted
	}
	eps, reason := keepGroups(eps, &m)
	if n := cfg.Rollout.TasksPerStep; float64(m.GroupsDrop) > cfg.Rollout.MaxFailedShare*float64(n) {
		return m, fmt.Errorf("the env failed %d of %d groups (more than rollout.max_failed_share = %g) after %d replays each: "+
			"it is down, not flaky; last failure: %s", m.GroupsDrop, n, cfg.Rollout.MaxFailedShare, cfg.Rollout.EnvRetries, reason)
	}
	t1 := time.Now()
	topK := cfg.ScoreTopK()
	score := func(done, total int) { prog.phase(step, "teacher scoring, sequences", done, total) }
	if err := rollout.ScoreTeacher(models.Teacher, models.Student, eps, topK, score); err != nil {
		return m, fmt.Errorf("scoring: %w", err)
	}
	if stopped() {
		return m, ErrInterrupted
	}
	t2 := time.Now()
	b := buildBatch(cfg, eps, m.Kappa, m.Rho, m.DistillWeight)
	o := rollout.Summarise(eps, cfg.Rollout.InvalidPenalty)
	m.Success, m.MeanReturn, m.EpisodeLen, m.InvalidRate = o.Success, o.MeanReturn, o.EpisodeLen, o.InvalidRate
	m.ReverseKL, m.Tokens = rundir.Float(b.revKL), b.tokens
	for _, s := range b.seqs {
		m.SeqTokens += len(s.Tokens)
	}
	if g := b.groups; g.n > 0 {
		m.NoSignal, m.PenaltyOnly = float64(g.noSignal)/float64(g.n), float64(g.penaltyOnly)/float64(g.n)
		m.ReturnStd, m.AdvRLAbs, m.Filtered = g.retStd, g.advAbs, float64(g.filtered)/float64(g.n)
		m.GroupsWithWin, m.RLAbsFromWins = float64(g.withWin)/float64(g.n), g.absFromWins
	}
	wm, wlo, whi, wsd := weightStats(eps, b.turnW)
	m.WMean, m.WMin, m.WMax, m.WStd = rundir.Float(wm), rundir.Float(wlo), rundir.Float(whi), rundir.Float(wsd)
	m.WByTurn = weightsByTurn(eps, b.turnW)
	if b.nonFinite > 0 || len(b.seqs) == 0 {
		m.Skipped = true // nothing sound to learn from; the adapter stays as it is
	} else {
		idx := microIndex(b.seqs, cfg.Optim.MicroTokens)
		micro := gather(b.seqs, idx)
		if cfg.Loss.TISCap > 0 {
			prog.phase(step, "learner log-probs (tis_cap)", 0, len(micro))
			if err := truncateIS(models.Learner, micro, idx, b.lpS, cfg.Loss.TISCap); err != nil {
				return m, fmt.Errorf("train: %w", err)
			}
		}
		train := func(done, n int) { prog.phase(step, "training, micro-batches", done, n) }
		train(0, len(micro))
		models.Learner.OnMicroBatch(train)
		st, err := models.Learner.Step(micro)
		models.Learner.OnMicroBatch(nil)
		if err != nil {
			return m, fmt.Errorf("train: %w", err)
		}
		m.Loss, m.GradNorm, m.LR, m.Skipped = rundir.Float(st.Loss), rundir.Float(st.GradNorm), float64(st.LR), st.Skipped
		m.Mismatch = rundir.Float(mismatch(st.LogProbs, idx, b))
		m.DistillKL = rundir.Float(distillKL(st.DistillKL, idx, b))
	}
	t3 := time.Now()
	if !m.Skipped {
		if err := models.SyncWeights(weightsPath); err != nil {
			return m, err
		}
	}
	t4 := time.Now()
	m.RolloutS, m.ScoreS, m.TrainS, m.SyncS = t1.Sub(t0).Seconds(), t2.Sub(t1).Seconds(), t3.Sub(t2).Seconds(), t4.Sub(t3).Seconds()
	if m.RolloutS > 0 {
		m.TokensPerS = float64(b.tokens) / m.RolloutS
	}
	m.PeakRSSMB = peakRSSMB()
	if err := recordStep(cfg, models.Student, step, eps, b); err != nil {
		return m, fmt.Errorf("record episodes: %w", err)
	}
	return m, nil
}

// mismatch is mean |lp_learner − lp_sampler| over the action tokens, the
// learner's log-probs given per sequence in micro-batch order (idx); NaN when
// the learner returned none.
func mismatch(lpL [][]float32, idx [][]int, b batch) float64 {
	return meanInOrder(lpL, idx, func(i, p int, v float32) (float64, bool) {
		if p >= len(b.seqs[i].Mask) || !b.seqs[i].Mask[p] {
			return 0, false
		}
		return math.Abs(float64(v) - float64(b.lpS[i][p])), true
	})
}

// distillKL is the mean top-k KL over the action tokens with a teacher list,
// the learner's KLs given per sequence in micro-batch order (idx); NaN when
// there are none.
func distillKL(kl [][]float32, idx [][]int, b batch) float64 {
	return meanInOrder(kl, idx, func(i, p int, v float32) (float64, bool) {
		return float64(v), len(b.seqs[i].TopK) > p && len(b.seqs[i].TopK[p]) > 0
	})
}

// meanInOrder is the mean of f over the positions f keeps, of per-sequence
// values the learner returned in micro-batch order (idx: sequence i of the
// batch is the k-th returned); NaN when it returned too few or none is kept.
func meanInOrder(vals [][]float32, idx [][]int, f func(i, p int, v float32) (float64, bool)) float64 {
	var sum float64
	n, k := 0, 0
	for _, mb := range idx {
		for _, i := range mb {
			if k >= len(vals) {
				return math.NaN()
			}
			for p, v := range vals[k] {
				if x, ok := f(i, p, v); ok {
					sum += x
					n++
				}
			}
			k++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// logProber is a learner that can run its forward pass alone (the native one).
type logProber interface {
	LogProbs(seqs []model.TrainSeq) ([][]float32, error)
}

// truncateIS multiplies each action token's weight by
// min(π_learner/π_sampler, c), the learner's log-probs from a forward pass
// over each micro-batch before the step.
func truncateIS(l model.Learner, micro [][]model.TrainSeq, idx [][]int, lpS [][]float32, c float64) error {
	lp, ok := l.(logProber)
	if !ok {
		return fmt.Errorf("loss.tis_cap = %v: the learner %T has no forward pass of its own", c, l)
	}
	for m, mb := range micro {
		lpL, err := lp.LogProbs(mb)
		if err != nil {
			return fmt.Errorf("learner log-probs: %w", err)
		}
		for j, s := range mb {
			for p, in := range s.Mask {
				if in {
					s.Weights[p] *= float32(atod.TruncatedIS(float64(lpL[j][p]), float64(lpS[idx[m][j]][p]), c))
				}
			}
		}
	}
	return nil
}

// recordStep writes the first episode of each of the first record.episodes
// groups, with the token and turn weights the learner was given, for atod view.
func recordStep(cfg *Config, student model.LM, step int, eps []*rollout.Episode, b batch) error {
	n := min(cfg.Rollout.TasksPerStep, cfg.Record.Episodes)
	var sel []*rollout.Episode
	var w [][][]float32
	var tw [][]float64
	for i, e := range eps {
		if e.Rollout == 0 && len(sel) < n {
			sel, w, tw = append(sel, e), append(w, b.tokW[i]), append(tw, b.turnW[i])
		}
	}
	return rundir.WriteEpisodes(rundir.EpisodePath(cfg.OutDir, "train", step, ""), records(step, "train", "student", sel, cfg.Rollout.InvalidPenalty, piece(student), w, tw))
}

// keepGroups leaves out every group with an episode the env kept failing:
// dropping or zeroing that episode alone would give its group's others GRPO
// advantages for nothing. It counts failures, replays and dropped groups in m
// and returns the last failure's reason.
func keepGroups(eps []*rollout.Episode, m *rundir.StepMetrics) ([]*rollout.Episode, string) {
	failed := map[int]bool{}
	reason := ""
	for _, e := range eps {
		m.EnvFailures += e.Failures
		m.EnvRetries += e.Failures
		if e.Failed {
			m.EnvRetries--
			failed[e.TaskIdx], reason = true, e.Reason
		}
	}
	m.GroupsDrop = len(failed)
	if len(failed) == 0 {
		return eps, ""
	}
	var kept []*rollout.Episode
	for _, e := range eps {
		if !failed[e.TaskIdx] {
			kept = append(kept, e)
		}
	}
	return kept, reason
}

// piece renders one token as text, special tokens included.
func piece(lm model.LM) func(int32) string {
	return func(t int32) string { return lm.Detokenize([]int32{t}, true) }
}
