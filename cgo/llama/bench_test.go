package llama_test

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/atod-dev/atod/cgo/llama"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/tinymodel"
)

// benchModel is a ~10M parameter f32 llama (vocab 4096) on the default backend, with
// $ATOD_BENCH_THREADS CPU threads (default 1; 0 = all cores). One thread by default because
// ggml's workers spin at barriers: on a machine busy with other work, more threads than free
// cores make decoding many times slower and the figures meaningless.
func benchModel(t *testing.T) *llama.Model {
	if os.Getenv("ATOD_BENCH") != "1" {
		t.Skip("set ATOD_BENCH=1 to run benchmarks")
	}
	path := filepath.Join(t.TempDir(), "bench.gguf")
	if err := tinymodel.Write(path, tinymodel.Options10M()); err != nil {
		t.Fatal(err)
	}
	return loadBenchModel(t, path)
}

func benchThreads(t *testing.T) int {
	threads := 1
	if s := os.Getenv("ATOD_BENCH_THREADS"); s != "" {
		var err error
		if threads, err = strconv.Atoi(s); err != nil {
			t.Fatalf("ATOD_BENCH_THREADS: %v", err)
		}
	}
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	return threads
}

func loadBenchModel(t *testing.T, path string) *llama.Model {
	m, err := llama.LoadModel(path, llama.ModelParams{Backend: "auto", GPULayers: -1, Threads: benchThreads(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func randomTokens(m *llama.Model, rng *rand.Rand, n int) []int32 {
	toks := make([]int32, n)
	for i := range toks {
		toks[i] = int32(256 + rng.Intn(m.VocabSize()-259)) // merged tokens, no specials
	}
	return toks
}

// TestBenchGenVsRaw: tokens/s of batched generation through Generate ÷ a plain C loop of llama_decode
// and the same sampler, for the same prompts and per-sequence lengths.
func TestBenchGenVsRaw(t *testing.T) {
	m := benchModel(t)
	const nSeq, nPrompt, nGen, reps = 8, 32, 64, 9
	c, err := m.NewContext(llama.ContextParams{NCtx: nPrompt + nGen + 8, NSeq: nSeq})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rng := rand.New(rand.NewSource(1))
	prompts := make([][]int32, nSeq)
	reqs := make([]model.GenRequest, nSeq)
	for i := range prompts {
		prompts[i] = randomTokens(m, rng, nPrompt)
		reqs[i] = model.GenRequest{Seq: i, Prompt: prompts[i], Sampling: model.Sampling{Temperature: 1, Seed: uint64(1000 + i), MaxTokens: nGen}}
	}
	lens := make([]int32, nSeq)
	runAPI := func() time.Duration {
		c.ClearAll()
		t0 := time.Now()
		res, err := c.Generate(reqs)
		d := time.Since(t0)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			lens[i] = int32(len(r.Tokens))
		}
		return d
	}
	runRaw := func() time.Duration {
		t0 := time.Now()
		if err := c.RawGenerate(prompts, lens, 1, 1000); err != nil {
			t.Fatal(err)
		}
		return time.Since(t0)
	}
	runAPI() // warm up, and fix the lengths the raw loop reproduces
	runRaw()
	var ratios, rates []float64
	for rep := range reps { // alternate the order, so that neither always runs on a warmer machine
		var dAPI, dRaw time.Duration
		if rep%2 == 0 {
			dAPI, dRaw = runAPI(), runRaw()
		} else {
			dRaw, dAPI = runRaw(), runAPI()
		}
		n := 0
		for _, l := range lens {
			n += int(l)
		}
		ratios = append(ratios, dRaw.Seconds()/dAPI.Seconds())
		rates = append(rates, float64(n)/dAPI.Seconds())
	}
	fmt.Printf("bench: gen_tokens_per_s = %.1f tokens/s\n", median(rates))
	fmt.Printf("bench: gen_vs_raw = %.3f ratio\n", median(ratios))
}

// median of pairwise measurements: robust to bursts of load from other processes.
func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// TestBenchScoreVsPrefill: tokens/s of Score over a whole sequence ÷ llama.cpp prefill tokens/s
// (llama_decode of the same tokens with logits for all).
func TestBenchScoreVsPrefill(t *testing.T) {
	m := benchModel(t)
	const n, reps = 512, 9
	c, err := m.NewContext(llama.ContextParams{NCtx: n, NSeq: 1, NBatch: n})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	toks := randomTokens(m, rand.New(rand.NewSource(2)), n)
	var ratios, rates []float64
	for rep := range reps + 1 { // the first round warms up
		c.ClearAll()
		t0 := time.Now()
		if _, err := c.Score([]model.ScoreRequest{{Tokens: toks, From: 1}}); err != nil {
			t.Fatal(err)
		}
		dScore := time.Since(t0)
		t0 = time.Now()
		if err := c.RawPrefill(toks); err != nil {
			t.Fatal(err)
		}
		dPrefill := time.Since(t0)
		if rep > 0 {
			scoreRate := float64(n-1) / dScore.Seconds() // n tokens have n-1 scored positions
			ratios = append(ratios, scoreRate/(float64(n)/dPrefill.Seconds()))
			rates = append(rates, scoreRate)
		}
	}
	fmt.Printf("bench: score_tokens_per_s = %.1f tokens/s\n", median(rates))
	fmt.Printf("bench: score_vs_prefill = %.3f ratio\n", median(ratios))
}

// TestBenchDecode: single-sequence generation speed (one token per llama_decode), the
// matrix-vector-bound case that the CPU's vector instructions speed up.
func TestBenchDecode(t *testing.T) {
	m := benchModel(t)
	c, err := m.NewContext(llama.ContextParams{NCtx: 512, NSeq: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	prompt := randomTokens(m, rand.New(rand.NewSource(3)), 8)
	var d time.Duration
	tokens := 0
	for rep := range 4 {
		c.ClearAll()
		t0 := time.Now()
		res, err := c.Generate([]model.GenRequest{{Prompt: prompt, Sampling: model.Sampling{Temperature: 1, Seed: uint64(rep), MaxTokens: 256}}})
		if err != nil {
			t.Fatal(err)
		}
		if rep > 0 {
			d, tokens = d+time.Since(t0), tokens+len(res[0].Tokens)
		}
	}
	fmt.Printf("bench: decode_tokens_per_s = %.1f tokens/s\n", float64(tokens)/d.Seconds())
}

// streamsWorkload is a step of rollouts: groups of 4 sequences, each group sharing a prompt, the
// transcripts of distinct lengths (about 600 tokens; 765 on average with bench-real's model).
func streamsWorkload(m *llama.Model, groups, extra int) (prompts [][]int32, transcripts [][]int32) {
	rng := rand.New(rand.NewSource(4))
	for g := range groups {
		shared := randomTokens(m, rng, 160+40*g)
		for range 4 {
			prompts = append(prompts, concat(shared, randomTokens(m, rng, 16)))
			transcripts = append(transcripts, concat(shared, randomTokens(m, rng, extra+300+rng.Intn(300))))
		}
	}
	return prompts, transcripts
}

// TestBenchStreamsVsUnified: the same generation and scoring requests through a context with a KV stream
// per sequence and through one unified KV buffer (seconds unified ÷ seconds streams, medians of paired
// runs in alternating order); and, for the 10M model, the streams' scoring speed against the FLOP bound
// of the model, from a matmul of its size on the same threads. With $ATOD_BENCH_REAL_MODEL it runs
// that model instead (make bench-real: 8 sequences, real_ figures).
func TestBenchStreamsVsUnified(t *testing.T) {
	if os.Getenv("ATOD_BENCH") != "1" {
		t.Skip("set ATOD_BENCH=1 to run benchmarks")
	}
	var m *llama.Model
	name, reps := "", 3
	prompts, transcripts := [][]int32(nil), [][]int32(nil)
	if path := os.Getenv("ATOD_BENCH_REAL_MODEL"); path != "" {
		m, name, reps = loadBenchModel(t, path), "real_", 1 // unified scoring takes minutes at the 0.5B shape
		prompts, transcripts = streamsWorkload(m, 2, 120)
	} else {
		m = benchModel(t)
		prompts, transcripts = streamsWorkload(m, 4, 0)
	}
	open := func(unified bool) *llama.Context {
		c, err := m.NewContext(llama.ContextParams{NCtx: 1024, NSeq: len(prompts), Unified: unified})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	ctxs := [2]*llama.Context{open(false), open(true)}
	var gens []model.GenRequest
	for i, p := range prompts {
		gens = append(gens, model.GenRequest{Seq: i, Prompt: p, Sampling: model.Sampling{Temperature: 1, Seed: uint64(i), MaxTokens: 24 + 2*(7*i%len(prompts))}}) // finishing out of order, as episodes do
	}
	reqs := scoreRequests(transcripts)
	decoded := 0
	timeIt := func(c *llama.Context, score bool) float64 {
		c.ClearAll()
		t0 := time.Now()
		if score {
			res, err := c.Score(reqs)
			if err != nil {
				t.Fatal(err)
			}
			decoded = 0
			for _, r := range res {
				decoded += r.Decoded
			}
		} else if _, err := c.Generate(gens); err != nil {
			t.Fatal(err)
		}
		return time.Since(t0).Seconds()
	}
	for _, score := range []bool{false, true} {
		timeIt(ctxs[0], score) // warm up
		var ratios, secs []float64
		for rep := range reps {
			var d [2]float64
			for k := range 2 {
				k = (k + rep) % 2
				d[k] = timeIt(ctxs[k], score)
			}
			ratios = append(ratios, d[1]/d[0])
			secs = append(secs, d[0])
		}
		what := "gen"
		if score {
			what = "score"
		}
		fmt.Printf("bench: %s%s_streams_vs_unified = %.2f ratio (streams %.2f s)\n", name, what, median(ratios), median(secs))
		if score && name == "" {
			scoreFLOPBound(t, m, median(secs), decoded, reqs)
		}
	}
	if name != "" {
		// The issue's own measurement: 8 transcripts of 765 tokens that share nothing, where the unified
		// buffer cannot store a prompt once for several sequences.
		rng := rand.New(rand.NewSource(5))
		transcripts = transcripts[:0]
		for range 8 {
			transcripts = append(transcripts, randomTokens(m, rng, 765))
		}
		reqs = scoreRequests(transcripts)
		d := [2]float64{timeIt(ctxs[0], true), timeIt(ctxs[1], true)}
		fmt.Printf("bench: %sunshared_score_streams_vs_unified = %.2f ratio (streams %.2f s)\n", name, d[1]/d[0], d[0])
	}
}

// scoreRequests scores every fourth position of each transcript: about the share that is the agent's own tokens.
func scoreRequests(transcripts [][]int32) []model.ScoreRequest {
	var reqs []model.ScoreRequest
	for i, tr := range transcripts {
		mask := make([]bool, len(tr))
		for p := range mask {
			mask[p] = p%4 == 0
		}
		reqs = append(reqs, model.ScoreRequest{Seq: i, Tokens: tr, From: 1, Mask: mask})
	}
	return reqs
}

// scoreFLOPBound prints streams scoring's tokens/s ÷ the tokens/s the model's matmul FLOPs allow at the
// rate of one F32 matmul of its MLP's size: per decoded token 2·(layer weights) plus attention over
// half its transcript on average, and the output head for the scored share of positions.
func scoreFLOPBound(t *testing.T, m *llama.Model, secs float64, decoded int, reqs []model.ScoreRequest) {
	o := tinymodel.Options10M()
	E, F, L, V := float64(o.Embd), float64(o.FF), float64(o.Layers), float64(o.VocabSize)
	kv := float64(o.KVHeads * o.HeadDim())
	var scored, attended float64
	for _, r := range reqs {
		for p := range r.Tokens {
			attended += float64(p)
			if r.Scored(p) {
				scored++
			}
		}
	}
	tokens := float64(decoded)
	flops := L*(2*(2*E*E+2*E*kv+3*E*F)*tokens+4*E*attended) + 2*E*V*scored
	threads := benchThreads(t)
	var rates []float64
	for range 5 {
		s, err := llama.RawMatmulSeconds(o.Embd, o.FF, 512, threads)
		if err != nil {
			t.Fatal(err)
		}
		rates = append(rates, 2*E*F*512/s)
	}
	rate := median(rates)
	fmt.Printf("bench: matmul_gflops = %.2f GFLOP/s\n", rate/1e9)
	fmt.Printf("bench: score_tokens_per_s_vs_flops = %.3f ratio (%.0f tokens/s of a bound of %.0f)\n",
		(tokens/secs)/(rate*tokens/flops), tokens/secs, rate*tokens/flops)
}
