package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/trainer"
	"github.com/atod-dev/atod/trainer/native"
	"github.com/atod-dev/atod/trainer/rollout"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "eval",
		Usage:     "play held-out tasks with the student (optionally with an adapter) or the teacher",
		ArgsUsage: "CONFIG [--model student|teacher] [--adapter FILE] [--split S] [--tasks N] [--temperature T] [--set key=value]...",
		Description: "The env, prompt format, sampling and backend come from CONFIG; the result is printed as one JSON line.\n" +
			"--adapter takes a LoRA GGUF, e.g. RUN_DIR/ckpt/step-N/adapter.gguf.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Value: "student", Usage: "student or teacher"},
			&cli.StringFlag{Name: "adapter", Usage: "LoRA adapter GGUF for the student"},
			&cli.StringFlag{Name: "split", Usage: "task split (default: eval.split)"},
			&cli.IntFlag{Name: "tasks", Usage: "number of tasks (default: eval.tasks)"},
			&cli.Float64Flag{Name: "temperature", Value: -1, Usage: "sampling temperature (default: eval.temperature)"},
			&cli.StringFlag{Name: "transcripts", Usage: "write every episode (observations, replies) to this JSONL file"},
			setFlag(),
			methodFlag(),
		},
		Action: runEval,
	})
}

// runEval is `atod eval`.
func runEval(c *cli.Context) error {
	overrides := sets(c)
	model, adapter, args := c.String("model"), c.String("adapter"), c.Args().Slice()
	if len(args) != 1 {
		return errors.New("usage: atod eval CONFIG [flags]")
	}
	if c.String("split") != "" {
		overrides = append(overrides, "eval.split="+c.String("split"))
	}
	if c.IsSet("tasks") {
		overrides = append(overrides, fmt.Sprintf("eval.tasks=%d", c.Int("tasks")))
	}
	if t := c.Float64("temperature"); t >= 0 {
		overrides = append(overrides, fmt.Sprintf("eval.temperature=%g", t))
	}
	cfg, err := trainer.ResolveConfig(args[0], overrides)
	if err != nil {
		return err
	}
	if model != "student" && model != "teacher" {
		return fmt.Errorf("--model %q: want student or teacher", model)
	}
	if model == "teacher" && adapter != "" {
		return errors.New("--adapter applies to the student only")
	}
	// Only the played model is opened, so only its file need exist.
	if err := cfg.ValidateEval(model); err != nil {
		return fmt.Errorf("config %s: %w", args[0], err)
	}
	env, err := envs.New(cfg.Env.Name, cfg.Env.Options)
	if err != nil {
		return err
	}
	ev, err := cfg.Evaluator(env, cfg.Eval.Split, cfg.Eval.Tasks, cfg.EvalSeed(), cfg.Eval.Temperature)
	if err != nil {
		return err
	}
	nseq := min(len(ev.Tasks), 64)
	need := trainer.Need{Student: true, NSeq: nseq, Weights: adapter}
	if model == "teacher" {
		need = trainer.Need{Teacher: true, NSeq: nseq}
	}
	ms, err := native.Open(&cfg, need)
	if err != nil {
		return err
	}
	defer ms.Close()
	lm := ms.Student
	if model == "teacher" {
		lm = ms.Teacher
	}
	r, err := ev.Play(lm)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(map[string]any{"model": model, "adapter": adapter, "env": cfg.Env.Name, "split": cfg.Eval.Split,
		"temperature": cfg.Eval.Temperature, "tasks": r.Tasks, "success": r.Success, "mean_return": r.MeanReturn, "episode_len": r.EpisodeLen,
		"invalid_rate": r.InvalidRate, "seconds": r.Seconds})
	fmt.Println(string(b))
	if p := c.String("transcripts"); p != "" {
		return writeTranscripts(p, r.Episodes)
	}
	return nil
}

func writeTranscripts(path string, eps []rollout.EvalEpisode) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, e := range eps {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("transcripts: %w", err)
	}
	return nil
}
