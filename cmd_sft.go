package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/sft"
	"github.com/atod-dev/atod/trainer"
	"github.com/atod-dev/atod/trainer/native"
)

func init() { commands = append(commands, sftCommand(native.Open)) }

// sftCommand is `atod sft`, loading its models with open.
func sftCommand(open trainer.Opener) *cli.Command {
	return &cli.Command{
		Name:      "sft",
		Usage:     "behaviour cloning: train a model on an environment's oracle play-throughs",
		ArgsUsage: "[CONFIG] --model IN --out OUT [--set key=value]...",
		Description: "Plays the oracle on --tasks train tasks, renders them as the trainer renders rollouts\n" +
			"(rollout.* keys), and trains every weight (--full, tiny models) or a LoRA adapter (--lora) on the\n" +
			"oracle's replies. Reports the loss per epoch and the greedy held-out success. CONFIG is a run config\n" +
			"(docs/config.md): its env, rollout, sampling, lora, optim and backend keys apply; without it the\n" +
			"defaults do, with --env and --opt. With --write-corpus it only writes the demos' text (for `atod model new --corpus`).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "env", Value: "household", Usage: "environment (without CONFIG)"},
			optFlag(),
			&cli.StringFlag{Name: "model", Usage: "model GGUF to train", DefaultText: "the config's student.model"},
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
			setFlag(),
			&cli.BoolFlag{Name: "explore", Usage: "demos from the searching oracle, which acts only on what it has seen (household: looks into receptacles in the listed order; webshop: searches with the instruction's words, buys the first product under the price bound), instead of the all-knowing one"},
			&cli.Float64Flag{Name: "mistakes", Usage: "chance, before each oracle turn, of first playing a wrong action the env rejects (not a target): teaches carrying on after one"},
			&cli.StringSliceFlag{Name: "stall", Usage: "a detour that changes nothing, its actions in order, one a flag (household: look; webshop: click[description], click[< prev]), taught before an oracle turn at --stall-rate: a bad habit for a weak student"},
			&cli.Float64Flag{Name: "stall-rate", Usage: "chance of --stall before each oracle turn"},
			&cli.StringFlag{Name: "write-corpus", Usage: "write the demos' text to this file and stop"},
		},
		Action: func(c *cli.Context) error { return runSFT(c, open) },
	}
}

// runSFT is `atod sft`.
func runSFT(c *cli.Context, open trainer.Opener) error {
	if c.NArg() > 1 {
		return fmt.Errorf("sft: unexpected arguments %q", c.Args().Slice()[1:])
	}
	if c.Bool("full") && c.Bool("lora") {
		return fmt.Errorf("sft: --full and --lora exclude each other")
	}
	// --lr, --seed and --threads are spellings of config keys, with the config's defaults.
	var overrides []string
	for flag, key := range map[string]string{"lr": "optim.lr", "seed": "seed", "threads": "backend.threads"} {
		if c.IsSet(flag) {
			overrides = append(overrides, key+"="+c.String(flag))
		}
	}
	overrides = append(overrides, sets(c)...)
	cfg, err := sftConfig(c.Args().First(), c.IsSet("env"), overrides)
	if err != nil {
		return fmt.Errorf("sft: %w", err)
	}
	if c.Args().First() == "" {
		cfg.Env.Name = c.String("env")
	}
	if c.IsSet("model") { // relative to the working directory, not to CONFIG
		cfg.Student.Model = c.String("model")
	}
	opts, err := envOpts(c)
	if err != nil {
		return fmt.Errorf("sft: %w", err)
	}
	for k, v := range opts {
		cfg.Env.Options[k] = v
	}
	play := sft.DemoOptions{MaxTurns: cfg.Rollout.MaxTurns, Explore: c.Bool("explore"), Mistakes: c.Float64("mistakes"),
		Stall: c.StringSlice("stall"), StallRate: c.Float64("stall-rate"), Seed: cfg.Seed}
	if p := c.String("write-corpus"); p != "" {
		return writeCorpus(c, &cfg, c.Int("tasks"), play, p)
	}
	if cfg.Student.Model == "" || c.String("out") == "" {
		return fmt.Errorf("sft: --model (or the config's student.model) and --out are required")
	}
	if c.Bool("full") {
		// The training graph takes no LoRA shape in full-weights mode.
		cfg.LoRA = model.LoRA{FullWeights: true}
	}
	if err := cfg.ValidateSFT(); err != nil {
		return fmt.Errorf("sft: %w", err)
	}
	o := sft.Options{
		Out: c.String("out"), Tasks: c.Int("tasks"), Play: play, Epochs: c.Int("epochs"), Batch: c.Int("batch"),
		EvalTasks: c.Int("eval-tasks"), EvalSplit: c.String("eval-split"), EvalSeed: c.Int64("eval-seed"),
		EvalEvery: c.Int("eval-every"), Log: c.App.Writer,
	}
	res, err := sft.Run(&cfg, o, open)
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

// sftConfig is the run config at path (every key, model paths relative to it)
// with overrides applied, or the defaults with them where path is empty.
func sftConfig(path string, envFlag bool, overrides []string) (trainer.Config, error) {
	if path == "" {
		cfg := trainer.DefaultConfig()
		return cfg, cfg.Apply(overrides)
	}
	if envFlag {
		return trainer.Config{}, fmt.Errorf("%s names the env; drop --env", path)
	}
	return trainer.ResolveConfig(path, overrides)
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
