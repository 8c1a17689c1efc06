package tinymodel

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/atod-dev/atod/tokenizer"
)

// TestBenchWrite times tokenizer training and writing the ~10M and ~100M models.
func TestBenchWrite(t *testing.T) {
	if os.Getenv("ATOD_BENCH") != "1" {
		t.Skip("ATOD_BENCH=1 runs benchmarks")
	}
	for _, v := range []int{4096, 32000} {
		start := time.Now()
		if _, err := tokenizer.Train(DefaultCorpus, v); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("bench: tokenizer_train_vocab%d = %.1f ms\n", v, time.Since(start).Seconds()*1000)
	}
	for name, o := range map[string]Options{"10m": Options10M(), "100m": Options100M()} {
		path := filepath.Join(t.TempDir(), name+".gguf")
		start := time.Now()
		if err := Write(path, o); err != nil {
			t.Fatal(err)
		}
		sec := time.Since(start).Seconds()
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("bench: tinymodel_write_%s = %.2f s\n", name, sec)
		fmt.Printf("bench: tinymodel_write_%s_rate = %.0f MB/s\n", name, float64(st.Size())/sec/1e6)
	}
}
