package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/atod-dev/atod/trainer"
	"github.com/atod-dev/atod/trainer/native"
)

// setList collects repeated --set key=value flags without splitting on commas
// (a TOML array value has them).
type setList []string

func (s *setList) Set(v string) error { *s = append(*s, v); return nil }
func (s *setList) String() string     { return strings.Join(*s, " ") }

// methodFlag is --method NAME: the preset under the config's keys (trainer.Methods).
func methodFlag() cli.Flag {
	return &cli.StringFlag{Name: "method", Usage: "the algorithm's preset, replacing the config's method key: " + strings.Join(trainer.Methods, ", ")}
}

// methodSets is the --set list with --method as method=NAME, which
// trainer.ResolveConfig applies under the config file's keys.
func methodSets(c *cli.Context) []string {
	sets := *c.Generic("set").(*setList)
	if m := c.String("method"); m != "" {
		sets = append(sets, "method="+m)
	}
	return sets
}

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
			&cli.GenericFlag{Name: "set", Usage: "override a config key (repeatable)", Value: &setList{}},
			methodFlag(),
			&cli.StringFlag{Name: "resume", Usage: "continue the run in this directory from its last checkpoint"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print the memory plan and stop"},
		},
		Action: func(c *cli.Context) error {
			sets := methodSets(c)
			resume, args := c.String("resume"), c.Args().Slice()
			var path string
			switch {
			case len(args) == 1:
				path = args[0]
			case len(args) == 0 && resume != "":
				path = filepath.Join(resume, "config.toml")
			default:
				return errors.New("usage: atod run CONFIG [--set key=value]... [--resume RUN_DIR]")
			}
			if resume != "" {
				sets = append(sets, "out_dir="+resume)
			}
			cfg, err := trainer.LoadConfig(path, sets)
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
		},
	})
}
