package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/atod-dev/atod/trainer"
	"github.com/atod-dev/atod/trainer/compare"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "compare",
		Usage:     "the comparison tables and success plots of scripts/compare.sh's runs",
		ArgsUsage: "RUN_DIR... [--out DIR]",
		Description: "Each RUN_DIR is ENV/VARIANT-sSEED (scripts/compare.sh's layout); others are skipped. Writes DIR/results.md\n" +
			"(per evaluation temperature, held-out success per method, final and best over the run, with bootstrap intervals\n" +
			"and paired differences; a diagnosis: the RL phase's group statistics, T-DUR's weight by turn, success by task type)\n" +
			"and DIR/ENV-success.svg, e.g. atod compare runs/compare/*/*/ --out runs/compare.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Value: ".", Usage: "directory for results.md and the plots"},
		},
		Action: compareRuns,
	})
}

// compareRuns is `atod compare`.
func compareRuns(c *cli.Context) error {
	if c.NArg() == 0 {
		return errors.New("usage: atod compare RUN_DIR... [--out DIR]")
	}
	if err := compare.Write(c.String("out"), c.Args().Slice(), trainer.RunEvalSeed); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	fmt.Fprintf(c.App.Writer, "wrote %s/results.md\n", c.String("out"))
	return nil
}
