// Command atod trains small language-model agents with ATOD: on-policy
// distillation from a teacher, annealed into GRPO, with turn-level reweighting.
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/atod-dev/atod/trainer"
)

// commands is filled by the cmd_*.go files of this package, one command each.
var commands []*cli.Command

// setList collects repeated --set key=value flags without splitting on commas
// (a TOML array value has them).
type setList []string

func (s *setList) Set(v string) error { *s = append(*s, v); return nil }
func (s *setList) String() string     { return strings.Join(*s, " ") }

// setFlag is the --set flag of every command that reads a run config.
func setFlag() cli.Flag {
	return &cli.GenericFlag{Name: "set", Usage: "override a config key, key=value with the value parsed as TOML (repeatable)", Value: &setList{}}
}

// methodFlag is --method NAME: the algorithm's preset (trainer.Methods), in place of the config's method key.
func methodFlag() cli.Flag {
	return &cli.StringFlag{Name: "method", Usage: "the algorithm's preset, replacing the config's method key: " + strings.Join(trainer.Methods, ", ")}
}

// sets returns the --set values given to c, and --method as method=NAME, which trainer.ResolveConfig
// applies under the config file's keys.
func sets(c *cli.Context) []string {
	s := append([]string(nil), *c.Generic("set").(*setList)...)
	if m := c.String("method"); m != "" {
		s = append(s, "method="+m)
	}
	return s
}

// optFlag is the --opt flag of the commands that build an env without a run config.
func optFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "opt", Usage: "env option key=value (repeatable), e.g. --opt max_steps=20; see atod env options NAME"}
}

// envOpts returns the --opt values given to c.
func envOpts(c *cli.Context) (map[string]any, error) {
	opts := map[string]any{}
	for _, kv := range c.StringSlice("opt") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("option %q is not key=value", kv)
		}
		opts[k] = v
	}
	return opts, nil
}

func main() {
	sort.Slice(commands, func(i, j int) bool { return commands[i].Name < commands[j].Name })
	if err := newApp(commands).Run(flagsFirst(commands, os.Args)); err != nil {
		fmt.Fprintln(os.Stderr, "atod:", err)
		os.Exit(1)
	}
}

func newApp(cmds []*cli.Command) *cli.App {
	return &cli.App{
		Name:     "atod",
		Usage:    "train a small model into a multi-turn agent (on-policy distillation annealed into GRPO)",
		Commands: cmds,
		// --set and --opt values are whole key=value pairs; a comma belongs to
		// the value (lora.targets=["q","v"], task_types=clean,heat).
		DisableSliceFlagSeparator: true,
	}
}

// flagsFirst moves the flags of the invoked (sub)command ahead of its positional
// arguments: urfave/cli v2 stops reading flags at the first argument, and
// `atod run config.toml --set k=v` must not silently drop the override.
func flagsFirst(cmds []*cli.Command, args []string) []string {
	out := []string{args[0]}
	rest := args[1:]
	var cmd *cli.Command
	for len(rest) > 0 {
		next := findCommand(cmds, rest[0])
		if next == nil {
			break
		}
		cmd, cmds = next, next.Subcommands
		out, rest = append(out, rest[0]), rest[1:]
	}
	if cmd == nil {
		return args
	}
	var flags, pos []string
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			pos = append(pos, rest[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !hasValue && takesValue(cmd, name) && i+1 < len(rest) {
			i++
			flags = append(flags, rest[i])
		}
	}
	if len(pos) > 0 && strings.HasPrefix(pos[0], "-") {
		flags = append(flags, "--")
	}
	return append(append(out, flags...), pos...)
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

func takesValue(cmd *cli.Command, name string) bool {
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				return !isBool
			}
		}
	}
	return false
}
