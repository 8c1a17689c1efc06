package compare

import (
	"fmt"
	"os"
	"path/filepath"
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
