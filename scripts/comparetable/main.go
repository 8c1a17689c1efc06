// Command comparetable reads the runs of scripts/compare.sh, laid out as
// ROOT/ENV/VARIANT-sSEED/metrics.jsonl, and writes ROOT/results.md (held-out
// success, mean ± std over seeds) and ROOT/ENV-success.svg (success vs step).
// Every figure comes from the metrics files.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// variants in table order; "teacher" and "student at start" come from step 0.
var variants = []string{"grpo", "opd", "atod-no-tdur", "atod"}

type evalRec struct {
	Kind    string  `json:"kind"`
	Step    int     `json:"step"`
	Model   string  `json:"model"`
	Success float64 `json:"success"`
	Tasks   int     `json:"tasks"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: comparetable ROOT")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "comparetable:", err)
		os.Exit(1)
	}
}

func run(root string) error {
	envDirs, err := filepath.Glob(filepath.Join(root, "*", "*", "metrics.jsonl"))
	if err != nil {
		return err
	}
	byEnv := map[string]map[string][][]evalRec{} // env → variant → runs
	for _, p := range envDirs {
		runDir := filepath.Dir(p)
		env := filepath.Base(filepath.Dir(runDir))
		variant := filepath.Base(runDir)
		if i := strings.LastIndex(variant, "-s"); i > 0 {
			variant = variant[:i]
		}
		recs, err := readEvals(p)
		if err != nil {
			return err
		}
		if byEnv[env] == nil {
			byEnv[env] = map[string][][]evalRec{}
		}
		byEnv[env][variant] = append(byEnv[env][variant], recs)
	}
	if len(byEnv) == 0 {
		return fmt.Errorf("no runs under %s", root)
	}
	var b strings.Builder
	b.WriteString("| env | method | runs | steps | held-out success (mean ± std) |\n|---|---|---|---|---|\n")
	envNames := keys(byEnv)
	for _, env := range envNames {
		runs := byEnv[env]
		// One step-0 evaluation per seed, the ATOD runs' (every variant of a
		// seed evaluates the same models on the same tasks).
		var teacher, start []float64
		for _, r := range runs["atod"] {
			if x, ok := find(r, 0, "teacher"); ok {
				teacher = append(teacher, x)
			}
			if x, ok := find(r, 0, "student"); ok {
				start = append(start, x)
			}
		}
		row(&b, env, "teacher", teacher, 0)
		row(&b, env, "student at start", start, 0)
		var series []line
		colors := []string{"#2ca02c", "#9467bd", "#ff7f0e", "#1f77b4"}
		for i, v := range variants {
			var final []float64
			steps := 0
			for _, r := range runs[v] {
				if x, step, ok := last(r); ok {
					final, steps = append(final, x), step
				}
			}
			row(&b, env, v, final, steps)
			if len(runs[v]) > 0 {
				series = append(series, meanCurve(v, colors[i], runs[v]))
			}
		}
		svg := plot(env+": held-out success vs step (mean over seeds)", series)
		if err := os.WriteFile(filepath.Join(root, env+"-success.svg"), []byte(svg), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(root, "results.md"), []byte(b.String()), 0o644)
}

func readEvals(path string) ([]evalRec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []evalRec
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r evalRec
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if r.Kind == "eval" {
			out = append(out, r)
		}
	}
	return out, sc.Err()
}

func find(rs []evalRec, step int, model string) (float64, bool) {
	for _, r := range rs {
		if r.Step == step && r.Model == model {
			return r.Success, true
		}
	}
	return 0, false
}

// last is the final student evaluation of a run.
func last(rs []evalRec) (float64, int, bool) {
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].Model == "student" {
			return rs[i].Success, rs[i].Step, true
		}
	}
	return 0, 0, false
}

func row(b *strings.Builder, env, name string, xs []float64, steps int) {
	if len(xs) == 0 {
		fmt.Fprintf(b, "| %s | %s | 0 | | (no runs) |\n", env, name)
		return
	}
	m, s := meanStd(xs)
	fmt.Fprintf(b, "| %s | %s | %d | %d | %.3f ± %.3f |\n", env, name, len(xs), steps, m, s)
}

// meanStd is the mean and the sample standard deviation (0 for one value).
func meanStd(xs []float64) (float64, float64) {
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

type line struct {
	name, color string
	x, y        []float64
}

// meanCurve averages the student evaluations of runs step by step.
func meanCurve(name, color string, runs [][]evalRec) line {
	sum, n := map[int]float64{}, map[int]int{}
	for _, r := range runs {
		for _, e := range r {
			if e.Model == "student" {
				sum[e.Step] += e.Success
				n[e.Step]++
			}
		}
	}
	l := line{name: name, color: color}
	for _, s := range keys(n) {
		l.x, l.y = append(l.x, float64(s)), append(l.y, sum[s]/float64(n[s]))
	}
	return l
}

func plot(title string, ls []line) string {
	const w, h, left, top, pw, ph = 560.0, 320.0, 55.0, 30.0, 400.0, 240.0
	xmax := 1.0
	for _, l := range ls {
		for _, x := range l.x {
			xmax = math.Max(xmax, x)
		}
	}
	px := func(x float64) float64 { return left + pw*x/xmax }
	py := func(y float64) float64 { return top + ph*(1-y) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="11">`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%.0f" y="18">%s</text>`+"\n", left, html.EscapeString(title))
	fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#888"/>`+"\n", left, top, pw, ph)
	for _, y := range []float64{0, 0.25, 0.5, 0.75, 1} {
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%.2f</text>`+"\n", left-4, py(y)+4, y)
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end">%.0f</text><text x="%.0f" y="%.0f">0</text>`+"\n",
		px(xmax), top+ph+14, xmax, left, top+ph+14)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">step</text>`+"\n", left+pw/2, top+ph+28)
	for i, l := range ls {
		var pts []string
		for j := range l.x {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(l.x[j]), py(l.y[j])))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", l.color, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" fill="%s">%s</text>`+"\n", left+pw+8, top+14+float64(i)*16, l.color, html.EscapeString(l.name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func keys[K string | int, V any](m map[K]V) []K {
	var out []K
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
