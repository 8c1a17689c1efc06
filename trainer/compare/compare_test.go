package compare

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/atod-dev/atod/trainer"
)

// writeRun lays out one compare.sh run: its resolved config and metrics lines.
func writeRun(t *testing.T, root, name string, evalSeed int, lines ...string) {
	t.Helper()
	dir := filepath.Join(root, "echo", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("seed = 1\n[eval]\nseed = %d\n", evalSeed)
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "metrics.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runDirs are the run directories under root, as a shell's root/*/*/ lists them.
func runDirs(t *testing.T, root string) []string {
	dirs, err := filepath.Glob(filepath.Join(root, "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

func eval(step int, model, won string) string {
	return fmt.Sprintf(`{"kind":"eval","step":%d,"model":%q,"tasks":%d,"won":%q}`, step, model, len(won), won)
}

func train(step int, lambda, noSignal float64) string {
	return fmt.Sprintf(`{"kind":"train","step":%d,"lambda":%g,"groups_no_signal":%g}`, step, lambda, noSignal)
}

func TestTableFromRuns(t *testing.T) {
	root := t.TempDir()
	for s := 1; s <= 2; s++ {
		writeRun(t, root, fmt.Sprintf("atod-s%d", s), 7, eval(0, "teacher", "1110"), eval(0, "student", "1000"),
			train(1, 0, 1), train(2, 1, 0.5), eval(2, "student", "1100"))
		writeRun(t, root, fmt.Sprintf("opd-s%d", s), 7, eval(0, "student", "1000"),
			train(1, 0, 1), train(2, 0, 1), eval(2, "student", "1000"))
	}
	if err := Write(root, runDirs(t, root), trainer.RunEvalSeed); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	// ATOD wins task 2 of 4 besides OPD's task 1, in both seeds: +1/4, and a
	// resample of tasks holds task 2 zero to three times.
	for _, want := range []string{
		"| teacher | 2 | 4 | 0 | 0.750 [",
		"| atod | 2 | 4 | 2 | 0.500 [",
		"| opd | 2 | 4 | 2 | 0.250 [",
		"| atod − opd | 2 × 4 | +0.250 [+0.000, +0.750] |",
		"| atod − teacher | 2 × 4 | -0.250 [",
		"| atod | 1.000 ± 0.000 | 0.000 ± 0.000 | 0.500 ± 0.000 |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("results.md lacks %q:\n%s", want, got)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "echo-success.svg")); err != nil {
		t.Error(err)
	}

	// A sweep of one method, without a teacher evaluation.
	only := t.TempDir()
	writeRun(t, only, "opd-s1", 7, eval(0, "student", "1000"), train(1, 0, 1), eval(1, "student", "1100"))
	if err := Write(only, runDirs(t, only), trainer.RunEvalSeed); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(only, "results.md")); !strings.Contains(string(b), "| teacher | 0 | | | (no runs) |") {
		t.Errorf("one method without a teacher:\n%s", b)
	}

	// Different eval seeds: no paired differences.
	writeRun(t, root, "opd-s3", 8, eval(0, "student", "1000"), train(1, 0, 1), eval(1, "student", "1000"))
	if err := Write(root, runDirs(t, root), trainer.RunEvalSeed); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "results.md")); !strings.Contains(string(b), "(none: the runs drew") {
		t.Errorf("unpaired runs got paired differences:\n%s", b)
	}
}

// evalAt is an eval line at temperature t over tasks typed a, b, a, b, ….
func evalAt(step int, model, won string, t float64) string {
	types := make([]string, len(won))
	for i := range types {
		types[i] = fmt.Sprintf("%q", string(rune('a'+i%2)))
	}
	return fmt.Sprintf(`{"kind":"eval","step":%d,"model":%q,"temperature":%g,"tasks":%d,"won":%q,"types":[%s]}`,
		step, model, t, len(won), won, strings.Join(types, ","))
}

// diagnosis is a train line with the diagnosis figures.
func diagnosis(step int, weights string, withWin, fromWins float64) string {
	return fmt.Sprintf(`{"kind":"train","step":%d,"tdur_w_by_turn":%s,"groups_with_win":%g,"rl_abs_from_wins":%g}`, step, weights, withWin, fromWins)
}

// section is the part of results.md from the line that starts with heading to the next heading.
func section(t *testing.T, md, heading string) string {
	i := strings.Index(md, heading)
	if i < 0 {
		t.Fatalf("results.md lacks %q:\n%s", heading, md)
	}
	s := md[i+len(heading):]
	if j := strings.Index(s, "\n#"); j >= 0 {
		s = s[:j]
	}
	return s
}

func TestBestOverRunAndTemperatures(t *testing.T) {
	root := t.TempDir()
	train := []string{diagnosis(1, "[0.5,1.5]", 0, 0), diagnosis(2, "[0.7,1.3,1.0]", 0, 0), diagnosis(3, "[1,1]", 0.25, 0.2), diagnosis(4, "[1,1]", 0.75, 0.6)}
	flat := []string{diagnosis(1, "[1,1]", 0, 0), diagnosis(2, "[1,1]", 0, 0), diagnosis(3, "[1]", 0, 0), diagnosis(4, "[1]", 0, 0)}
	// The ATOD runs: the teacher, then the student at steps 0, 2, 4, greedy and sampled at 0.4.
	writeRun(t, root, "atod-s1", 7, append(append([]string{evalAt(0, "teacher", "1110", 0), evalAt(0, "teacher", "1100", 0.4),
		evalAt(0, "student", "1000", 0), evalAt(0, "student", "0000", 0.4)}, train...),
		evalAt(2, "student", "1110", 0), evalAt(2, "student", "1000", 0.4), evalAt(4, "student", "1100", 0), evalAt(4, "student", "1100", 0.4))...)
	writeRun(t, root, "atod-s2", 7, append(append([]string{evalAt(0, "teacher", "1110", 0), evalAt(0, "teacher", "1100", 0.4),
		evalAt(0, "student", "1000", 0), evalAt(0, "student", "0000", 0.4)}, train...),
		evalAt(2, "student", "1100", 0), evalAt(2, "student", "1000", 0.4), evalAt(4, "student", "1100", 0), evalAt(4, "student", "0100", 0.4))...)
	writeRun(t, root, "opd-s1", 7, append(append([]string{evalAt(0, "student", "1000", 0), evalAt(0, "student", "0000", 0.4)}, flat...),
		evalAt(2, "student", "1000", 0), evalAt(2, "student", "0010", 0.4), evalAt(4, "student", "0000", 0), evalAt(4, "student", "0000", 0.4))...)
	// A run from before temperatures and types: its evaluations are greedy.
	writeRun(t, root, "opd-s2", 7, append(append([]string{eval(0, "student", "1000")}, flat...), eval(2, "student", "1100"), eval(4, "student", "1000"))...)
	if err := Write(root, runDirs(t, root), trainer.RunEvalSeed); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	greedy := section(t, md, "### echo: held-out success, greedy")
	sampled := section(t, md, "### echo: held-out success, sampled at temperature 0.4")
	diag := section(t, md, "#### echo: diagnosis")
	if strings.Index(md, "greedy") > strings.Index(md, "sampled at") {
		t.Error("the sampled table comes before the greedy one")
	}
	for _, c := range []struct{ in, want string }{
		// Greedy, final: ATOD 1100 twice; OPD 0000 and 1000. Best: ATOD step 2 in
		// both seeds (1110; 1100, tied with step 4: the earlier), OPD step 0
		// (1000, tied with step 2) and step 2 (1100).
		{greedy, "| teacher | 2 | 4 | 0 | 0.750 ["},
		{greedy, "| atod | 2 | 4 | 4 | 0.500 ["},
		{greedy, "| 0.625 ["},
		{greedy, "| 2, 2 |"},
		{greedy, "| opd | 2 | 4 | 4 | 0.125 ["},
		{greedy, "| 0.375 ["},
		{greedy, "| 0, 2 |"},
		// Paired, final: (1100 − 0000) + (1100 − 1000) = 3 of 8 cells; best:
		// (1110 − 1000) + (1100 − 1100) = 2 of 8. Against the teacher's 1110: −2/8, −1/8.
		{greedy, "| atod − opd | 2 × 4 | +0.375 ["},
		{greedy, "| +0.250 ["},
		{greedy, "| atod − teacher | 2 × 4 | -0.250 ["},
		{greedy, "| -0.125 ["},
		// Sampled: the teacher's 1100, the start's 0000; ATOD final 1100 and 0100,
		// best step 4 (1100) and step 2 (1000, tied with step 4); OPD's one run
		// with sampled evaluations, final 0000, best step 2 (0010).
		{sampled, "| teacher | 2 | 4 | 0 | 0.500 ["},
		{sampled, "| student at start | 2 | 4 | 0 | 0.000 ["},
		{sampled, "| atod | 2 | 4 | 4 | 0.375 ["},
		{sampled, "| 4, 2 |"},
		{sampled, "| opd | 1 | 4 | 4 | 0.000 ["},
		{sampled, "| 0.250 ["},
		// Seed 1 alone: 1100 − 0000 = +2/4; best 1100 − 0010 = +1/4.
		{sampled, "| atod − opd | 1 × 4 | +0.500 ["},
		// The RL phase (steps 3–4): groups with a win (0.25 + 0.75)/2, share of |a_rl| (0.2 + 0.6)/2.
		{diag, "| 0.500 ± 0.000 | 0.400 ± 0.000 |"},
		// T-DUR by turn over steps 1–2: (0.5 + 0.7)/2, (1.5 + 1.3)/2, 1.0 (step 2 alone).
		{diag, "| atod | 0.600 | 1.400 | 1.000 |"},
		// By type (a: tasks 1 and 3; b: 2 and 4), greedy final: teacher 1110, start
		// 1000, OPD's typed run 0000, ATOD 1100.
		{diag, "| a | 2 | 1.000 | 0.500 | 0.000 | 0.500 |"},
		{diag, "| b | 2 | 0.500 | 0.000 | 0.000 | 0.500 |"},
	} {
		if !strings.Contains(c.in, c.want) {
			t.Errorf("lacks %q in:\n%s", c.want, c.in)
		}
	}
	if rows := strings.Split(sampled, "\n"); !slices.ContainsFunc(rows, func(r string) bool {
		return strings.HasPrefix(r, "| atod − opd | 1 × 4 | +0.500 [") && strings.Contains(r, "] | +0.250 [")
	}) {
		t.Errorf("sampled paired difference with OPD, best: want +0.250:\n%s", sampled)
	}
	if tdur, _, _ := strings.Cut(section(t, diag, "T-DUR's mean weight"), "Success by task type"); strings.Contains(tdur, "| opd |") {
		t.Errorf("OPD's weights are all 1, yet it has a T-DUR row:\n%s", diag)
	}
}
