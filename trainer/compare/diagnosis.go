package compare

import (
	"fmt"
	"math"
	"strings"

	"github.com/atod-dev/atod/trainer/rundir"
)

// rlPhase summarises the reward signal over the second half of each run's
// steps (where ATOD's λ is high), mean ± std over seeds: how often a group
// carries a signal, and how much of it comes from groups with a win.
func rlPhase(b *strings.Builder, vs map[string][]run, variants []string) {
	b.WriteString("\nReward signal over the second half of the steps (mean ± std over seeds):\n\n")
	b.WriteString("| method | λ | rollout success | groups without signal | penalty-only groups | groups with a win | share of abs(a_rl) from groups with a win | mean abs(a_rl) | reverse KL |\n" +
		"|---|---|---|---|---|---|---|---|---|\n")
	figures := []func(rundir.StepMetrics) float64{
		func(m rundir.StepMetrics) float64 { return m.Lambda },
		func(m rundir.StepMetrics) float64 { return m.Success },
		func(m rundir.StepMetrics) float64 { return m.NoSignal },
		func(m rundir.StepMetrics) float64 { return m.PenaltyOnly },
		func(m rundir.StepMetrics) float64 { return m.GroupsWithWin },
		func(m rundir.StepMetrics) float64 { return m.RLAbsFromWins },
		func(m rundir.StepMetrics) float64 { return m.AdvRLAbs },
		func(m rundir.StepMetrics) float64 { return float64(m.ReverseKL) },
	}
	for _, v := range variants {
		cols := make([][]float64, len(figures))
		for _, r := range vs[v] {
			tail := r.train[len(r.train)/2:]
			for k, f := range figures {
				var xs []float64
				for _, m := range tail {
					xs = append(xs, f(m))
				}
				x, _ := meanStd(xs)
				cols[k] = append(cols[k], x)
			}
		}
		fmt.Fprintf(b, "| %s |", v)
		for _, c := range cols {
			m, s := meanStd(c)
			fmt.Fprintf(b, " %.3f ± %.3f |", m, s)
		}
		b.WriteString("\n")
	}
}

// turnWeights is T-DUR's mean weight of each turn over the first half of each
// run's steps (where the OPD term weighs most), mean over seeds: the turns it
// amplified. Variants whose weights are all 1 (T-DUR off) are left out.
func turnWeights(b *strings.Builder, vs map[string][]run, variants []string) {
	type line struct {
		name string
		w    []float64
	}
	var lines []line
	turns := 0
	for _, v := range variants {
		var runs [][]float64
		flat := true
		for _, r := range vs[v] {
			var steps [][]float64
			for _, m := range r.train[:(len(r.train)+1)/2] {
				if m.Skipped {
					continue // its weights may be non-finite (read back as 0)
				}
				var w []float64
				for _, x := range m.WByTurn {
					w, flat = append(w, float64(x)), flat && x == 1
				}
				steps = append(steps, w)
			}
			runs = append(runs, meanByIndex(steps))
		}
		if !flat {
			w := meanByIndex(runs)
			lines, turns = append(lines, line{v, w}), max(turns, len(w))
		}
	}
	if len(lines) == 0 {
		return
	}
	b.WriteString("\nT-DUR's mean weight of the k-th turn over the first half of the steps (mean over seeds):\n\n| method |")
	for k := range turns {
		fmt.Fprintf(b, " turn %d |", k+1)
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", turns) + "\n")
	for _, l := range lines {
		fmt.Fprintf(b, "| %s |", l.name)
		for k := range turns {
			if k < len(l.w) {
				fmt.Fprintf(b, " %.3f |", l.w[k])
			} else {
				b.WriteString(" |")
			}
		}
		b.WriteString("\n")
	}
}

// meanByIndex is, for each index k, the mean of the rows' k-th values over the
// rows that have one.
func meanByIndex(rows [][]float64) []float64 {
	var sum []float64
	var n []int
	for _, r := range rows {
		for k, x := range r {
			if k == len(sum) {
				sum, n = append(sum, 0), append(n, 0)
			}
			sum[k] += x
			n[k]++
		}
	}
	for k := range sum {
		sum[k] /= float64(n[k])
	}
	return sum
}

// byType is each row's success on the final evaluations at temperature t by
// task type (mean over seeds and the type's tasks): where the student passes
// the teacher or falls behind it. Only for paired runs, which all play the
// same tasks; nothing where the env has no task types.
func byType(b *strings.Builder, vs map[string][]run, t float64, ms []method) {
	var types []string // the held-out set's, as every paired run has it
	for _, x := range ms {
		for _, ts := range x.types {
			if types == nil {
				types = ts
			}
		}
	}
	if types == nil {
		return
	}
	fmt.Fprintf(b, "\nSuccess by task type, final evaluations, %s (mean over seeds and the type's tasks):\n\n", how(t))
	if !paired(vs) {
		b.WriteString("(none: the runs drew their held-out tasks with different seeds; set eval.seed)\n")
		return
	}
	b.WriteString("| task type | tasks |")
	for _, x := range ms {
		fmt.Fprintf(b, " %s |", x.name)
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---|", len(ms)) + "\n")
	n := map[string]int{}
	for _, ty := range types {
		n[ty]++
	}
	for _, ty := range sortedKeys(n) {
		fmt.Fprintf(b, "| %s | %d |", ty, n[ty])
		for _, x := range ms {
			var sum float64
			n := 0
			for i, ts := range x.types {
				for j, got := range ts {
					if got == ty && j < len(x.final[i]) && !math.IsNaN(x.final[i][j]) {
						sum += x.final[i][j]
						n++
					}
				}
			}
			if n == 0 {
				b.WriteString(" |")
			} else {
				fmt.Fprintf(b, " %.3f |", sum/float64(n))
			}
		}
		b.WriteString("\n")
	}
}
