package trainer

import (
	"math"
	"runtime"
	"syscall"

	"github.com/atod-dev/atod/trainer/atod"
	"github.com/atod-dev/atod/trainer/rollout"
	"github.com/atod-dev/atod/trainer/rundir"
)

// weightStats returns mean, min, max and std of the turn weights of non-empty turns.
func weightStats(eps []*rollout.Episode, w [][]float64) (mean, lo, hi, std float64) {
	var xs []float64
	for i, e := range eps {
		for k, t := range e.Turns {
			if t.N > 0 {
				xs = append(xs, w[i][k])
			}
		}
	}
	if len(xs) == 0 {
		return 1, 1, 1, 0
	}
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	mean, std = atod.MeanStd(xs)
	return
}

// weightsByTurn is, for k = 1, 2, …, the mean weight w_k of the episodes'
// k-th turns, over the episodes whose k-th turn has action tokens (an empty
// turn's weight scales nothing; where no k-th turn has tokens, 1, the weight
// T-DUR gives it): which turns T-DUR amplified.
func weightsByTurn(eps []*rollout.Episode, w [][]float64) []rundir.Float {
	var sum []float64
	var n []int
	for i, e := range eps {
		for k, t := range e.Turns {
			if k == len(sum) {
				sum, n = append(sum, 0), append(n, 0)
			}
			if t.N > 0 {
				sum[k] += w[i][k]
				n[k]++
			}
		}
	}
	out := make([]rundir.Float, len(sum))
	for k := range sum {
		out[k] = 1
		if n[k] > 0 {
			out[k] = rundir.Float(sum[k] / float64(n[k]))
		}
	}
	return out
}

// peakRSSMB is the process's peak resident set size.
func peakRSSMB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	if runtime.GOOS == "darwin" { // bytes there, KiB on Linux
		return float64(ru.Maxrss) / (1 << 20)
	}
	return float64(ru.Maxrss) / (1 << 10)
}
