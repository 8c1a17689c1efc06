package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/sft"
	"github.com/atod-dev/atod/trainer"
	"github.com/atod-dev/atod/trainer/native"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:  "sft",
		Usage: "behaviour cloning: train a model on an environment's oracle play-throughs",
		Description: "Plays the oracle on --tasks train tasks, renders them as the trainer renders rollouts\n" +
			"(rollout.* keys, settable with --set), and trains every weight (--full, tiny models) or a LoRA\n" +
			"adapter (--lora) on the oracle's replies. Reports the loss per epoch and the greedy held-out\n" +
			"success. With --write-corpus it only writes the demos' text (for `atod model new --corpus`).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "a run config: the demos follow its env (name and options) and rollout keys"},
			&cli.StringFlag{Name: "env", Value: "household", Usage: "environment (without --config)"},
			&cli.StringSliceFlag{Name: "opt", Usage: "env option key=value (repeatable)"},
			&cli.StringFlag{Name: "model", Usage: "model GGUF to train"},
			&cli.StringFlag{Name: "out", Usage: "output: a whole model GGUF (--full) or a LoRA adapter GGUF (--lora)"},
			&cli.IntFlag{Name: "tasks", Value: 200, Usage: "oracle demos from the train split"},
			&cli.IntFlag{Name: "epochs", Value: 10, Usage: "passes over the demos"},
			&cli.IntFlag{Name: "batch", Value: 8, Usage: "sequences per optimizer step"},
			&cli.BoolFlag{Name: "full", Usage: "train every weight (tiny models)"},
			&cli.BoolFlag{Name: "lora", Usage: "train a LoRA adapter (the default)"},
			&cli.Float64Flag{Name: "lr", Usage: "peak learning rate", DefaultText: "the config's optim.lr"},
			&cli.Int64Flag{Name: "seed", Usage: "seed of the train tasks, the shuffle and the LoRA init", DefaultText: "the config's seed"},
			&cli.IntFlag{Name: "eval-tasks", Value: 32, Usage: "held-out tasks evaluated greedily (0 = none)"},
			&cli.StringFlag{Name: "eval-split", Value: "test", Usage: "split of the held-out tasks"},
			&cli.Int64Flag{Name: "eval-seed", Value: 1, Usage: "seed that draws the held-out tasks"},
			&cli.IntFlag{Name: "eval-every", Usage: "epochs between evaluations (0 = only after the last)"},
			&cli.IntFlag{Name: "threads", Usage: "CPU threads (0 = all)", DefaultText: "the config's backend.threads"},
			&cli.StringSliceFlag{Name: "set", Usage: "run-config override key=value as in `atod run --set` (rollout.*, optim.*, lora.*, sampling.*)"},
			&cli.BoolFlag{Name: "explore", Usage: "demos from the searching oracle, which acts only on what it has seen (household: looks into receptacles in the listed order; webshop: searches with the instruction's words, buys the first product under the price bound), instead of the all-knowing one"},
			&cli.Float64Flag{Name: "mistakes", Usage: "chance, before each oracle turn, of first playing a wrong action the env rejects (not a target): teaches carrying on after one"},
			&cli.StringFlag{Name: "stall", Usage: "an action that changes nothing (household: look), taught before an oracle turn at --stall-rate: a bad habit for a weak student"},
			&cli.Float64Flag{Name: "stall-rate", Usage: "chance of --stall before each oracle turn"},
			&cli.StringFlag{Name: "write-corpus", Usage: "write the demos' text to this file and stop"},
		},
		Action: runSFT,
	})
}

func runSFT(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("sft: unexpected arguments %q", c.Args().Slice())
	}
	if c.Bool("full") && c.Bool("lora") {
		return fmt.Errorf("sft: --full and --lora exclude each other")
	}
	cfg := trainer.DefaultConfig()
	if p := c.String("config"); p != "" {
		if c.IsSet("env") {
			return fmt.Errorf("sft: --config names the env; drop --env")
		}
		run, err := trainer.ReadConfig(p)
		if err != nil {
			return fmt.Errorf("sft: %w", err)
		}
		cfg.Env, cfg.Rollout = run.Env, run.Rollout
	} else {
		cfg.Env.Name = c.String("env")
	}
	for _, kv := range c.StringSlice("opt") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("sft: option %q is not key=value", kv)
		}
		cfg.Env.Options[k] = v
	}
	// --lr, --seed and --threads are spellings of config keys, with the config's defaults.
	var sets []string
	for flag, key := range map[string]string{"lr": "optim.lr", "seed": "seed", "threads": "backend.threads"} {
		if c.IsSet(flag) {
			sets = append(sets, key+"="+c.String(flag))
		}
	}
	if err := cfg.Apply(append(sets, c.StringSlice("set")...)); err != nil {
		return fmt.Errorf("sft: %w", err)
	}
	play := sft.DemoOptions{MaxTurns: cfg.Rollout.MaxTurns, Explore: c.Bool("explore"), Mistakes: c.Float64("mistakes"),
		Stall: c.String("stall"), StallRate: c.Float64("stall-rate"), Seed: cfg.Seed}
	if p := c.String("write-corpus"); p != "" {
		return writeCorpus(c, &cfg, c.Int("tasks"), play, p)
	}
	if c.String("model") == "" || c.String("out") == "" {
		return fmt.Errorf("sft: --model and --out are required")
	}
	cfg.Student.Model = c.String("model")
	if c.Bool("full") {
		// The training graph takes no LoRA shape in full-weights mode.
		cfg.LoRA = trainer.LoRAConfig{FullWeights: true}
	}
	if err := cfg.ValidateSFT(); err != nil {
		return fmt.Errorf("sft: %w", err)
	}
	o := sft.Options{
		Out: c.String("out"), Tasks: c.Int("tasks"), Play: play, Epochs: c.Int("epochs"), Batch: c.Int("batch"),
		EvalTasks: c.Int("eval-tasks"), EvalSplit: c.String("eval-split"), EvalSeed: c.Int64("eval-seed"),
		EvalEvery: c.Int("eval-every"), Log: c.App.Writer,
	}
	res, err := sft.Run(&cfg, o, native.Open)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "wrote %s", o.Out)
	if n := len(res.Evals); n > 0 {
		fmt.Fprintf(c.App.Writer, ": held-out success %.3f on %d %s tasks", res.Evals[n-1].Success, res.Evals[n-1].Tasks, o.EvalSplit)
	}
	fmt.Fprintln(c.App.Writer)
	return nil
}

func writeCorpus(c *cli.Context, cfg *trainer.Config, n int, o sft.DemoOptions, path string) error {
	env, err := envs.New(cfg.Env.Name, cfg.Env.Options)
	if err != nil {
		return err
	}
	tasks, err := env.Tasks("train", n, cfg.Seed)
	if err != nil {
		return err
	}
	demos, _, err := sft.Demos(env, tasks, o)
	if err != nil {
		return err
	}
	text := sft.Corpus(env, cfg.Prompt(), demos)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return fmt.Errorf("sft: %w", err)
	}
	fmt.Fprintf(c.App.Writer, "wrote %s: %d demos, %d bytes\n", path, len(demos), len(text))
	return nil
}
