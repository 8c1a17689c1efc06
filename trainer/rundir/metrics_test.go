package rundir

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Lines appended and read back keep their figures (NaN as null, read as 0);
// a torn last line is left out, a malformed earlier one is an error; a
// truncation keeps the lines of the steps up to its own.
func TestMetricsLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, MetricsFile)
	for s := 1; s <= 3; s++ {
		if err := AppendJSONL(path, StepMetrics{Kind: "train", Step: s, Loss: Float(math.NaN()), Success: 0.5}); err != nil {
			t.Fatal(err)
		}
	}
	if err := AppendJSONL(path, EvalMetrics{Kind: "eval", Step: 3, Model: "student", Won: "10"}); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"kind":"train","step":4,"lo`)
	f.Close()
	train, eval, err := ReadMetrics(dir)
	if err != nil || len(train) != 3 || len(eval) != 1 || train[2].Step != 3 || train[0].Loss != 0 || eval[0].Won != "10" {
		t.Fatalf("read %+v %+v (%v): want 3 train lines and 1 eval line, the torn one left out", train, eval, err)
	}
	if err := TruncateMetrics(path, 1); err != nil {
		t.Fatal(err)
	}
	if train, eval, err = ReadMetrics(dir); err != nil || len(train) != 1 || len(eval) != 0 {
		t.Errorf("after truncating to step 1: %d train and %d eval lines (%v), want 1 and 0", len(train), len(eval), err)
	}
	b, _ := os.ReadFile(path)
	os.WriteFile(path, append([]byte("{not json}\n"), b...), 0o644)
	if _, _, err := ReadMetrics(dir); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("a malformed first line: %v", err)
	}
}
