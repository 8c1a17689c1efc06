package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/atod-dev/atod/tinymodel"
	"github.com/atod-dev/atod/trainer/native"
)

func init() {
	d := tinymodel.DefaultOptions()
	newCmd := &cli.Command{
		Name:      "new",
		Usage:     "write a small llama-family GGUF with random weights and a BPE tokenizer trained on a corpus",
		ArgsUsage: "OUT.gguf",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "layers", Value: d.Layers, Usage: "transformer blocks"},
			&cli.IntFlag{Name: "embd", Value: d.Embd, Usage: "embedding size"},
			&cli.IntFlag{Name: "heads", Value: d.Heads, Usage: "attention heads"},
			&cli.IntFlag{Name: "kv-heads", Value: d.KVHeads, Usage: "key/value heads (grouped-query attention)"},
			&cli.IntFlag{Name: "ff", Value: d.FF, Usage: "feed-forward size"},
			&cli.IntFlag{Name: "ctx", Value: d.Context, Usage: "training context length"},
			&cli.IntFlag{Name: "vocab", Value: d.VocabSize, Usage: "vocabulary size, incl. 256 byte tokens and 3 specials"},
			&cli.StringFlag{Name: "arch", Value: d.Arch, Usage: "llama, qwen2 or qwen3"},
			&cli.BoolFlag{Name: "f16", Usage: "store matrices as f16"},
			&cli.BoolFlag{Name: "tied", Usage: "tie the output projection to the token embedding"},
			&cli.Int64Flag{Name: "seed", Value: d.Seed, Usage: "random seed of the weights"},
			&cli.StringFlag{Name: "corpus", Usage: "tokenizer training text file (default: built-in corpus)"},
		},
		Action: modelNew,
	}
	quantCmd := &cli.Command{
		Name:      "quantize",
		Usage:     "quantize a GGUF model with llama.cpp (q8_0, q4_0, q4_k_m, q5_k_m, q6_k)",
		ArgsUsage: "IN.gguf OUT.gguf TYPE",
		Flags:     []cli.Flag{&cli.IntFlag{Name: "threads", Usage: "CPU threads (0 = all)"}},
		Action: func(c *cli.Context) error {
			if c.NArg() != 3 {
				return fmt.Errorf("usage: atod model quantize IN.gguf OUT.gguf TYPE")
			}
			a := c.Args().Slice()
			if err := native.Quantize(a[0], a[1], a[2], c.Int("threads")); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "wrote %s (%s)\n", a[1], a[2])
			return nil
		},
	}
	commands = append(commands, &cli.Command{
		Name:        "model",
		Usage:       "make models",
		Subcommands: []*cli.Command{newCmd, quantCmd},
	})
}

func modelNew(c *cli.Context) error {
	args := c.Args().Slice()
	if len(args) == 0 {
		return fmt.Errorf("model new: missing OUT.gguf")
	}
	if len(args) > 1 {
		return fmt.Errorf("model new: unexpected arguments %q", args[1:])
	}
	o := tinymodel.Options{
		Arch:   c.String("arch"),
		Layers: c.Int("layers"), Embd: c.Int("embd"), Heads: c.Int("heads"), KVHeads: c.Int("kv-heads"),
		FF: c.Int("ff"), Context: c.Int("ctx"), VocabSize: c.Int("vocab"),
		F16: c.Bool("f16"), Tied: c.Bool("tied"), Seed: c.Int64("seed"),
	}
	if p := c.String("corpus"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("model new: corpus: %w", err)
		}
		o.Corpus = string(b)
	}
	out := args[0]
	if err := tinymodel.Write(out, o); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "wrote %s: %s, %d parameters\n", out, o.Arch, o.NParams())
	return nil
}
