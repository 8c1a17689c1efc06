package compare

import (
	"math"
	"math/rand/v2"
	"slices"
)

// interval is a mean with its 95% bootstrap interval.
type interval struct{ mean, lo, hi float64 }

// bootstrap is the mean of m's cells (rows: seeds, columns: held-out tasks;
// NaN: a cell the env failed) and its 95% percentile interval when seeds and
// tasks are both resampled with replacement. A sweep plays every task under
// every seed (a crossed design), so either can be the larger part of the
// spread: resampling tasks alone would ignore seed-to-seed variation, and
// seeds alone the luck of which tasks were drawn. The draws are seeded, so a
// table is the same every time it is made from the same runs.
func bootstrap(m [][]float64, reps int) interval {
	mean := cellMean(m, identity(len(m)), identity(width(m)))
	if len(m) == 0 || width(m) == 0 {
		return interval{math.NaN(), math.NaN(), math.NaN()}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rows, cols := make([]int, len(m)), make([]int, width(m))
	var means []float64
	for range reps {
		for i := range rows {
			rows[i] = rng.IntN(len(m))
		}
		for j := range cols {
			cols[j] = rng.IntN(len(cols))
		}
		if x := cellMean(m, rows, cols); !math.IsNaN(x) {
			means = append(means, x)
		}
	}
	slices.Sort(means)
	q := func(p float64) float64 { return means[min(len(means)-1, int(p*float64(len(means))))] }
	return interval{mean, q(0.025), q(0.975)}
}

// cellMean averages m over the chosen rows and columns, skipping NaN cells.
func cellMean(m [][]float64, rows, cols []int) float64 {
	var sum float64
	n := 0
	for _, i := range rows {
		for _, j := range cols {
			if x := m[i][j]; !math.IsNaN(x) {
				sum += x
				n++
			}
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// diff is a − b cell by cell: paired outcomes of two methods on the same
// seeds and tasks.
func diff(a, b [][]float64) [][]float64 {
	out := make([][]float64, len(a))
	for i := range a {
		out[i] = make([]float64, len(a[i]))
		for j := range a[i] {
			out[i][j] = a[i][j] - b[i][j]
		}
	}
	return out
}

func width(m [][]float64) int {
	if len(m) == 0 {
		return 0
	}
	return len(m[0])
}

func identity(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
