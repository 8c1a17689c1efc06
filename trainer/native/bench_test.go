package native

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/atod-dev/atod/model"

	"github.com/atod-dev/atod/trainer"
	"github.com/atod-dev/atod/trainer/scoring"
)

// TestBenchStepShares reports which phase of a step dominates on a tiny model:
// rollout (sampling), teacher scoring, or the train step.
func TestBenchStepShares(t *testing.T) {
	if os.Getenv("ATOD_BENCH") != "1" {
		t.Skip("ATOD_BENCH=1 runs benchmarks")
	}
	cfg := nativeConfig(t, "steps=3", "eval.tasks=0", "rollout.tasks_per_step=2", "rollout.group_size=4",
		"rollout.max_turns=4", "sampling.max_tokens=24", "optim.micro_tokens=4096")
	if _, err := trainer.Run(cfg, trainer.RunOptions{Open: Open, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	var roll, score, train, sync float64
	var toks, seqToks int
	for _, m := range readTrain(t, cfg.OutDir)[1:] { // step 1 warms caches up
		roll, score, train, sync = roll+m.RolloutS, score+m.ScoreS, train+m.TrainS, sync+m.SyncS
		toks += m.Tokens
		seqToks += m.SeqTokens
	}
	total := roll + score + train + sync
	fmt.Printf("bench: step_rollout_share = %.3f\n", roll/total)
	fmt.Printf("bench: step_score_share = %.3f\n", score/total)
	fmt.Printf("bench: step_train_share = %.3f\n", train/total)
	fmt.Printf("bench: step_sync_share = %.3f\n", sync/total)
	fmt.Printf("bench: step_seconds = %.2f s\n", total/2)
	fmt.Printf("bench: rollout_tokens_per_s = %.1f tok/s\n", float64(toks)/roll)
	if roll < train || roll < score {
		fmt.Printf("bench: note: rollout is not the largest share: every train sequence is the whole transcript "+
			"(system prompt and observations: %.1f sequence tokens per action token here) and the train step runs forward "+
			"and backward over all of it, while sampling decodes the prompt once (forward only) plus the action tokens\n",
			float64(seqToks)/float64(toks))
	}
}

// TestBenchRealStep is one household step (8 episodes × 6 turns) with the
// real-shape models scripts/bench-real.sh builds (ATOD_BENCH_STUDENT,
// ATOD_BENCH_TEACHER), then llama.cpp's prefill of as many tokens in as many
// sequences on the student: per-phase seconds, peak RSS against the memory
// plan, and training ÷ prefill, measured side by side in one process.
func TestBenchRealStep(t *testing.T) {
	student, teacher := os.Getenv("ATOD_BENCH_STUDENT"), os.Getenv("ATOD_BENCH_TEACHER")
	if student == "" || teacher == "" {
		t.Skip("run by scripts/bench-real.sh")
	}
	name := os.Getenv("ATOD_BENCH_NAME")
	cfg := trainer.DefaultConfig()
	cfg.Student.Model, cfg.Teacher.Model = student, teacher
	cfg.OutDir, cfg.Steps = filepath.Join(t.TempDir(), "run"), 1
	cfg.Rollout.TasksPerStep, cfg.Rollout.GroupSize, cfg.Rollout.MaxTurns = 2, 4, 6
	cfg.Sampling.MaxTokens = 32
	// Sized to the workload, as on a small machine (README): 6-turn household
	// transcripts are 700–850 tokens, and the plan bounds sequences of a whole context.
	cfg.Rollout.Context = 1024
	cfg.Eval.Tasks = 0
	cfg.Backend.Threads = 2
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	plan, err := cfg.MemoryPlan()
	if err != nil {
		t.Fatal(err)
	}
	plan.Write(os.Stderr)
	if _, err := trainer.Run(&cfg, trainer.RunOptions{Open: Open, Log: os.Stderr}); err != nil {
		t.Fatal(err)
	}
	ms := readTrain(t, cfg.OutDir)
	m := ms[0]
	peak := m.PeakRSSMB
	fmt.Printf("bench: real_%s_rollout_s = %.1f s\n", name, m.RolloutS)
	fmt.Printf("bench: real_%s_score_s = %.1f s\n", name, m.ScoreS)
	fmt.Printf("bench: real_%s_train_s = %.1f s\n", name, m.TrainS)
	fmt.Printf("bench: real_%s_sync_s = %.2f s\n", name, m.SyncS)
	fmt.Printf("bench: real_%s_seq_tokens = %d tokens\n", name, m.SeqTokens)
	fmt.Printf("bench: real_%s_action_tokens = %d tokens\n", name, m.Tokens)
	fmt.Printf("bench: real_%s_peak_rss_mb = %.0f MB\n", name, peak)
	fmt.Printf("bench: real_%s_plan_mb = %.0f MB\n", name, float64(plan.Total)/(1<<20))
	fmt.Printf("bench: real_%s_plan_vs_peak = %.2f x\n", name, float64(plan.Total)/(1<<20)/peak)

	// llama.cpp's prefill of as many tokens, in sequences as long, on the student.
	n := cfg.Rollout.TasksPerStep * cfg.Rollout.GroupSize
	each := m.SeqTokens / n
	models, err := Open(&cfg, trainer.Need{Student: true, NSeq: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer models.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	for range n {
		toks := make([]int32, each)
		for i := range toks {
			toks[i] = int32(rng.IntN(models.Student.VocabSize() - 256))
		}
		models.Student.ClearAll()
		if _, err := models.Student.Score([]model.ScoreRequest{{Tokens: toks, From: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	prefill := time.Since(start).Seconds()
	fmt.Printf("bench: real_%s_prefill_s = %.1f s\n", name, prefill)
	fmt.Printf("bench: real_%s_train_vs_prefill = %.2f x\n", name, m.TrainS/prefill)
	if os.Getenv("ATOD_BENCH_SCORE_MASK") == "1" {
		benchScoreMask(t, &cfg, each)
	}
}

// benchScoreMask times the teacher scoring two sequences of n random tokens
// at every position and, side by side, at every fourth (ScoreRequest.Mask, as
// teacher scoring asks for the action tokens only; bench-real's share is a
// quarter).
func benchScoreMask(t *testing.T, cfg *trainer.Config, n int) {
	models, err := Open(cfg, trainer.Need{Teacher: true, NSeq: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer models.Close()
	rng := rand.New(rand.NewPCG(5, 5))
	reqs := make([]model.ScoreRequest, 2)
	for i := range reqs {
		toks := make([]int32, n)
		for j := range toks {
			toks[j] = int32(rng.IntN(models.Teacher.VocabSize() - 256))
		}
		reqs[i] = model.ScoreRequest{Seq: i, Tokens: toks, From: 1}
	}
	masked := make([]model.ScoreRequest, len(reqs))
	for i, r := range reqs {
		r.Mask = make([]bool, n)
		for j := 3; j < n; j += 4 {
			r.Mask[j] = true
		}
		masked[i] = r
	}
	secs := func(rs []model.ScoreRequest) float64 {
		models.Teacher.ClearAll()
		t0 := time.Now()
		if _, err := models.Teacher.Score(rs); err != nil {
			t.Fatal(err)
		}
		return time.Since(t0).Seconds()
	}
	secs(masked) // warm-up
	full, part := secs(reqs), secs(masked)
	fmt.Printf("bench: real_teacher_score_all_positions_s = %.1f s\n", full)
	fmt.Printf("bench: real_teacher_score_quarter_masked_s = %.1f s\n", part)
	fmt.Printf("bench: real_teacher_score_masked_vs_all = %.2f x\n", part/full)
}

// TestBenchRemoteScore is scoring through atod serve over loopback ÷ scoring in
// process: the same teacher, the same 16 transcripts of ~400 tokens, each path
// timed over three rounds after a warm-up, in one process.
func TestBenchRemoteScore(t *testing.T) {
	if os.Getenv("ATOD_BENCH") != "1" {
		t.Skip("ATOD_BENCH=1 runs benchmarks")
	}
	_, teacher, _ := tinyModels(t)
	lm, err := OpenScorer(teacher, trainer.BackendConfig{Device: "auto", GPULayers: -1}, 16, 1024)
	if err != nil {
		t.Fatal(err)
	}
	defer lm.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	reqs := make([]model.ScoreRequest, 16)
	for i := range reqs {
		toks := make([]int32, 400)
		for j := range toks {
			toks[j] = int32(rng.IntN(lm.VocabSize()))
		}
		reqs[i] = model.ScoreRequest{Seq: i, Tokens: toks, From: 1}
	}
	c, err := scoring.Dial(scoring.Config{URL: scoreServer(t, lm), API: scoring.Atod, Timeout: time.Minute, Parallel: 16, NSeq: 16, NCtx: 1024})
	if err != nil {
		t.Fatal(err)
	}
	timed := func(score func([]model.ScoreRequest) ([]model.ScoreResult, error)) float64 {
		if _, err := score(reqs); err != nil { // warm-up
			t.Fatal(err)
		}
		start := time.Now()
		for range 3 {
			lm.ClearAll()
			if _, err := score(reqs); err != nil {
				t.Fatal(err)
			}
		}
		return time.Since(start).Seconds()
	}
	local := timed(lm.Score)
	remote := timed(c.Score)
	fmt.Printf("bench: remote_score_local_s = %.3f s\n", local/3)
	fmt.Printf("bench: remote_score_remote_s = %.3f s\n", remote/3)
	fmt.Printf("bench: remote_score_vs_local = %.2f x\n", local/remote)
}
