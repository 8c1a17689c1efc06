// Command atod trains small language-model agents with ATOD: on-policy
// distillation from a teacher, annealed into GRPO, with turn-level reweighting.
package main

import (
	"fmt"
	"os"
	"sort"

	"github.com/urfave/cli/v2"
)

// commands is filled by the cmd_*.go files of this package, one command each.
var commands []*cli.Command

func main() {
	sort.Slice(commands, func(i, j int) bool { return commands[i].Name < commands[j].Name })
	app := &cli.App{
		Name:     "atod",
		Usage:    "train a small model into a multi-turn agent (on-policy distillation annealed into GRPO)",
		Commands: commands,
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "atod:", err)
		os.Exit(1)
	}
}
