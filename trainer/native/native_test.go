package native

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atod-dev/atod/envs"
	_ "github.com/atod-dev/atod/envs/builtin"
	"github.com/atod-dev/atod/gguf"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/tinymodel"
	"github.com/atod-dev/atod/trainer"
	"github.com/atod-dev/atod/trainer/rollout"
	"github.com/atod-dev/atod/trainer/rundir"
)

// Real tiny random models through cgo: a student and a teacher written from the
// same corpus and vocabulary with different weights.

var (
	tinyOnce sync.Once
	tinyDir  string
	tinyErr  error
)

func tinyModels(t *testing.T) (student, teacher, otherVocab string) {
	t.Helper()
	tinyOnce.Do(func() {
		tinyDir, tinyErr = os.MkdirTemp("", "atod-trainer-models")
		if tinyErr != nil {
			return
		}
		o := tinymodel.DefaultOptions()
		o.Context = 2048
		for _, m := range []struct {
			name  string
			seed  int64
			vocab int
		}{{"student.gguf", 1, 512}, {"teacher.gguf", 2, 512}, {"other.gguf", 3, 600}} {
			o.Seed, o.VocabSize = m.seed, m.vocab
			if tinyErr = tinymodel.Write(filepath.Join(tinyDir, m.name), o); tinyErr != nil {
				return
			}
		}
	})
	if tinyErr != nil {
		t.Fatal(tinyErr)
	}
	return filepath.Join(tinyDir, "student.gguf"), filepath.Join(tinyDir, "teacher.gguf"), filepath.Join(tinyDir, "other.gguf")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if tinyDir != "" {
		os.RemoveAll(tinyDir)
	}
	os.Exit(code)
}

func readTrain(t *testing.T, runDir string) []rundir.StepMetrics {
	t.Helper()
	train, _, err := rundir.ReadMetrics(runDir)
	if err != nil {
		t.Fatal(err)
	}
	return train
}

// sentence is text as a training sequence: every token after the first a target of weight 1.
func sentence(t *testing.T, lm model.LM, text string) model.TrainSeq {
	t.Helper()
	toks, err := lm.Tokenize(text, false)
	if err != nil {
		t.Fatal(err)
	}
	s := model.TrainSeq{Tokens: toks, Mask: make([]bool, len(toks)), Weights: make([]float32, len(toks))}
	for i := 1; i < len(toks); i++ {
		s.Mask[i], s.Weights[i] = true, 1
	}
	return s
}

// scoreTokens is lm's log-probs of toks[1:].
func scoreTokens(t *testing.T, lm model.LM, toks []int32) []float32 {
	t.Helper()
	r, err := lm.Score([]model.ScoreRequest{{Tokens: toks, From: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return r[0].LogProbs
}

// nativeConfig is a small household run on the tiny models.
func nativeConfig(t *testing.T, sets ...string) *trainer.Config {
	t.Helper()
	s, te, _ := tinyModels(t)
	c := trainer.DefaultConfig()
	c.Student.Model, c.Teacher.Model = s, te
	c.OutDir = filepath.Join(t.TempDir(), "run")
	c.Steps = 3
	c.LoRA = model.LoRA{Rank: 4, Alpha: 8, Targets: []string{"q", "v", "o"}}
	c.Rollout = trainer.RolloutConfig{TasksPerStep: 1, GroupSize: 2, MaxTurns: 2, History: "full", LastN: 2, ShowAdmissible: true, Context: 2048, InvalidPenalty: 0.1, EnvRetries: 2, EnvBackoff: 1, MaxFailedShare: 0.5}
	c.Sampling = trainer.SamplingConfig{Temperature: 1, TopP: 1, MaxTokens: 8}
	c.Eval = trainer.EvalConfig{Every: 2, Tasks: 1, Split: "test", Temperature: 0, Teacher: true}
	c.Checkpoint.Every = 2
	c.Optim.LR = 1e-2
	c.Optim.MicroTokens = 2048
	c.Backend = trainer.BackendConfig{Device: "cpu", Threads: 1, ShareBase: "auto"}
	if err := c.Apply(sets); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return &c
}

func TestNativeRunWritesMetricsAndCheckpoint(t *testing.T) {
	cfg := nativeConfig(t)
	sum, err := trainer.Run(cfg, trainer.RunOptions{Open: Open, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	ms := readTrain(t, cfg.OutDir)
	if len(ms) != 3 || sum.Steps != 3 {
		t.Fatalf("%d train lines, summary %+v", len(ms), sum)
	}
	for _, m := range ms {
		if m.Skipped || m.Tokens == 0 || m.Loss == 0 || m.GradNorm <= 0 {
			t.Errorf("step %d: skipped %v tokens %d loss %v grad norm %v", m.Step, m.Skipped, m.Tokens, m.Loss, m.GradNorm)
		}
	}
	t.Logf("step 1: %+v", ms[0])
	for _, p := range []string{"ckpt/step-2/adapter.gguf", "ckpt/step-3/state.bin", "ckpt/latest", "report.md", "plots/success.svg"} {
		if _, err := os.Stat(filepath.Join(cfg.OutDir, p)); err != nil {
			t.Error(err)
		}
	}
	_, ev, err := rundir.ReadMetrics(cfg.OutDir)
	if err != nil {
		t.Fatal(err)
	}
	teacher := 0
	for _, e := range ev {
		if e.Model == "teacher" {
			teacher++
		}
	}
	if teacher != 1 {
		t.Errorf("teacher eval lines %d", teacher)
	}
}

// With a real model the transcript is rescored to the log-probs recorded at
// sampling: the tokens are exactly the sampled ones, in the same context.
func TestNativeRolloutIsOnPolicy(t *testing.T) {
	cfg := nativeConfig(t)
	ms, err := Open(cfg, trainer.Need{Student: true, Teacher: true, NSeq: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	env, err := envs.New("household", nil)
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := env.Tasks("train", 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	spec := cfg.EvalSpec(1)
	spec.MaxTurns = 3
	spec.Seed = func(a, b, c int) uint64 { return rollout.DeriveSeed(3, int64(a), int64(b), int64(c)) }
	eps, err := rollout.Play(ms.Student, env, tasks, 2, spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := rollout.ScoreTeacher(ms.Student, ms.Student, eps, rollout.TopK{}, nil); err != nil { // the student as its own "teacher"
		t.Fatal(err)
	}
	var worst float64
	n := 0
	for _, e := range eps {
		for _, tr := range e.Turns {
			for j := range tr.LpS {
				worst = max(worst, abs(float64(tr.LpS[j]-tr.LpT[j])))
				n++
			}
		}
		if len(e.Turns) < 2 && !e.Done {
			t.Errorf("episode with %d turns not done", len(e.Turns))
		}
	}
	t.Logf("%d tokens, max |lp_sample − lp_rescored| = %.2g", n, worst)
	if n == 0 || worst > 2e-3 {
		t.Errorf("rescored log-probs differ from sampled ones by %g over %d tokens", worst, n)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestNativeResumeMatches(t *testing.T) {
	sets := []string{"steps=4", "checkpoint.every=2", "eval.tasks=0"}
	a := nativeConfig(t, sets...)
	if _, err := trainer.Run(a, trainer.RunOptions{Open: Open, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	b := nativeConfig(t, sets...)
	if _, err := trainer.Run(b, trainer.RunOptions{Open: Open, Log: io.Discard, StopAfter: 3}); err != trainer.ErrStopped {
		t.Fatal(err)
	}
	if _, err := trainer.Run(b, trainer.RunOptions{Open: Open, Log: io.Discard, Resume: true}); err != nil {
		t.Fatal(err)
	}
	ma, mb := rundir.DropTimes(readTrain(t, a.OutDir)), rundir.DropTimes(readTrain(t, b.OutDir))
	if !reflect.DeepEqual(ma, mb) {
		t.Errorf("resumed run differs:\n%+v\n%+v", ma, mb)
	}
}

func TestNativeBadConfigsFailFast(t *testing.T) {
	s, _, other := tinyModels(t)
	cfg := nativeConfig(t)
	cfg.Teacher.Model = other
	start := time.Now()
	_, err := Open(cfg, trainer.Need{Student: true, Teacher: true, Learner: true, NSeq: 4})
	if err == nil || !strings.Contains(err.Error(), "teacher") {
		t.Errorf("vocabulary mismatch: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("vocabulary check took %v", d)
	}
	t.Log(err)
	// A file that is not a GGUF fails with the path.
	bad := filepath.Join(t.TempDir(), "bad.gguf")
	os.WriteFile(bad, []byte("not a model"), 0o644)
	cfg.Teacher.Model = bad
	if _, err := Open(cfg, trainer.Need{Student: true, Teacher: true, NSeq: 1}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad teacher file: %v", err)
	}
	_ = s
}

// full_weights trains every weight; the student reloads the saved model each step.
func TestNativeFullWeights(t *testing.T) {
	cfg := nativeConfig(t, "steps=2", "eval.tasks=0", "lora.full_weights=true", "rollout.max_turns=1")
	if _, err := trainer.Run(cfg, trainer.RunOptions{Open: Open, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	ms := readTrain(t, cfg.OutDir)
	if len(ms) != 2 || ms[1].Skipped || ms[0].ReverseKL == ms[1].ReverseKL {
		t.Errorf("full-weights steps: %+v", ms)
	}
}

// Micro-batches by token budget give the update of one big batch.
func TestTokenBudgetMicroBatches(t *testing.T) {
	cfg := nativeConfig(t, "optim.lr=0.05")
	ms, err := Open(cfg, trainer.Need{Student: true, NSeq: 1})
	if err != nil {
		t.Fatal(err)
	}
	var seqs []model.TrainSeq
	for _, text := range []string{"a", "the kitchen has a red apple on the table", "go to drawer 2 and open it", "look",
		"take the knife from the countertop and put it in the sink basin, then clean it"} {
		s := sentence(t, ms.Student, strings.Repeat(text+" ", 3))
		for i := 1; i < len(s.Tokens); i++ {
			s.Weights[i] = float32(i%3) - 0.5
		}
		seqs = append(seqs, s)
	}
	ms.Close()
	micro := trainer.MicroBatches(seqs, 64)
	if len(micro) < 3 {
		t.Fatalf("%d micro-batches: the budget should split these", len(micro))
	}
	after := func(batches [][]model.TrainSeq) (float32, []float32) {
		ms, err := Open(cfg, trainer.Need{Student: true, Learner: true, NSeq: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer ms.Close()
		st, err := ms.Learner.Step(batches)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "w.gguf")
		if err := ms.SyncWeights(path); err != nil {
			t.Fatal(err)
		}
		return st.Loss, scoreTokens(t, ms.Student, seqs[4].Tokens)
	}
	l1, lp1 := after(micro)
	l2, lp2 := after([][]model.TrainSeq{seqs})
	if d := math.Abs(float64(l1-l2)) / math.Abs(float64(l2)); d > 1e-5 {
		t.Errorf("loss %v in %d micro-batches, %v in one", l1, len(micro), l2)
	}
	worst := 0.0
	for i := range lp1 {
		worst = max(worst, math.Abs(float64(lp1[i]-lp2[i])))
	}
	if worst > 1e-5 {
		t.Errorf("log-probs after the update differ by %g", worst)
	}
}

// After the first step's file, the learner's weights reach the student in
// memory, and the student scores as it would with the file.
func TestInMemoryHandoffMatchesFile(t *testing.T) {
	cfg := nativeConfig(t, "optim.lr=0.05")
	a, err := Open(cfg, trainer.Need{Student: true, Learner: true, NSeq: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	seq := sentence(t, a.Student, "the kitchen has a red apple on the table")
	score := func(lm model.LM) []float32 { return scoreTokens(t, lm, seq.Tokens) }
	dir := t.TempDir()
	var before []float32
	for step := 1; step <= 3; step++ {
		if _, err := a.Learner.Step([][]model.TrainSeq{{seq}}); err != nil {
			t.Fatal(err)
		}
		sync := filepath.Join(dir, fmt.Sprintf("sync-%d.gguf", step))
		if err := a.SyncWeights(sync); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(sync); (err == nil) != (step == 1) {
			t.Errorf("step %d: sync file written %v, want only at step 1 (then in memory)", step, err == nil)
		}
		// The same weights through a file, into a fresh student.
		file := filepath.Join(dir, fmt.Sprintf("file-%d.gguf", step))
		if err := a.Learner.SaveWeights(file); err != nil {
			t.Fatal(err)
		}
		b, err := Open(cfg, trainer.Need{Student: true, NSeq: 1, Weights: file})
		if err != nil {
			t.Fatal(err)
		}
		got, want := score(a.Student), score(b.Student)
		b.Close()
		worst := 0.0
		for i := range want {
			worst = max(worst, math.Abs(float64(got[i]-want[i])))
		}
		if worst > 1e-6 {
			t.Errorf("step %d: in-memory weights score %.3g away from the file's", step, worst)
		}
		if before != nil && math.Abs(float64(got[0]-before[0])) < 1e-6 {
			t.Errorf("step %d: the student did not change", step)
		}
		before = got
	}
}

// backend.kv_f16 runs with f16 KV caches: greedy rollouts (the same tokens)
// get log-probs close to the f32 ones' (the first step's reverse KL within 1 %).
func TestNativeKVF16(t *testing.T) {
	var kl [2]float64
	for i, set := range []string{"backend.kv_f16=false", "backend.kv_f16=true"} {
		cfg := nativeConfig(t, "steps=1", "eval.tasks=0", "sampling.temperature=0", set)
		if _, err := trainer.Run(cfg, trainer.RunOptions{Open: Open, Log: io.Discard}); err != nil {
			t.Fatal(err)
		}
		kl[i] = float64(readTrain(t, cfg.OutDir)[0].ReverseKL)
	}
	if math.Abs(kl[1]-kl[0]) > 0.01*math.Abs(kl[0]) {
		t.Errorf("reverse KL %v with f32 KV, %v with f16", kl[0], kl[1])
	}
}

// backend.share_base = auto shares an unquantized base always and a quantized
// one only where a second copy would not fit; yes and no say so outright.
func TestSharesBase(t *testing.T) {
	c := nativeConfig(t)
	q := filepath.Join(t.TempDir(), "q8_0.gguf")
	if err := Quantize(c.Student.Model, q, "q8_0", 1); err != nil {
		t.Fatal(err)
	}
	unquantized := c.SharesBase()
	c.Student.Model = q
	small := c.SharesBase()
	c.Rollout.TasksPerStep = 1 << 20 // KV caches of terabytes
	huge := c.SharesBase()
	c.Backend.ShareBase = "no"
	no := c.SharesBase()
	c.Rollout.TasksPerStep, c.Backend.ShareBase = 1, "yes"
	yes := c.SharesBase()
	if !unquantized || small || !huge || no || !yes {
		t.Errorf("shares: f32 %v, q8_0 that fits %v, q8_0 that does not %v, no %v, yes %v; want true false true false true", unquantized, small, huge, no, yes)
	}
	p, err := c.MemoryPlan()
	if err != nil || p.Items[2].Bytes != 0 {
		t.Errorf("shared plan: learner's base %v (%v)", p.Items[2], err)
	}
}

// The plan counts the F16 copies a quantized student's matrices are
// multiplied through (cgo/learn's rewrite_mul_mats), the largest at a time,
// 2 bytes a weight, over the same model in F16 (the tiny model: 128 wide,
// 384 FF, 512 tokens): an MLP matrix, or without recompute the output head.
func TestPlanCountsDenseCopies(t *testing.T) {
	dir := t.TempDir()
	o := tinymodel.DefaultOptions()
	o.F16 = true
	f16, q := filepath.Join(dir, "f16.gguf"), filepath.Join(dir, "q8_0.gguf")
	if err := tinymodel.Write(f16, o); err != nil {
		t.Fatal(err)
	}
	if err := Quantize(f16, q, "q8_0", 1); err != nil {
		t.Fatal(err)
	}
	c := nativeConfig(t)
	working := func(student string) int64 {
		c.Student.Model = student
		p, err := c.MemoryPlan()
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range p.Items {
			if it.Name == "training working set" {
				return it.Bytes
			}
		}
		t.Fatal("no training working set in the plan")
		return 0
	}
	if d, want := working(q)-working(f16), int64(128*384*2); d != want {
		t.Errorf("q8_0's working set exceeds f16's by %d bytes, want %d", d, want)
	}
	// Without recompute the f16 learner keeps a transposed copy of its
	// matrices (not the embedding: the output head is its own).
	g, err := gguf.Open(f16)
	if err != nil {
		t.Fatal(err)
	}
	var matrices int64
	for _, ti := range g.Tensors {
		if len(ti.Shape) == 2 && ti.Name != "token_embd.weight" {
			matrices += int64(ti.Size)
		}
	}
	c.Optim.Recompute = false
	if d, want := working(q)-working(f16), int64(512*128*2)-matrices; d != want {
		t.Errorf("without recompute q8_0's working set exceeds f16's by %d bytes, want %d", d, want)
	}
	c.Optim.Recompute, c.LoRA.FullWeights = true, true // trained matrices are F32 copies: no F16 ones
	if d := working(q) - working(f16); d != 0 {
		t.Errorf("full weights: q8_0's working set exceeds f16's by %d bytes, want 0", d)
	}
}
