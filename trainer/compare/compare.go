// Package compare reads the runs of scripts/compare.sh, laid out as
// ENV/VARIANT-sSEED/, and writes results.md and ENV-success.svg (atod compare).
// Every figure comes from the runs' metrics.jsonl: per evaluation temperature,
// held-out success per method, final and best over the run, with 95%
// bootstrap intervals over seeds × tasks, and ATOD's paired differences with
// the others (same seeds, same tasks: eval.seed fixed); then a diagnosis (the
// RL phase's group statistics, T-DUR's weight by turn, success by task type),
// and success vs step with bands.
package compare

import (
	"cmp"
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
var order = []string{"grpo", "opd", "atod-no-tdur", "atod-no-anneal", "atod"}

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
	b.WriteString("Final: each run's last evaluation. Best over the run: each run's student evaluation (step 0 included) with the highest mean success, " +
		"the earliest of ties; a maximum over evaluations, so optimistic (a selection), as the paper reports it.\n\n")
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

// row is one run's per-task outcomes (1, 0, NaN for failed) of an evaluation.
func row(e rundir.EvalMetrics) []float64 {
	out := make([]float64, len(e.Won))
	for j, c := range e.Won {
		out[j] = map[rune]float64{'1': 1, '0': 0, '-': math.NaN()}[c]
	}
	return out
}

// eval is the run's evaluation of model at temperature t, at step, or its last
// one when step < 0.
func (r run) eval(model string, t float64, step int) (rundir.EvalMetrics, bool) {
	for i := len(r.evals) - 1; i >= 0; i-- {
		if e := r.evals[i]; e.Model == model && e.Temperature == t && (step < 0 || e.Step == step) {
			return e, true
		}
	}
	return rundir.EvalMetrics{}, false
}

// best is the run's student evaluation at temperature t (step 0 included) with
// the highest mean success over its tasks, the earliest of those that tie.
func (r run) best(t float64) (rundir.EvalMetrics, bool) {
	var b rundir.EvalMetrics
	top := math.Inf(-1)
	for _, e := range r.evals {
		if e.Model != "student" || e.Temperature != t {
			continue
		}
		if x := cellMean([][]float64{row(e)}, []int{0}, identity(len(e.Won))); x > top { // NaN (all failed) never is
			b, top = e, x
		}
	}
	return b, top > math.Inf(-1)
}

// method is one row of a table at one temperature: a variant's final and best
// evaluations, or the step-0 evaluation of the teacher or the student (both).
type method struct {
	name        string
	seeds       []int
	final, best [][]float64 // per run, per task
	types       [][]string  // per run, the final evaluation's task types (nil: the env has none)
	steps       int         // the final evaluation's step
	bestSteps   []int
	wallS       []float64
}

func (x *method) add(seed int, final, best rundir.EvalMetrics) {
	x.seeds = append(x.seeds, seed)
	x.final, x.best, x.types = append(x.final, row(final)), append(x.best, row(best)), append(x.types, final.Types)
	x.steps, x.bestSteps = final.Step, append(x.bestSteps, best.Step)
}

// methods are the rows at temperature t: the teacher and the student at start
// (step 0 of ref's runs), then each variant.
func methods(vs map[string][]run, variants []string, ref []run, t float64) []method {
	var ms []method
	for _, who := range []string{"teacher", "student"} {
		x := method{name: map[string]string{"teacher": "teacher", "student": "student at start"}[who]}
		for _, r := range ref {
			if e, ok := r.eval(who, t, 0); ok {
				x.add(r.seed, e, e)
			}
		}
		ms = append(ms, x)
	}
	for _, v := range variants {
		x := method{name: v}
		for _, r := range vs[v] {
			final, ok := r.eval("student", t, -1)
			if !ok {
				continue
			}
			best, ok := r.best(t)
			if !ok { // every evaluation failed by the env
				best = final
			}
			x.add(r.seed, final, best)
			x.wallS = append(x.wallS, r.wallS)
		}
		ms = append(ms, x)
	}
	return ms
}

func envTables(b *strings.Builder, env string, vs map[string][]run) (string, error) {
	variants := slices.DeleteFunc(slices.Clone(order), func(v string) bool { return vs[v] == nil })
	for _, v := range sortedKeys(vs) {
		if !slices.Contains(order, v) {
			variants = append(variants, v)
		}
	}
	// Step 0 evaluates the same models on the same tasks in every variant of a
	// seed: take ATOD's, or else the first variant's that evaluated the teacher.
	ref := vs[variants[0]]
	for _, v := range append([]string{"atod"}, variants...) {
		if slices.ContainsFunc(vs[v], func(r run) bool {
			return slices.ContainsFunc(r.evals, func(e rundir.EvalMetrics) bool { return e.Model == "teacher" })
		}) {
			ref = vs[v]
			break
		}
	}
	temps := map[float64]bool{}
	for _, rs := range vs {
		for _, r := range rs {
			for _, e := range r.evals {
				temps[e.Temperature] = true
			}
		}
	}
	// The first temperature's rows (greedy where the runs have it) are plotted
	// and broken down by task type.
	var rows []method
	first := 0.0
	for i, t := range sortedKeys(temps) {
		ms := methods(vs, variants, ref, t)
		if err := sameTasks(ms); err != nil {
			return "", fmt.Errorf("temperature %g: %w", t, err)
		}
		if i == 0 {
			rows, first = ms, t
		}
		successTable(b, env, t, ms)
		pairedDifferences(b, vs, ms)
	}
	fmt.Fprintf(b, "\n#### %s: diagnosis\n", env)
	rlPhase(b, vs, variants)
	turnWeights(b, vs, variants)
	byType(b, vs, first, rows)
	return curves(env, vs, variants, first, rows), nil
}

// sameTasks checks that every evaluation of ms played as many tasks.
func sameTasks(ms []method) error {
	tasks := -1
	for _, x := range ms {
		for _, row := range x.final {
			if tasks < 0 {
				tasks = len(row)
			}
			if len(row) != tasks {
				return fmt.Errorf("%s: evaluations of %d and %d tasks: not the same held-out set", x.name, len(row), tasks)
			}
		}
	}
	return nil
}

// how says how evaluations at temperature t were played.
func how(t float64) string {
	if t > 0 {
		return fmt.Sprintf("sampled at temperature %g", t)
	}
	return "greedy"
}

func successTable(b *strings.Builder, env string, t float64, ms []method) {
	fmt.Fprintf(b, "### %s: held-out success, %s\n\n", env, how(t))
	b.WriteString("| method | seeds | tasks | steps | final: success, mean [95% CI] | best over the run: success, mean [95% CI] | best at steps | minutes per run |\n|---|---|---|---|---|---|---|---|\n")
	for _, x := range ms {
		if len(x.final) == 0 {
			fmt.Fprintf(b, "| %s | 0 | | | (no runs) | | | |\n", x.name)
			continue
		}
		fi, be := bootstrap(x.final, reps), bootstrap(x.best, reps)
		wall := ""
		if mean, _ := meanStd(x.wallS); mean > 0 {
			lo, hi := slices.Min(x.wallS), slices.Max(x.wallS)
			wall = fmt.Sprintf("%.1f (%.1f–%.1f)", mean/60, lo/60, hi/60)
		}
		var steps []string
		for _, s := range x.bestSteps {
			steps = append(steps, strconv.Itoa(s))
		}
		fmt.Fprintf(b, "| %s | %d | %d | %d | %.3f [%.3f, %.3f] | %.3f [%.3f, %.3f] | %s | %s |\n",
			x.name, len(x.final), len(x.final[0]), x.steps, fi.mean, fi.lo, fi.hi, be.mean, be.lo, be.hi, strings.Join(steps, ", "), wall)
	}
}

// paired says whether every run drew its held-out tasks with the same eval.seed,
// so that outcomes pair up task by task.
func paired(vs map[string][]run) bool {
	seeds := map[int64]bool{}
	for _, rs := range vs {
		for _, r := range rs {
			seeds[r.evalSeed] = true
		}
	}
	return len(seeds) == 1
}

// pairedDifferences compares ATOD with every other row cell by cell, over the
// seeds both have, for the final and the best evaluations; only when the runs
// are paired.
func pairedDifferences(b *strings.Builder, vs map[string][]run, ms []method) {
	var atod *method
	for i := range ms {
		if ms[i].name == "atod" {
			atod = &ms[i]
		}
	}
	if atod == nil || len(atod.final) == 0 {
		return
	}
	fmt.Fprintf(b, "\nPaired differences (ATOD − other, the same seeds and tasks):\n\n")
	if !paired(vs) {
		b.WriteString("(none: the runs drew their held-out tasks with different seeds; set eval.seed)\n\n")
		return
	}
	b.WriteString("| difference | seeds × tasks | final: mean [95% CI] | best over the run: mean [95% CI] |\n|---|---|---|---|\n")
	for _, x := range ms {
		if x.name == "atod" || len(x.final) == 0 {
			continue
		}
		var af, ab, of, ob [][]float64
		for i, s := range atod.seeds {
			if j := slices.Index(x.seeds, s); j >= 0 {
				af, ab, of, ob = append(af, atod.final[i]), append(ab, atod.best[i]), append(of, x.final[j]), append(ob, x.best[j])
			}
		}
		if len(af) == 0 {
			continue
		}
		fi, be := bootstrap(diff(af, of), reps), bootstrap(diff(ab, ob), reps)
		fmt.Fprintf(b, "| atod − %s | %d × %d | %+.3f [%+.3f, %+.3f] | %+.3f [%+.3f, %+.3f] |\n", x.name, len(af), len(af[0]), fi.mean, fi.lo, fi.hi, be.mean, be.lo, be.hi)
	}
	b.WriteString("\n")
}

// curves is held-out success vs step at temperature t for each variant, with
// its 95% band, and the teacher (rows[0]) as a dashed line.
func curves(env string, vs map[string][]run, variants []string, t float64, rows []method) string {
	colors := []string{"#2ca02c", "#9467bd", "#ff7f0e", "#1f77b4", "#d62728", "#8c564b", "#e377c2", "#7f7f7f"}
	var ss []plot.Series
	xmax := 0.0
	for i, v := range variants {
		s := plot.Series{Name: v, Color: colors[i%len(colors)], Markers: true}
		steps := map[int]bool{}
		for _, r := range vs[v] {
			for _, e := range r.evals {
				if e.Model == "student" && e.Temperature == t {
					steps[e.Step] = true
				}
			}
		}
		for _, step := range sortedKeys(steps) {
			var m [][]float64
			for _, r := range vs[v] {
				if e, ok := r.eval("student", t, step); ok {
					m = append(m, row(e))
				}
			}
			iv := bootstrap(m, 1000)
			s.X, s.Y, s.Lo, s.Hi = append(s.X, float64(step)), append(s.Y, iv.mean), append(s.Lo, iv.lo), append(s.Hi, iv.hi)
			xmax = math.Max(xmax, float64(step))
		}
		ss = append(ss, s)
	}
	if len(rows) > 0 && len(rows[0].final) > 0 {
		t := bootstrap(rows[0].final, reps).mean
		ss = append(ss, plot.Series{Name: "teacher", Color: "#000000", Dashed: true, X: []float64{0, xmax}, Y: []float64{t, t}})
	}
	title := "held-out success vs step"
	if t > 0 {
		title += fmt.Sprintf(", sampled at temperature %g", t)
	}
	return plot.SVG(env+": "+title+" (95% bands over seeds × tasks)", "step", "success", true, ss)
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

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	var out []K
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
