// Package compare reads the runs of scripts/compare.sh, laid out as
// ENV/VARIANT-sSEED/, and writes results.md and ENV-success.svg (atod compare).
// Every figure comes from the runs' metrics.jsonl: held-out success per method
// with 95% bootstrap intervals over seeds × tasks, ATOD's paired differences
// with the others (same seeds, same tasks: eval.seed fixed), the RL phase's
// group statistics, and success vs step with bands.
package compare

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/atod-dev/atod/trainer/plot"
	"github.com/atod-dev/atod/trainer/rundir"
)

// order of the table; variants not listed here follow in name order.
var order = []string{"grpo", "opd", "atod-no-tdur", "atod"}

const reps = 4000

type run struct {
	seed     int
	evalSeed int64
	train    []rundir.StepMetrics
	evals    []rundir.EvalMetrics
	wallS    float64 // compare.sh's wall_s file; 0 when absent
}

// EvalSeed is the seed of a run directory's held-out tasks, from the config
// it was started with (the trainer reads it).
type EvalSeed func(runDir string) (int64, error)

// Write reads the run directories dirs, each ENV/VARIANT-sSEED (others are
// skipped), and writes out/results.md and out/ENV-success.svg.
func Write(out string, dirs []string, evalSeed EvalSeed) error {
	byEnv, err := readRuns(dirs, evalSeed)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, env := range sortedKeys(byEnv) {
		svg, err := envTables(&b, env, byEnv[env])
		if err != nil {
			return fmt.Errorf("%s: %w", env, err)
		}
		if err := os.WriteFile(filepath.Join(out, env+"-success.svg"), []byte(svg), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(out, "results.md"), []byte(b.String()), 0o644)
}

// readRuns reads the ENV/VARIANT-sSEED directories among dirs into env →
// variant → runs (seed order).
func readRuns(dirs []string, evalSeed EvalSeed) (map[string]map[string][]run, error) {
	byEnv := map[string]map[string][]run{}
	for _, dir := range dirs {
		dir = filepath.Clean(dir)
		name := filepath.Base(dir)
		i := strings.LastIndex(name, "-s")
		seed, err := strconv.Atoi(name[i+2:])
		if _, statErr := os.Stat(filepath.Join(dir, rundir.MetricsFile)); i <= 0 || err != nil || statErr != nil {
			continue // not a compare.sh run
		}
		r := run{seed: seed}
		if r.evalSeed, err = evalSeed(dir); err != nil {
			return nil, err
		}
		if r.train, r.evals, err = rundir.ReadMetrics(dir); err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "wall_s")); err == nil {
			r.wallS, _ = strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
		}
		env := filepath.Base(filepath.Dir(dir))
		if byEnv[env] == nil {
			byEnv[env] = map[string][]run{}
		}
		byEnv[env][name[:i]] = append(byEnv[env][name[:i]], r)
	}
	if len(byEnv) == 0 {
		return nil, fmt.Errorf("none of the %d directories is a compare run (ENV/VARIANT-sSEED)", len(dirs))
	}
	for _, vs := range byEnv {
		for _, rs := range vs {
			sort.Slice(rs, func(a, b int) bool { return rs[a].seed < rs[b].seed })
		}
	}
	return byEnv, nil
}

// outcomes is one row per run: the per-task outcomes (1, 0, NaN for failed)
// of the evaluation of model at step, or at the run's last evaluation when step < 0.
func outcomes(rs []run, model string, step int) (m [][]float64, seeds []int, at int) {
	for _, r := range rs {
		for i := len(r.evals) - 1; i >= 0; i-- {
			e := r.evals[i]
			if e.Model != model || (step >= 0 && e.Step != step) {
				continue
			}
			row := make([]float64, len(e.Won))
			for j, c := range e.Won {
				row[j] = map[rune]float64{'1': 1, '0': 0, '-': math.NaN()}[c]
			}
			m, seeds, at = append(m, row), append(seeds, r.seed), e.Step
			break
		}
	}
	return m, seeds, at
}

// method is one row of the table: a variant's final evaluation, or the
// step-0 evaluations of the teacher or the student.
type method struct {
	name  string
	m     [][]float64
	seeds []int
	steps int
	wallS []float64
}

func envTables(b *strings.Builder, env string, vs map[string][]run) (string, error) {
	variants := slices.DeleteFunc(slices.Clone(order), func(v string) bool { return vs[v] == nil })
	for _, v := range sortedKeys(vs) {
		if !slices.Contains(order, v) {
			variants = append(variants, v)
		}
	}
	// Step 0 evaluates the same models on the same tasks in every variant of a
	// seed: take ATOD's (or the first variant's).
	ref := vs["atod"]
	if ref == nil {
		ref = vs[variants[0]]
	}
	var ms []method
	for _, who := range []string{"teacher", "student"} {
		m, seeds, _ := outcomes(ref, who, 0)
		name := map[string]string{"teacher": "teacher", "student": "student at start"}[who]
		ms = append(ms, method{name: name, m: m, seeds: seeds})
	}
	for _, v := range variants {
		m, seeds, at := outcomes(vs[v], "student", -1)
		var wall []float64
		for _, r := range vs[v] {
			wall = append(wall, r.wallS)
		}
		ms = append(ms, method{name: v, m: m, seeds: seeds, steps: at, wallS: wall})
	}
	tasks := -1
	for _, x := range ms {
		for _, row := range x.m {
			if tasks < 0 {
				tasks = len(row)
			}
			if len(row) != tasks {
				return "", fmt.Errorf("%s: evaluations of %d and %d tasks: not the same held-out set", x.name, len(row), tasks)
			}
		}
	}

	fmt.Fprintf(b, "### %s: held-out success\n\n", env)
	b.WriteString("| method | seeds | tasks | steps | success, mean [95% CI] | minutes per run |\n|---|---|---|---|---|---|\n")
	for _, x := range ms {
		if len(x.m) == 0 {
			fmt.Fprintf(b, "| %s | 0 | | | (no runs) | |\n", x.name)
			continue
		}
		iv := bootstrap(x.m, reps)
		wall := ""
		if mean, _ := meanStd(x.wallS); mean > 0 {
			lo, hi := slices.Min(x.wallS), slices.Max(x.wallS)
			wall = fmt.Sprintf("%.1f (%.1f–%.1f)", mean/60, lo/60, hi/60)
		}
		fmt.Fprintf(b, "| %s | %d | %d | %d | %.3f [%.3f, %.3f] | %s |\n", x.name, len(x.m), len(x.m[0]), x.steps, iv.mean, iv.lo, iv.hi, wall)
	}
	pairedDifferences(b, vs, ms)
	rlPhase(b, vs, variants)
	return curves(env, vs, variants, ms[0]), nil
}

// pairedDifferences compares ATOD with every other row cell by cell, over the
// seeds both have; only when every run drew its tasks with the same eval.seed.
func pairedDifferences(b *strings.Builder, vs map[string][]run, ms []method) {
	var atod *method
	for i := range ms {
		if ms[i].name == "atod" {
			atod = &ms[i]
		}
	}
	if atod == nil || len(atod.m) == 0 {
		return
	}
	seeds := map[int64]bool{}
	for _, rs := range vs {
		for _, r := range rs {
			seeds[r.evalSeed] = true
		}
	}
	fmt.Fprintf(b, "\nPaired differences (ATOD − other, the same seeds and tasks):\n\n")
	if len(seeds) != 1 {
		b.WriteString("(none: the runs drew their held-out tasks with different seeds; set eval.seed)\n")
		return
	}
	b.WriteString("| difference | seeds × tasks | mean [95% CI] |\n|---|---|---|\n")
	for _, x := range ms {
		if x.name == "atod" || len(x.m) == 0 {
			continue
		}
		var a, o [][]float64
		for i, s := range atod.seeds {
			if j := slices.Index(x.seeds, s); j >= 0 {
				a, o = append(a, atod.m[i]), append(o, x.m[j])
			}
		}
		if len(a) == 0 {
			continue
		}
		iv := bootstrap(diff(a, o), reps)
		fmt.Fprintf(b, "| atod − %s | %d × %d | %+.3f [%+.3f, %+.3f] |\n", x.name, len(a), len(a[0]), iv.mean, iv.lo, iv.hi)
	}
}

// rlPhase summarises the reward signal over the second half of each run's
// steps (where ATOD's λ is high), mean ± std over seeds.
func rlPhase(b *strings.Builder, vs map[string][]run, variants []string) {
	b.WriteString("\nReward signal over the second half of the steps (mean ± std over seeds):\n\n")
	b.WriteString("| method | λ | rollout success | groups without signal | penalty-only groups | mean abs(a_rl) | reverse KL |\n|---|---|---|---|---|---|---|\n")
	for _, v := range variants {
		cols := make([][]float64, 6)
		for _, r := range vs[v] {
			tail := r.train[len(r.train)/2:]
			for k, f := range []func(rundir.StepMetrics) float64{
				func(m rundir.StepMetrics) float64 { return m.Lambda },
				func(m rundir.StepMetrics) float64 { return m.Success },
				func(m rundir.StepMetrics) float64 { return m.NoSignal },
				func(m rundir.StepMetrics) float64 { return m.PenaltyOnly },
				func(m rundir.StepMetrics) float64 { return m.AdvRLAbs },
				func(m rundir.StepMetrics) float64 { return float64(m.ReverseKL) },
			} {
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
	b.WriteString("\n")
}

// curves is held-out success vs step for each variant, with its 95% band, and
// the teacher as a dashed line.
func curves(env string, vs map[string][]run, variants []string, teacher method) string {
	colors := []string{"#2ca02c", "#9467bd", "#ff7f0e", "#1f77b4", "#d62728", "#8c564b", "#e377c2", "#7f7f7f"}
	var ss []plot.Series
	xmax := 0.0
	for i, v := range variants {
		s := plot.Series{Name: v, Color: colors[i%len(colors)], Markers: true}
		steps := map[int]bool{}
		for _, r := range vs[v] {
			for _, e := range r.evals {
				if e.Model == "student" {
					steps[e.Step] = true
				}
			}
		}
		for _, step := range sortedKeys(steps) {
			m, _, _ := outcomes(vs[v], "student", step)
			iv := bootstrap(m, 1000)
			s.X, s.Y, s.Lo, s.Hi = append(s.X, float64(step)), append(s.Y, iv.mean), append(s.Lo, iv.lo), append(s.Hi, iv.hi)
			xmax = math.Max(xmax, float64(step))
		}
		ss = append(ss, s)
	}
	if len(teacher.m) > 0 {
		t := bootstrap(teacher.m, reps).mean
		ss = append(ss, plot.Series{Name: "teacher", Color: "#000000", Dashed: true, X: []float64{0, xmax}, Y: []float64{t, t}})
	}
	return plot.SVG(env+": held-out success vs step (95% bands over seeds × tasks)", "step", "success", true, ss)
}

// meanStd is the mean and the sample standard deviation (0 for one value).
func meanStd(xs []float64) (float64, float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	m := 0.0
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	if len(xs) < 2 {
		return m, 0
	}
	v := 0.0
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return m, math.Sqrt(v / float64(len(xs)-1))
}

func sortedKeys[K string | int, V any](m map[K]V) []K {
	var out []K
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
