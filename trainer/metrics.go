package trainer

import (
	"math"
	"runtime"
	"syscall"

	"github.com/atod-dev/atod/trainer/atod"
	"github.com/atod-dev/atod/trainer/rollout"
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
