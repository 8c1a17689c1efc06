package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/atod-dev/atod/envs"
	"github.com/urfave/cli/v2"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:  "env",
		Usage: "list, describe and play the environments",
		Subcommands: []*cli.Command{{
			Name:   "list",
			Usage:  "print the environments' names",
			Action: envList,
		}, {
			Name:      "options",
			Usage:     "print an environment's options (env.options in a run config, --opt here and in sft) with their defaults",
			ArgsUsage: "NAME",
			Action:    envOptions,
		}, {
			Name:      "play",
			Usage:     "play one task of an env: you type the actions, or the oracle plays (--oracle)",
			ArgsUsage: "NAME (" + strings.Join(envs.Names(), ", ") + ")",
			Flags: []cli.Flag{
				&cli.Int64Flag{Name: "seed", Value: 1, Usage: "task seed"},
				&cli.StringFlag{Name: "split", Value: "train", Usage: "task split"},
				&cli.BoolFlag{Name: "oracle", Usage: "let the oracle play and print the transcript"},
				optFlag(),
			},
			Action: envPlay,
		}},
	})
}

// envList is `atod env list`.
func envList(c *cli.Context) error {
	for _, name := range envs.Names() {
		fmt.Fprintln(c.App.Writer, name)
	}
	return nil
}

// envOptions is `atod env options NAME`: a table of name, default and meaning.
func envOptions(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("env options: want one env name (%s), got %d arguments", strings.Join(envs.Names(), ", "), c.NArg())
	}
	opts, err := envs.OptionsOf(c.Args().First())
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "option\tdefault\tmeaning")
	for _, o := range opts {
		def := "-"
		if o.Default != nil {
			def = fmt.Sprintf("%q", o.Default)
			if _, isString := o.Default.(string); !isString {
				def = fmt.Sprint(o.Default)
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", o.Name, def, o.Usage)
	}
	return w.Flush()
}

// envPlay is `atod env play NAME`.
func envPlay(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("env play: want one env name, got %d arguments", c.NArg())
	}
	opts, err := envOpts(c)
	if err != nil {
		return fmt.Errorf("env play: %w", err)
	}
	env, err := envs.New(c.Args().First(), opts)
	if err != nil {
		return err
	}
	return playEnv(env, c.String("split"), c.Int64("seed"), c.Bool("oracle"), os.Stdin, os.Stdout)
}

// playEnv plays one task, reading actions from in (or asking the oracle), and
// writes the transcript to out.
func playEnv(env envs.Env, split string, seed int64, oracle bool, in io.Reader, out io.Writer) error {
	tasks, err := env.Tasks(split, 1, seed)
	if err != nil {
		return err
	}
	task := tasks[0]
	ep, err := env.Open(task)
	if err != nil {
		return err
	}
	defer ep.Close()
	var or envs.Oracle
	if oracle {
		if or, err = env.Oracle(task); err != nil {
			return err
		}
	}
	obs, err := ep.Reset()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "task %s\n\n%s\n", task.ID, show(obs))
	lines := bufio.NewScanner(in)
	total := 0.0
	for step := 1; ; step++ {
		var action string
		if or != nil {
			reply, err := or.Next(obs)
			if err != nil {
				return err
			}
			a, ok := env.ParseAction(reply)
			if !ok {
				return fmt.Errorf("oracle reply %q does not parse", reply)
			}
			action = a
			fmt.Fprintf(out, "\n> %s\n", reply)
		} else {
			fmt.Fprint(out, "\n> ")
			if !lines.Scan() {
				fmt.Fprintln(out, "\n(input ended)")
				return lines.Err()
			}
			action = strings.TrimSpace(lines.Text())
			// Accept a bare action or a model-style reply with tags.
			if a, ok := env.ParseAction(action); ok {
				action = a
			}
		}
		res, err := ep.Step(action)
		if err != nil {
			return err
		}
		total += res.Reward
		fmt.Fprintln(out, show(res.Observation))
		if res.Info.Invalid {
			fmt.Fprintln(out, "(invalid action)")
		}
		if res.Done {
			fmt.Fprintf(out, "\ndone after %d steps: reward %.2f, won %v, score %.2f", step, total, res.Info.Won, res.Info.Score)
			if res.Info.Reason != "" {
				fmt.Fprintf(out, " (%s)", res.Info.Reason)
			}
			fmt.Fprintln(out)
			return nil
		}
		obs = res.Observation
	}
}

func show(o envs.Observation) string {
	if len(o.Admissible) == 0 {
		return o.Text
	}
	return o.Text + "\n[admissible: " + strings.Join(o.Admissible, ", ") + "]"
}
