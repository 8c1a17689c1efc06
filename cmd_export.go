package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/atod-dev/atod/gguf"
	"github.com/atod-dev/atod/trainer"
	"github.com/atod-dev/atod/trainer/rundir"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "export",
		Usage:     "export a run's adapter, or a merged GGUF with the adapter folded into the base weights",
		ArgsUsage: "RUN_DIR|ADAPTER.gguf --out FILE [--merge [--base MODEL.gguf]]",
		Description: "Without --merge the LoRA adapter (llama.cpp format, usable with llama-server --lora) is copied.\n" +
			"With --merge, W + (alpha/r)·B·A is written into an f32/f16 base; quantized bases are refused.\n" +
			"From a RUN_DIR the adapter is its latest checkpoint's and the base is student.model of its config.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Required: true, Usage: "output GGUF"},
			&cli.BoolFlag{Name: "merge", Usage: "fold the adapter into the base model"},
			&cli.StringFlag{Name: "base", Usage: "base model GGUF (default: the run's student.model)"},
		},
		Action: exportRun,
	})
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return rundir.WriteFileAtomic(dst, data)
}

// exportRun is `atod export`.
func exportRun(c *cli.Context) error {
	if c.NArg() != 1 {
		return errors.New("usage: atod export RUN_DIR|ADAPTER.gguf --out FILE [--merge [--base MODEL.gguf]]")
	}
	src, base := c.Args().First(), c.String("base")
	if st, err := os.Stat(src); err != nil {
		return err
	} else if st.IsDir() {
		adapter, model, err := trainer.RunAdapter(src)
		if err != nil {
			return err
		}
		src = adapter
		if base == "" {
			base = model
		}
	}
	out := c.String("out")
	if !c.Bool("merge") {
		if err := copyFile(src, out); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		fmt.Printf("adapter %s → %s\n", src, out)
		return nil
	}
	if base == "" {
		return errors.New("export --merge: --base MODEL.gguf is needed when exporting a bare adapter")
	}
	if err := gguf.MergeLoRA(base, src, out); err != nil {
		return err
	}
	fmt.Printf("merged %s + %s → %s\n", base, src, out)
	return nil
}
