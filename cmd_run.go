package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/atod-dev/atod/trainer"
	"github.com/atod-dev/atod/trainer/native"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "run",
		Usage:     "train a student with ATOD (OPD annealed into GRPO, T-DUR); writes a run directory",
		ArgsUsage: "CONFIG [--method NAME] [--set key=value]... [--resume RUN_DIR]",
		Description: "CONFIG is a TOML file (keys: docs/config.md). --set overrides any dotted key, the value parsed as TOML\n" +
			"(else taken as a string), e.g. --set schedule.shape=linear --set rollout.group_size=8.\n" +
			"--method NAME picks the algorithm's preset (atod, opd, grpo, atod-no-tdur, atod-no-anneal, atod-convex)\n" +
			"in place of the config's method key; the config's own keys and --set still override it.\n" +
			"--resume RUN_DIR continues a run from its last checkpoint (CONFIG defaults to RUN_DIR/config.toml).",
		Flags: []cli.Flag{
			setFlag(),
			methodFlag(),
			&cli.StringFlag{Name: "resume", Usage: "continue the run in this directory from its last checkpoint"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print the memory plan and stop"},
		},
		Action: runTraining,
	})
}

// runTraining is `atod run`.
func runTraining(c *cli.Context) error {
	overrides := sets(c)
	resume, args := c.String("resume"), c.Args().Slice()
	var path string
	switch {
	case len(args) == 1:
		path = args[0]
	case len(args) == 0 && resume != "":
		path = filepath.Join(resume, "config.toml")
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("--resume %s: no run to resume there (it has no config.toml)", resume)
		}
	default:
		return errors.New("usage: atod run CONFIG [--set key=value]... [--resume RUN_DIR]")
	}
	if resume != "" {
		overrides = append(overrides, "out_dir="+resume)
	}
	cfg, err := trainer.LoadConfig(path, overrides)
	if err != nil {
		return err
	}
	plan, err := cfg.MemoryPlan()
	if err != nil {
		return err
	}
	plan.Write(os.Stdout)
	if c.Bool("dry-run") {
		return nil
	}
	if cfg.Backend.MemoryCheck {
		if err := plan.Fits(); err != nil {
			return fmt.Errorf("%w (backend.memory_check = false runs it anyway)", err)
		}
	}
	stop, release := trainer.StopOnSignal(os.Stderr)
	defer release()
	sum, err := trainer.Run(cfg, trainer.RunOptions{Open: native.Open, Resume: resume != "", Log: os.Stdout, Stop: stop})
	if errors.Is(err, trainer.ErrInterrupted) {
		return cli.Exit(fmt.Sprintf("atod: interrupted after step %d, which is checkpointed; continue with: atod run --resume %s", sum.Steps, sum.RunDir), 130)
	}
	if err != nil {
		return err
	}
	fmt.Printf("run %s: %d steps; report: %s\n", sum.RunDir, sum.Steps, sum.Report)
	return nil
}
