package native

import (
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/atod-dev/atod/trainer"
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
