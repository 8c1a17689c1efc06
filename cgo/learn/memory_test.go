package learn_test

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// vmRSS is the process's current resident set in KiB (0 where /proc is missing).
func vmRSS() float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			v, _ := strconv.ParseFloat(f[1], 64)
			return v
		}
	}
	return 0
}

// Steps (and forward passes) of varying shapes reuse the scheduler's buffers
// and a fixed metadata arena: resident memory stays flat.
func TestNoMemoryGrowthAcrossSteps(t *testing.T) {
	if vmRSS() == 0 {
		t.Skip("no /proc/self/status")
	}
	tr := newLearner(t, tinyModel(t, tinyOpts("qwen2")), loraConfig())
	run := func(n int) {
		for i := 0; i < n; i++ {
			micro := stateMicro(tr.VocabSize(), i%5)
			if _, err := tr.Step(micro); err != nil {
				t.Fatal(err)
			}
			if _, err := tr.LogProbs(micro[1]); err != nil {
				t.Fatal(err)
			}
		}
		debug.FreeOSMemory()
	}
	run(20)
	before := vmRSS()
	run(300)
	after := vmRSS()
	t.Logf("RSS %.1f MB -> %.1f MB over 300 steps", before/1024, after/1024)
	if after-before > 4*1024 {
		t.Errorf("RSS grew by %.1f MB over 300 steps", (after-before)/1024)
	}
}
