// Package tinymodel writes small llama-family GGUF models with random weights
// and a byte-level BPE tokenizer trained on a corpus, for tests and
// benchmarks of the native layer and the trainer.
package tinymodel

import (
	"fmt"
	"strings"

	"github.com/atod-dev/atod/gguf"
	"github.com/atod-dev/atod/tokenizer"
)

// Options describes a model. Embd must divide evenly into Heads heads of even
// size (RoPE rotates pairs), and Heads into KVHeads groups.
type Options struct {
	Arch                                      string // "llama" (default), "qwen2" (adds attn_{q,k,v}.bias), "qwen3" (adds attn_{q,k}_norm)
	Layers, Embd, Heads, KVHeads, FF, Context int
	VocabSize                                 int  // target vocabulary incl. 256 byte tokens and specials
	F16                                       bool // f16 matrices (norms stay f32)
	Tied                                      bool // no output.weight: tied to token_embd
	Seed                                      int64
	Corpus                                    string  // tokenizer training text; "" = built-in corpus
	HeadSize                                  int     // per attention head; 0 = Embd/Heads (qwen3 has its own)
	RopeBase                                  float32 // 0 = 10000
	// Vocab, when set, is a real tokenizer's tokenizer.* keys, written instead
	// of training one; VocabSize must be its token count.
	Vocab []gguf.KV
}

// Presets are real architectures' shapes (layers, width, heads, KV heads,
// feed-forward size, vocabulary, tied output, RoPE base), for random-weight
// models that load, run and train as the real ones do. Llama 3's RoPE
// frequency scaling and the models' exact norm epsilons are not copied.
var Presets = map[string]Options{
	"qwen2.5-0.5b": {Arch: "qwen2", Layers: 24, Embd: 896, Heads: 14, KVHeads: 2, FF: 4864, VocabSize: 151936, Tied: true, RopeBase: 1e6, Context: 32768},
	"qwen2.5-1.5b": {Arch: "qwen2", Layers: 28, Embd: 1536, Heads: 12, KVHeads: 2, FF: 8960, VocabSize: 151936, Tied: true, RopeBase: 1e6, Context: 32768},
	"qwen2.5-7b":   {Arch: "qwen2", Layers: 28, Embd: 3584, Heads: 28, KVHeads: 4, FF: 18944, VocabSize: 152064, RopeBase: 1e6, Context: 32768},
	"qwen3-0.6b":   {Arch: "qwen3", Layers: 28, Embd: 1024, Heads: 16, KVHeads: 8, HeadSize: 128, FF: 3072, VocabSize: 151936, Tied: true, RopeBase: 1e6, Context: 40960},
	"llama-3.2-1b": {Arch: "llama", Layers: 16, Embd: 2048, Heads: 32, KVHeads: 8, FF: 8192, VocabSize: 128256, Tied: true, RopeBase: 5e5, Context: 131072},
	"llama-3.1-8b": {Arch: "llama", Layers: 32, Embd: 4096, Heads: 32, KVHeads: 8, FF: 14336, VocabSize: 128256, RopeBase: 5e5, Context: 131072},
}

// DefaultOptions is a tiny (~0.9M parameter) f32 llama with grouped-query
// attention, vocabulary 512 and context 512.
func DefaultOptions() Options {
	return Options{
		Arch: "llama", Layers: 4, Embd: 128, Heads: 4, KVHeads: 2, FF: 384,
		Context: 512, VocabSize: 512, Seed: 1,
	}
}

// Options10M is a ~10M parameter model (llama, f32, untied).
func Options10M() Options {
	return Options{
		Arch: "llama", Layers: 6, Embd: 320, Heads: 8, KVHeads: 4, FF: 864,
		Context: 2048, VocabSize: 4096, Seed: 1,
	}
}

// Options100M is a ~100M parameter model (llama, f32, untied).
func Options100M() Options {
	return Options{
		Arch: "llama", Layers: 12, Embd: 768, Heads: 12, KVHeads: 4, FF: 2048,
		Context: 4096, VocabSize: 16384, Seed: 1,
	}
}

// HeadDim is the size of one attention head.
func (o Options) HeadDim() int {
	if o.HeadSize > 0 {
		return o.HeadSize
	}
	return o.Embd / o.Heads
}

// Validate reports the first invalid option.
func (o Options) Validate() error {
	switch o.Arch {
	case "", "llama", "qwen2", "qwen3": // "" is llama
	default:
		return fmt.Errorf("arch %q: want llama, qwen2 or qwen3", o.Arch)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"layers", o.Layers}, {"embd", o.Embd}, {"heads", o.Heads}, {"kv-heads", o.KVHeads}, {"ff", o.FF}, {"ctx", o.Context}} {
		if f.v < 1 || f.v > 1<<20 {
			return fmt.Errorf("%s = %d: want 1..%d", f.name, f.v, 1<<20)
		}
	}
	if o.HeadSize == 0 && o.Embd%o.Heads != 0 || o.HeadDim()%2 != 0 {
		return fmt.Errorf("embd %d must split into %d heads of even size (or give the head size)", o.Embd, o.Heads)
	}
	if o.Heads%o.KVHeads != 0 {
		return fmt.Errorf("heads %d not a multiple of kv-heads %d", o.Heads, o.KVHeads)
	}
	if o.VocabSize < tokenizer.MinVocab || o.VocabSize > 1<<20 {
		return fmt.Errorf("vocab %d: want %d..%d", o.VocabSize, tokenizer.MinVocab, 1<<20)
	}
	return nil
}

// NParams is the number of weights in the file:
//
//	V·E (token_embd) + V·E unless tied (output) + E (output_norm)
//	+ L·( 2E (norms) + 2E·H·d (q, o) + 2E·Hkv·d (k, v) + 3E·F (gate, up, down)
//	      + H·d + 2Hkv·d (qwen2 biases) | 2d (qwen3 q/k norms) )
//
// with d = E/H; llama.cpp's llama_model_n_params counts the same.
func (o Options) NParams() uint64 {
	E, V, F, L := uint64(o.Embd), uint64(o.VocabSize), uint64(o.FF), uint64(o.Layers)
	d, h, kv := uint64(o.HeadDim()), uint64(o.Heads), uint64(o.KVHeads)
	n := V*E + E
	if !o.Tied {
		n += V * E
	}
	layer := 2*E + 2*E*h*d + 2*E*kv*d + 3*E*F
	switch o.Arch {
	case "qwen2":
		layer += h*d + 2*kv*d
	case "qwen3":
		layer += 2 * d
	}
	return n + L*layer
}

// Write trains the tokenizer on o.Corpus (or the built-in corpus), draws the
// weights from o.Seed and writes the model to path atomically.
func Write(path string, o Options) error {
	if o.Arch == "" {
		o.Arch = "llama"
	}
	if err := o.Validate(); err != nil {
		return fmt.Errorf("tiny model %s: %w", path, err)
	}
	if o.Vocab != nil {
		if n := vocabCount(o.Vocab); n != o.VocabSize {
			return fmt.Errorf("tiny model %s: vocab size %d, the tokenizer has %d tokens", path, o.VocabSize, n)
		}
	}
	w := gguf.NewWriter()
	setKV(w, o)
	if o.Vocab != nil {
		for _, kv := range o.Vocab {
			w.Set(kv.Key, kv.Value)
		}
	} else {
		corpus := o.Corpus
		if corpus == "" {
			corpus = DefaultCorpus
		}
		tok, err := tokenizer.Train(corpus, o.VocabSize)
		if err != nil {
			return fmt.Errorf("tiny model %s: %w", path, err)
		}
		tok.SetKV(w)
	}
	addTensors(w, o)
	return w.WriteFile(path)
}

// vocabCount is the number of tokens in tokenizer keys.
func vocabCount(kvs []gguf.KV) int {
	for _, kv := range kvs {
		if kv.Key == "tokenizer.ggml.tokens" {
			if t, ok := kv.Value.([]string); ok {
				return len(t)
			}
		}
	}
	return 0
}

// VocabFrom is the tokenizer of the GGUF file at path: its tokenizer.* keys,
// for Options.Vocab, and their token count.
func VocabFrom(path string) ([]gguf.KV, int, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("vocabulary of %s: %w", path, err)
	}
	var kvs []gguf.KV
	for _, kv := range f.KV {
		if strings.HasPrefix(kv.Key, "tokenizer.") {
			kvs = append(kvs, kv)
		}
	}
	n := vocabCount(kvs)
	if n == 0 {
		return nil, 0, fmt.Errorf("vocabulary of %s: no tokenizer.ggml.tokens", path)
	}
	return kvs, n, nil
}

func setKV(w *gguf.Writer, o Options) {
	a := o.Arch
	fileType := uint32(0) // LLAMA_FTYPE_ALL_F32
	if o.F16 {
		fileType = 1 // LLAMA_FTYPE_MOSTLY_F16
	}
	w.Set("general.architecture", a)
	w.Set("general.name", fmt.Sprintf("atod-tiny-%s-%dL-%dE", a, o.Layers, o.Embd))
	w.Set("general.file_type", fileType)
	w.Set(a+".block_count", uint32(o.Layers))
	w.Set(a+".context_length", uint32(o.Context))
	w.Set(a+".embedding_length", uint32(o.Embd))
	w.Set(a+".feed_forward_length", uint32(o.FF))
	w.Set(a+".attention.head_count", uint32(o.Heads))
	w.Set(a+".attention.head_count_kv", uint32(o.KVHeads))
	w.Set(a+".attention.key_length", uint32(o.HeadDim()))
	w.Set(a+".attention.value_length", uint32(o.HeadDim()))
	w.Set(a+".attention.layer_norm_rms_epsilon", float32(1e-6))
	base := o.RopeBase
	if base == 0 {
		base = 10000
	}
	w.Set(a+".rope.freq_base", base)
	w.Set(a+".rope.dimension_count", uint32(o.HeadDim()))
	w.Set(a+".vocab_size", uint32(o.VocabSize))
}
