package compare

import (
	"math"
	"testing"
)

func matrix(rows, cols int, f func(i, j int) float64) [][]float64 {
	m := make([][]float64, rows)
	for i := range m {
		m[i] = make([]float64, cols)
		for j := range m[i] {
			m[i][j] = f(i, j)
		}
	}
	return m
}

func TestBootstrapMatchesTheBinomialInterval(t *testing.T) {
	// One seed, 400 tasks, half won: the interval is the task bootstrap's,
	// ±1.96·√(0.25/400) = ±0.049 around 0.5.
	m := matrix(1, 400, func(_, j int) float64 { return float64(j % 2) })
	iv := bootstrap(m, 4000)
	if iv.mean != 0.5 || math.Abs((iv.hi-iv.lo)/2-0.049) > 0.006 || iv.lo > 0.5 || iv.hi < 0.5 {
		t.Errorf("interval %+v, want 0.5 ± 0.049", iv)
	}
}

func TestBootstrapCountsSeedSpread(t *testing.T) {
	// Every task won under seeds 0–2 and none under 3–5: the tasks agree, the
	// seeds do not, and only resampling seeds can show it.
	m := matrix(6, 64, func(i, _ int) float64 { return float64(1 - i/3) })
	iv := bootstrap(m, 4000)
	if iv.mean != 0.5 || iv.lo > 0.2 || iv.hi < 0.8 {
		t.Errorf("interval %+v, want about [1/6, 5/6]", iv)
	}
}

func TestPairedDifferenceOfEqualMethodsIsZero(t *testing.T) {
	a := matrix(5, 64, func(i, j int) float64 { return float64((i + j) % 3 % 2) })
	iv := bootstrap(diff(a, a), 1000)
	if iv != (interval{0, 0, 0}) {
		t.Errorf("a − a: %+v", iv)
	}
	// A failed cell (NaN) is left out, not counted as a loss.
	if m := cellMean([][]float64{{math.NaN(), 1}, {0, 1}}, identity(2), identity(2)); m != 2.0/3 {
		t.Errorf("mean with a failed cell: %v, want 2/3", m)
	}
}
