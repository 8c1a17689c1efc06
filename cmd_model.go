package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/atod-dev/atod/tinymodel"
	"github.com/atod-dev/atod/tokenizer"
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
			&cli.StringFlag{Name: "preset", Usage: "a real architecture's shape: " + strings.Join(presetNames(), ", ") + " (flags given override it)"},
			&cli.IntFlag{Name: "head-size", Usage: "size of an attention head (default: embd/heads)"},
			&cli.Float64Flag{Name: "rope-base", Usage: "RoPE frequency base (default 10000)"},
			&cli.StringFlag{Name: "vocab-from", Usage: "take the tokenizer of this GGUF instead of training one"},
			&cli.StringFlag{Name: "llama3-vocab", Usage: "take Llama 3's tokenizer from DIR/encoder.json and DIR/vocab.bpe (with its 256 special tokens) instead of training one"},
		},
		Action: modelNew,
	}
	quantCmd := &cli.Command{
		Name:      "quantize",
		Usage:     "quantize a GGUF model with llama.cpp (q8_0, q4_0, q4_k_m, q5_k_m, q6_k), or widen one to f16 or bf16",
		ArgsUsage: "IN.gguf OUT.gguf TYPE",
		Flags:     []cli.Flag{&cli.IntFlag{Name: "threads", Usage: "CPU threads (0 = all)"}},
		Action:    modelQuantize,
	}
	commands = append(commands, &cli.Command{
		Name:        "model",
		Usage:       "make models",
		Subcommands: []*cli.Command{newCmd, quantCmd},
	})
}

func presetNames() []string {
	var out []string
	for n := range tinymodel.Presets {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func modelNew(c *cli.Context) error {
	args := c.Args().Slice()
	if len(args) == 0 {
		return fmt.Errorf("model new: missing OUT.gguf")
	}
	if len(args) > 1 {
		return fmt.Errorf("model new: unexpected arguments %q", args[1:])
	}
	o := tinymodel.DefaultOptions()
	if p := c.String("preset"); p != "" {
		var ok bool
		if o, ok = tinymodel.Presets[p]; !ok {
			return fmt.Errorf("model new: preset %q: want one of %s", p, strings.Join(presetNames(), ", "))
		}
		o.Seed = 1
	}
	for name, f := range map[string]*int{"layers": &o.Layers, "embd": &o.Embd, "heads": &o.Heads, "kv-heads": &o.KVHeads,
		"ff": &o.FF, "ctx": &o.Context, "vocab": &o.VocabSize, "head-size": &o.HeadSize} {
		if c.IsSet(name) || c.String("preset") == "" {
			*f = c.Int(name)
		}
	}
	if c.IsSet("arch") || c.String("preset") == "" {
		o.Arch = c.String("arch")
	}
	if c.IsSet("tied") {
		o.Tied = c.Bool("tied")
	}
	if c.IsSet("rope-base") {
		o.RopeBase = float32(c.Float64("rope-base"))
	}
	o.F16, o.Seed = c.Bool("f16"), c.Int64("seed")
	if p := c.String("corpus"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("model new: corpus: %w", err)
		}
		o.Corpus = string(b)
	}
	switch from, dir := c.String("vocab-from"), c.String("llama3-vocab"); {
	case from != "" && dir != "":
		return fmt.Errorf("model new: --vocab-from and --llama3-vocab exclude each other")
	case from != "":
		kvs, n, err := tinymodel.VocabFrom(from)
		if err != nil {
			return fmt.Errorf("model new: %w", err)
		}
		o.Vocab, o.VocabSize = kvs, n
	case dir != "":
		enc, err := os.ReadFile(filepath.Join(dir, "encoder.json"))
		if err != nil {
			return fmt.Errorf("model new: %w", err)
		}
		bpe, err := os.ReadFile(filepath.Join(dir, "vocab.bpe"))
		if err != nil {
			return fmt.Errorf("model new: %w", err)
		}
		if o.Vocab, err = tokenizer.Llama3Vocab(enc, bpe); err != nil {
			return fmt.Errorf("model new: llama3 vocabulary: %w", err)
		}
		o.VocabSize = 128256
	case c.String("preset") != "" && !c.IsSet("vocab"):
		return fmt.Errorf("model new: preset %s has a %d-token vocabulary, which the built-in corpus cannot train: "+
			"give --vocab-from MODEL.gguf or --llama3-vocab DIR for a real tokenizer, or --vocab N to train a smaller one", c.String("preset"), o.VocabSize)
	}
	out := args[0]
	if err := tinymodel.Write(out, o); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "wrote %s: %s, %d parameters\n", out, o.Arch, o.NParams())
	return nil
}

// modelQuantize is `atod model quantize`.
func modelQuantize(c *cli.Context) error {
	if c.NArg() != 3 {
		return fmt.Errorf("usage: atod model quantize IN.gguf OUT.gguf TYPE")
	}
	a := c.Args().Slice()
	if err := native.Quantize(a[0], a[1], a[2], c.Int("threads")); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "wrote %s (%s)\n", a[1], a[2])
	return nil
}
