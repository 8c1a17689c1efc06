// Package report draws runs' metrics: the charts of one run's report.md,
// which it writes, and of atod view's overlays of several runs.
package report

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/atod-dev/atod/trainer/plot"
	"github.com/atod-dev/atod/trainer/rundir"
)

// RunMetrics is one run's metrics under a name (the run, or the group it is
// averaged into).
type RunMetrics struct {
	Name  string
	Train []rundir.StepMetrics
	Eval  []rundir.EvalMetrics
}

// Chart is one drawn chart.
type Chart struct{ Name, Title, SVG string }

var palette = []string{"#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

// metric is one chart's y value of a training line.
type metric struct {
	name, title, ylabel string
	unit                bool
	y                   func(rundir.StepMetrics) float64
}

var trainMetrics = []metric{
	{"train", "rollout success", "success rate", true, func(m rundir.StepMetrics) float64 { return m.Success }},
	{"lambda", "RL share ρ/(κ + ρ) (λ in the convex form)", "ρ/(κ + ρ)", true, func(m rundir.StepMetrics) float64 { return m.Lambda }},
	{"reverse_kl", "reverse KL to the teacher (rollouts)", "mean lp_s − lp_t", false, func(m rundir.StepMetrics) float64 { return float64(m.ReverseKL) }},
	{"loss", "loss", "loss", false, func(m rundir.StepMetrics) float64 { return float64(m.Loss) }},
	{"grad_norm", "gradient norm (before clipping)", "norm", false, func(m rundir.StepMetrics) float64 { return float64(m.GradNorm) }},
	{"tokens_per_s", "sampled tokens per rollout second", "tokens/s", false, func(m rundir.StepMetrics) float64 { return m.TokensPerS }},
	{"step_s", "seconds per step", "s", false, func(m rundir.StepMetrics) float64 { return m.RolloutS + m.ScoreS + m.TrainS + m.SyncS }},
	{"memory", "peak resident memory", "MB", false, func(m rundir.StepMetrics) float64 { return m.PeakRSSMB }},
}

// Charts draws the charts of runs: held-out success at eval.temperature (the
// teacher as a dashed line, evaluations marked) and one chart per training figure. Runs that share
// a Name are one line, their mean, with a band from their min to max.
func Charts(runs []RunMetrics) []Chart {
	var names []string
	byName := map[string][]RunMetrics{}
	for _, r := range runs {
		if _, ok := byName[r.Name]; !ok {
			names = append(names, r.Name)
		}
		byName[r.Name] = append(byName[r.Name], r)
	}
	color := func(i int) string { return palette[i%len(palette)] }
	var succ []plot.Series
	for i, n := range names {
		s := group(n, color(i), byName[n], func(r RunMetrics) map[float64]float64 {
			pts := map[float64]float64{}
			for _, e := range rundir.MainEvals(r.Eval) {
				if e.Model == "student" {
					pts[float64(e.Step)] = e.Success
				}
			}
			return pts
		})
		s.Markers = true
		succ = append(succ, s)
		if t, ok := teacherLine(byName[n], s.X); ok {
			t.Name, t.Color = "teacher", color(i)
			if len(names) > 1 {
				t.Name = n + " teacher"
			}
			succ = append(succ, t)
		}
	}
	charts := []Chart{{"success", "held-out success", plot.SVG("held-out success", "step", "success rate", true, succ)}}
	for _, m := range trainMetrics {
		var ss []plot.Series
		for i, n := range names {
			ss = append(ss, group(n, color(i), byName[n], func(r RunMetrics) map[float64]float64 {
				pts := map[float64]float64{}
				for _, t := range r.Train {
					if y := m.y(t); !math.IsNaN(y) && !math.IsInf(y, 0) {
						pts[float64(t.Step)] = y
					}
				}
				return pts
			}))
		}
		charts = append(charts, Chart{m.name, m.title, plot.SVG(m.title, "step", m.ylabel, m.unit, ss)})
	}
	return charts
}

// group is the mean of runs' points at the steps all of them have, with their
// min and max as a band when there are several runs.
func group(name, color string, runs []RunMetrics, points func(RunMetrics) map[float64]float64) plot.Series {
	s := plot.Series{Name: name, Color: color}
	if len(runs) > 1 {
		s.Name = fmt.Sprintf("%s (%d runs)", name, len(runs))
	}
	all := make([]map[float64]float64, len(runs))
	for i, r := range runs {
		all[i] = points(r)
	}
	var xs []float64
	for x := range all[0] {
		xs = append(xs, x)
	}
	sort.Float64s(xs)
	for _, x := range xs {
		sum, lo, hi, n := 0.0, math.Inf(1), math.Inf(-1), 0
		for _, pts := range all {
			if y, ok := pts[x]; ok {
				sum, lo, hi, n = sum+y, math.Min(lo, y), math.Max(hi, y), n+1
			}
		}
		if n < len(all) {
			continue
		}
		s.X, s.Y = append(s.X, x), append(s.Y, sum/float64(n))
		if len(runs) > 1 {
			s.Lo, s.Hi = append(s.Lo, lo), append(s.Hi, hi)
		}
	}
	return s
}

// teacherLine is the runs' mean teacher success across the student's steps.
func teacherLine(runs []RunMetrics, xs []float64) (plot.Series, bool) {
	sum, n := 0.0, 0
	for _, r := range runs {
		for _, e := range rundir.MainEvals(r.Eval) {
			if e.Model == "teacher" {
				sum, n = sum+e.Success, n+1
				break
			}
		}
	}
	if n == 0 || len(xs) == 0 {
		return plot.Series{}, false
	}
	t := sum / float64(n)
	return plot.Series{X: []float64{xs[0], xs[len(xs)-1]}, Y: []float64{t, t}, Dashed: true}, true
}

// Write renders a run directory's report.md and its SVG charts from its metrics.jsonl.
func Write(runDir string) error {
	train, eval, err := rundir.ReadMetrics(runDir)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(runDir, "plots"), 0o755); err != nil {
		return err
	}
	charts := Charts([]RunMetrics{{Name: "student", Train: train, Eval: eval}})
	for _, c := range charts {
		if err := rundir.WriteFileAtomic(filepath.Join(runDir, "plots", c.Name+".svg"), []byte(c.SVG)); err != nil {
			return err
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# ATOD run: %s\n\n", filepath.Base(runDir))
	fmt.Fprintf(&b, "Config: [config.toml](config.toml). Metrics: [metrics.jsonl](metrics.jsonl). Live: `atod view %s`.\n\n", runDir)
	var last rundir.StepMetrics
	if len(train) > 0 {
		last = train[len(train)-1]
	}
	fmt.Fprintf(&b, "| | value |\n|---|---|\n| steps | %d |\n", last.Step)
	var student []rundir.EvalMetrics
	teacher, hasTeacher := 0.0, false
	for _, e := range rundir.MainEvals(eval) {
		if e.Model == "teacher" && !hasTeacher {
			teacher, hasTeacher = e.Success, true
		} else if e.Model == "student" {
			student = append(student, e)
		}
	}
	if n := len(student); n > 0 {
		fmt.Fprintf(&b, "| held-out success, step %d | %.3f |\n| held-out success, step %d | %.3f |\n", student[0].Step, student[0].Success, student[n-1].Step, student[n-1].Success)
	}
	if hasTeacher {
		fmt.Fprintf(&b, "| teacher held-out success | %.3f |\n", teacher)
	}
	if last.Step > 0 {
		fmt.Fprintf(&b, "| last λ | %.3f |\n| last reverse KL | %.4f |\n| last loss | %.4f |\n", last.Lambda, float64(last.ReverseKL), float64(last.Loss))
	}
	b.WriteString("\n")
	for _, c := range charts {
		fmt.Fprintf(&b, "![%s](plots/%s.svg)\n\n", c.Title, c.Name)
	}
	return rundir.WriteFileAtomic(filepath.Join(runDir, rundir.ReportFile), []byte(b.String()))
}
