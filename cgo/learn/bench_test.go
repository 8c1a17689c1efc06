package learn_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atod-dev/atod/cgo/learn"
	"github.com/atod-dev/atod/cgo/llama"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/tinymodel"
)

// Benchmarks (ATOD_BENCH=1): a LoRA train step (forward + backward + AdamW)
// against llama.cpp's prefill of the same tokens, and training throughput and
// peak memory on ~10M and ~100M parameter models. Threads: ATOD_BENCH_THREADS
// (default NumCPU).

func benchThreads() int {
	if n, err := strconv.Atoi(os.Getenv("ATOD_BENCH_THREADS")); err == nil && n > 0 {
		return n
	}
	return runtime.NumCPU()
}

func skipUnlessBench(t *testing.T) {
	if os.Getenv("ATOD_BENCH") != "1" {
		t.Skip("benchmark: set ATOD_BENCH=1")
	}
}

// benchBatch: nSeq sequences of nTok random tokens, every token after the first a target.
func benchBatch(vocab, nSeq, nTok int) []model.TrainSeq {
	rng := rand.New(rand.NewPCG(1, 1))
	seqs := make([]model.TrainSeq, nSeq)
	for i := range seqs {
		seqs[i] = randSeq(rng, vocab, nTok, 1, 1, 1)
	}
	return seqs
}

// timing is the median wall time and process CPU time of some calls; on a
// shared machine CPU time is the steadier of the two (with one thread).
type timing struct{ wall, cpu time.Duration }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// median of n timings of f, after one warm-up call.
func median(t *testing.T, n int, f func() error) timing {
	t.Helper()
	if err := f(); err != nil {
		t.Fatal(err)
	}
	walls, cpus := make([]time.Duration, n), make([]time.Duration, n)
	for i := range walls {
		t0, c0 := time.Now(), cpuTime()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		walls[i], cpus[i] = time.Since(t0), cpuTime()-c0
	}
	for _, ds := range [][]time.Duration{walls, cpus} {
		sort.Slice(ds, func(a, b int) bool { return ds[a] < ds[b] })
	}
	return timing{walls[n/2], cpus[n/2]}
}

func benchLearner(t *testing.T, path string) *learn.Learner {
	cfg := testConfig() // rank 16 on q,k,v,o,gate,up,down
	cfg.Threads = benchThreads()
	return newLearner(t, path, cfg)
}

func TestBenchTrainVsPrefill(t *testing.T) {
	skipUnlessBench(t)
	path := tinyModel(t, tinymodel.Options10M())
	tr := benchLearner(t, path)
	seqs := benchBatch(tr.VocabSize(), 4, 256)
	step := median(t, 5, func() error { _, err := tr.Step([][]model.TrainSeq{seqs}); return err })
	fwd := median(t, 5, func() error { _, err := tr.LogProbs(seqs); return err })
	cfg := testConfig()
	cfg.Threads, cfg.Recompute = benchThreads(), true
	rc := newLearner(t, path, cfg)
	stepRC := median(t, 5, func() error { _, err := rc.Step([][]model.TrainSeq{seqs}); return err })

	m, err := llama.LoadModel(path, llama.ModelParams{Backend: "cpu", Threads: benchThreads()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// as the product scores: all sequences in one call (one unified KV cache) ...
	batched := prefill(t, m, seqs, len(seqs))
	// ... and one sequence per call, where attention spans only that sequence
	single := prefill(t, m, seqs, 1)
	pre := batched
	if single.wall < pre.wall {
		pre = single
	}
	ms := func(d time.Duration) float64 { return d.Seconds() * 1e3 }
	fmt.Printf("bench: train_step_ms_10m_4x256 = %.1f ms\n", ms(step.wall))
	fmt.Printf("bench: train_forward_ms_10m_4x256 = %.1f ms\n", ms(fwd.wall))
	fmt.Printf("bench: prefill_ms_10m_4x256_batched = %.1f ms\n", ms(batched.wall))
	fmt.Printf("bench: prefill_ms_10m_4x256_one_seq_per_call = %.1f ms\n", ms(single.wall))
	fmt.Printf("bench: train_vs_prefill = %.2f x\n", step.wall.Seconds()/pre.wall.Seconds())
	fmt.Printf("bench: train_vs_prefill_cpu_time = %.2f x\n", step.cpu.Seconds()/pre.cpu.Seconds())
	fmt.Printf("bench: train_vs_own_forward_cpu_time = %.2f x\n", step.cpu.Seconds()/fwd.cpu.Seconds())
	fmt.Printf("bench: train_step_ms_10m_4x256_recompute = %.1f ms\n", ms(stepRC.wall))
	fmt.Printf("bench: train_vs_prefill_recompute = %.2f x\n", stepRC.wall.Seconds()/pre.wall.Seconds())
}

// prefill times llama.cpp scoring every token of seqs (nothing reused), nSeq
// sequences per Score call.
func prefill(t *testing.T, m *llama.Model, seqs []model.TrainSeq, nSeq int) timing {
	c, err := m.NewContext(llama.ContextParams{NCtx: len(seqs[0].Tokens), NSeq: nSeq, NBatch: nSeq * len(seqs[0].Tokens)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return median(t, 5, func() error {
		for i := 0; i < len(seqs); i += nSeq {
			c.ClearAll()
			reqs := make([]model.ScoreRequest, nSeq)
			for j := range reqs {
				reqs[j] = model.ScoreRequest{Seq: j, Tokens: seqs[i+j].Tokens, From: 1}
			}
			if _, err := c.Score(reqs); err != nil {
				return err
			}
		}
		return nil
	})
}

// The throughput benchmarks run in a child process each, so that its peak RSS
// (VmHWM) belongs to that model alone.
func TestBenchTrain10M(t *testing.T)  { benchInChild(t, "10m") }
func TestBenchTrain100M(t *testing.T) { benchInChild(t, "100m") }

func benchInChild(t *testing.T, size string) {
	skipUnlessBench(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchChild$", "-test.v")
	cmd.Env = append(os.Environ(), "ATOD_BENCH_CHILD="+size)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child %s: %v\n%s", size, err, out)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "bench: ") {
			fmt.Println(sc.Text())
		}
	}
}

func TestBenchChild(t *testing.T) {
	size := os.Getenv("ATOD_BENCH_CHILD")
	if size == "" {
		t.Skip("run by TestBenchTrain10M/100M")
	}
	o := tinymodel.Options10M()
	if size == "100m" {
		o = tinymodel.Options100M()
	}
	path := filepath.Join(t.TempDir(), "model.gguf")
	if err := tinymodel.Write(path, o); err != nil {
		t.Fatal(err)
	}
	tr := benchLearner(t, path)
	const nSeq, nTok = 4, 256
	seqs := benchBatch(tr.VocabSize(), nSeq, nTok)
	step := median(t, 5, func() error { _, err := tr.Step([][]model.TrainSeq{seqs}); return err })
	fmt.Printf("bench: train_tokens_per_s_%s = %.0f tokens/s\n", size, float64(nSeq*nTok)/step.wall.Seconds())
	fmt.Printf("bench: train_tokens_per_cpu_s_%s = %.0f tokens/s\n", size, float64(nSeq*nTok)/step.cpu.Seconds())
	fmt.Printf("bench: train_peak_rss_mb_%s = %.0f MB\n", size, vmHWM(t)/1024)
	t.Logf("%d params, %d threads, %v per step of %dx%d tokens", o.NParams(), benchThreads(), step.wall, nSeq, nTok)
}

// TestBenchTrainMemory measures the learner's working set (peak RSS during one
// step minus the RSS once the model is loaded) on the 100M model for one
// sequence of 512 and of 1,024 tokens, with and without Recompute, each in a
// child process of its own.
func TestBenchTrainMemory(t *testing.T) {
	skipUnlessBench(t)
	path := filepath.Join(t.TempDir(), "100m.gguf")
	if err := tinymodel.Write(path, tinymodel.Options100M()); err != nil {
		t.Fatal(err)
	}
	ws := map[string]float64{}
	for _, rc := range []bool{false, true} {
		for _, n := range []string{"512", "1024"} {
			mb, loaded := memoryChild(t, path, n, rc, 0)
			suffix := ""
			if rc {
				suffix = "_recompute"
			}
			name := "train_working_set_mb_100m_1x" + n + suffix
			ws[name] = mb
			fmt.Printf("bench: %s = %.0f MB\n", name, mb)
			if n == "512" { // the model as the learner holds it, transposed copies included
				fmt.Printf("bench: train_learner_loaded_mb_100m%s = %.0f MB\n", suffix, loaded)
			}
		}
	}
	fmt.Printf("bench: train_working_set_2x_len_ratio = %.2f x\n", ws["train_working_set_mb_100m_1x1024"]/ws["train_working_set_mb_100m_1x512"])
	fmt.Printf("bench: train_working_set_2x_len_ratio_recompute = %.2f x\n", ws["train_working_set_mb_100m_1x1024_recompute"]/ws["train_working_set_mb_100m_1x512_recompute"])
}

// TestBenchQuantizedTrain times a LoRA step (Recompute, 1×1,024 tokens) on the
// 100M model with an f16 base and with its Q4_K_M and Q8_0 quantizations.
func TestBenchQuantizedTrain(t *testing.T) {
	skipUnlessBench(t)
	dir := t.TempDir()
	o := tinymodel.Options100M()
	o.F16 = true
	f16 := filepath.Join(dir, "f16.gguf")
	if err := tinymodel.Write(f16, o); err != nil {
		t.Fatal(err)
	}
	speed := map[string]float64{}
	for _, typ := range []string{"f16", "q4_k_m", "q8_0"} {
		path := f16
		if typ != "f16" {
			path = filepath.Join(dir, typ+".gguf")
			if err := llama.Quantize(f16, path, typ, benchThreads()); err != nil {
				t.Fatal(err)
			}
		}
		cfg := testConfig()
		cfg.Threads, cfg.Recompute = benchThreads(), true
		tr := newLearner(t, path, cfg)
		seqs := benchBatch(tr.VocabSize(), 1, 1024)
		step := median(t, 3, func() error { _, err := tr.Step([][]model.TrainSeq{seqs}); return err })
		speed[typ] = 1024 / step.wall.Seconds()
		fmt.Printf("bench: train_tokens_per_s_100m_1x1024_%s = %.0f tokens/s\n", typ, speed[typ])
	}
	fmt.Printf("bench: train_q4_k_m_vs_f16_speed = %.2f x\n", speed["q4_k_m"]/speed["f16"])
	fmt.Printf("bench: train_q8_0_vs_f16_speed = %.2f x\n", speed["q8_0"]/speed["f16"])
}

// TestBenchRealLearner times the learner alone on a real-shape model
// (ATOD_BENCH_REAL_MODEL, built by scripts/bench-real.sh) with the trainer's
// default adapter (rank 8 on q, k, v, o): a LoRA step on 1×1,024 tokens, every
// one a target, the median of three after one (the first step makes the kept
// transposes and buffers), with Recompute (the default), without keeping MLP
// inputs, and with the whole-graph backward, side by side. With
// ATOD_BENCH_MEM_RATIO=1 it also measures the learner's working set (a child
// process each, the default's kept MLP inputs included) on one sequence of
// 765 tokens (a bench-real episode) and of twice that.
func TestBenchRealLearner(t *testing.T) {
	path, name := os.Getenv("ATOD_BENCH_REAL_MODEL"), os.Getenv("ATOD_BENCH_NAME")
	if path == "" {
		t.Skip("run by scripts/bench-real.sh")
	}
	// recompute with optim.keep_mlp_mb's default (1 GiB: every layer's MLP
	// inputs at 1,024 tokens), recompute keeping none, and the whole graph
	for _, mode := range []struct {
		which     string
		recompute bool
		keep      int64
	}{{"recompute", true, 1 << 30}, {"recompute_keep0", true, 0}, {"whole_graph", false, 0}} {
		cfg := testConfig()
		cfg.Rank, cfg.Alpha, cfg.Targets = 8, 16, []string{"q", "k", "v", "o"}
		cfg.Threads, cfg.Recompute = benchThreads(), mode.recompute
		cfg = learn.KeepMLPBytes(cfg, mode.keep)
		tr, err := learn.New(path, cfg)
		if err != nil {
			t.Fatal(err)
		}
		one := benchBatch(tr.VocabSize(), 1, 1024)
		step := median(t, 3, func() error { _, err := tr.Step([][]model.TrainSeq{one}); return err })
		tr.Close()
		fmt.Printf("bench: real_%s_lora_step_tokens_per_s_1x1024_%s = %.1f tokens/s\n", name, mode.which, 1024/step.wall.Seconds())
	}
	if os.Getenv("ATOD_BENCH_MEM_RATIO") != "1" {
		return
	}
	ws := map[string]float64{}
	for _, n := range []string{"765", "1530"} {
		ws[n], _ = memoryChild(t, path, n, true, 1024)
		fmt.Printf("bench: real_%s_learner_working_set_mb_1x%s = %.0f MB\n", name, n, ws[n])
	}
	fmt.Printf("bench: real_%s_learner_memory_2x_len_ratio = %.2f x\n", name, ws["1530"]/ws["765"])
}
