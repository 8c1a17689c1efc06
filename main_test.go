package main

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/atod-dev/atod/gguf"
)

func TestFlagsFirst(t *testing.T) {
	cmds := []*cli.Command{{
		Name: "model",
		Subcommands: []*cli.Command{{
			Name: "new",
			Flags: []cli.Flag{
				&cli.IntFlag{Name: "layers"},
				&cli.BoolFlag{Name: "f16"},
				&cli.StringSliceFlag{Name: "set"},
			},
		}},
	}}
	cases := []struct{ in, want []string }{
		{[]string{"atod", "model", "new", "out.gguf", "--layers", "4", "--f16", "--set=a=1"},
			[]string{"atod", "model", "new", "--layers", "4", "--f16", "--set=a=1", "out.gguf"}},
		{[]string{"atod", "model", "new", "--f16", "out.gguf"},
			[]string{"atod", "model", "new", "--f16", "out.gguf"}},
		{[]string{"atod", "model", "new", "--layers", "2", "--", "-odd-name.gguf"},
			[]string{"atod", "model", "new", "--layers", "2", "--", "-odd-name.gguf"}},
		{[]string{"atod", "help"}, []string{"atod", "help"}},
	}
	for _, c := range cases {
		if got := flagsFirst(cmds, c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("flagsFirst(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSetValueKeepsCommas(t *testing.T) {
	var got []string
	cmds := []*cli.Command{{
		Name:   "run",
		Flags:  []cli.Flag{setFlag()},
		Action: func(c *cli.Context) error { got = sets(c); return nil },
	}}
	args := []string{"atod", "run", "--set", `lora.targets=["q","v"]`, "--set", "env.options.task_types=clean,heat"}
	if err := newApp(cmds).Run(args); err != nil {
		t.Fatal(err)
	}
	want := []string{`lora.targets=["q","v"]`, "env.options.task_types=clean,heat"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("--set values %q, want %q", got, want)
	}
}

func TestModelNewFlagsAfterPath(t *testing.T) {
	out := t.TempDir() + "/m.gguf"
	app := &cli.App{Name: "atod", Commands: commands}
	args := flagsFirst(commands, []string{"atod", "model", "new", out, "--layers", "1", "--embd", "32", "--heads", "2", "--kv-heads", "1", "--ff", "64", "--vocab", "300"})
	if err := app.Run(args); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Get("llama.block_count"); fmt.Sprint(v) != "1" {
		t.Errorf("block_count = %v, want the --layers 1 given after the path", v)
	}
}
