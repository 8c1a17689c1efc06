package tinymodel

import (
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"

	"github.com/atod-dev/atod/gguf"
)

// init kinds of a tensor's values.
const (
	ones   = iota // RMS-norm gains
	normal        // N(0, std²)
)

type tensorSpec struct {
	name   string
	shape  []uint64 // ggml order: shape[0] contiguous
	matrix bool     // stored as f16 when Options.F16
	kind   int
	std    float64
}

// tensors lists the model's tensors in file order, with llama.cpp's shapes
// (llama-model.cpp, load_tensors). Matrices are N(0, 1/n_in), so with unit
// norm gains every projection keeps unit scale and the logits are varied
// but finite; qwen2's biases are small.
func tensors(o Options) []tensorSpec {
	E, V, F := uint64(o.Embd), uint64(o.VocabSize), uint64(o.FF)
	d := uint64(o.HeadDim())
	q, kv := uint64(o.Heads)*d, uint64(o.KVHeads)*d
	mat := func(name string, nIn, nOut uint64) tensorSpec {
		return tensorSpec{name, []uint64{nIn, nOut}, true, normal, 1 / math.Sqrt(float64(nIn))}
	}
	vec := func(name string, n uint64) tensorSpec {
		return tensorSpec{name, []uint64{n}, false, ones, 0}
	}
	bias := func(name string, n uint64) tensorSpec {
		return tensorSpec{name, []uint64{n}, false, normal, 0.02}
	}
	ts := []tensorSpec{mat("token_embd.weight", E, V), vec("output_norm.weight", E)}
	if !o.Tied {
		ts = append(ts, mat("output.weight", E, V))
	}
	for i := 0; i < o.Layers; i++ {
		b := fmt.Sprintf("blk.%d.", i)
		ts = append(ts,
			vec(b+"attn_norm.weight", E),
			mat(b+"attn_q.weight", E, q),
			mat(b+"attn_k.weight", E, kv),
			mat(b+"attn_v.weight", E, kv),
			mat(b+"attn_output.weight", q, E))
		switch o.Arch {
		case "qwen2":
			ts = append(ts, bias(b+"attn_q.bias", q), bias(b+"attn_k.bias", kv), bias(b+"attn_v.bias", kv))
		case "qwen3":
			ts = append(ts, vec(b+"attn_q_norm.weight", d), vec(b+"attn_k_norm.weight", d))
		}
		ts = append(ts,
			vec(b+"ffn_norm.weight", E),
			mat(b+"ffn_gate.weight", E, F),
			mat(b+"ffn_up.weight", E, F),
			mat(b+"ffn_down.weight", F, E))
	}
	return ts
}

// addTensors adds every tensor with a fill that draws its values while the
// file is written, from a stream seeded by (Seed, tensor name): the values
// of a tensor do not depend on the others.
func addTensors(w *gguf.Writer, o Options) {
	for _, t := range tensors(o) {
		typ := gguf.F32
		if t.matrix && o.F16 {
			typ = gguf.F16
		}
		n := uint64(1)
		for _, d := range t.shape {
			n *= d
		}
		w.AddTensorFunc(t.name, typ, t.shape, func(out io.Writer) error {
			return fill(out, t, typ, n, o.Seed)
		})
	}
}

func fill(out io.Writer, t tensorSpec, typ gguf.TensorType, n uint64, seed int64) error {
	h := fnv.New64a()
	h.Write([]byte(t.name))
	rng := rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
	buf := make([]float32, 0, 1<<16)
	flush := func() error {
		var b []byte
		if typ == gguf.F16 {
			b = gguf.F16Bytes(buf)
		} else {
			b = gguf.F32Bytes(buf)
		}
		buf = buf[:0]
		_, err := out.Write(b)
		return err
	}
	for i := uint64(0); i < n; i++ {
		v := float32(1)
		if t.kind == normal {
			v = float32(rng.NormFloat64() * t.std)
		}
		buf = append(buf, v)
		if len(buf) == cap(buf) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}
