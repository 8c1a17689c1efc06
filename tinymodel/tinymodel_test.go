package tinymodel

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/atod-dev/atod/gguf"
	"github.com/atod-dev/atod/tokenizer"
)

func small(arch string) Options {
	return Options{Arch: arch, Layers: 2, Embd: 32, Heads: 4, KVHeads: 2, FF: 48, Context: 64, VocabSize: 300, Seed: 3}
}

func write(t *testing.T, o Options) (string, *gguf.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := Write(path, o); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, f
}

func floats(t *testing.T, f *gguf.File, name string) []float32 {
	t.Helper()
	ti, ok := f.Tensor(name)
	if !ok {
		t.Fatalf("no tensor %s", name)
	}
	b, err := f.ReadTensor(name)
	if err != nil {
		t.Fatal(err)
	}
	v, err := gguf.Float32s(ti.Type, b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNParamsHandComputed(t *testing.T) {
	// DefaultOptions: E=128, V=512, F=384, L=4, d=32, Hkv=2 (k/v width 64), untied:
	// 512·128·2 + 128 + 4·(2·128 + 2·128·128 + 2·128·64 + 3·128·384) = 131200 + 4·196864
	if got, want := DefaultOptions().NParams(), uint64(131200+4*196864); got != want {
		t.Errorf("NParams = %d, want %d", got, want)
	}
}

func TestPresetSizes(t *testing.T) {
	for _, c := range []struct {
		o        Options
		min, max uint64
	}{{DefaultOptions(), 0.8e6, 1.2e6}, {Options10M(), 9e6, 11e6}, {Options100M(), 95e6, 105e6}} {
		if err := c.o.Validate(); err != nil {
			t.Error(err)
		}
		if n := c.o.NParams(); n < c.min || n > c.max {
			t.Errorf("%+v: %d parameters", c.o, n)
		}
	}
}

func TestNParamsMatchesFile(t *testing.T) {
	for _, arch := range []string{"llama", "qwen2", "qwen3"} {
		for _, tied := range []bool{false, true} {
			o := small(arch)
			o.Tied = tied
			_, f := write(t, o)
			var n uint64
			for _, ti := range f.Tensors {
				e := uint64(1)
				for _, d := range ti.Shape {
					e *= d
				}
				n += e
			}
			if n != o.NParams() {
				t.Errorf("%s tied=%v: file has %d weights, NParams %d", arch, tied, n, o.NParams())
			}
			_, hasOut := f.Tensor("output.weight")
			if hasOut == tied {
				t.Errorf("%s tied=%v: output.weight present=%v", arch, tied, hasOut)
			}
		}
	}
}

func TestShapesAndMetadata(t *testing.T) {
	o := small("qwen2")
	_, f := write(t, o)
	shapes := map[string][]uint64{
		"token_embd.weight":        {32, 300},
		"output.weight":            {32, 300},
		"output_norm.weight":       {32},
		"blk.1.attn_q.weight":      {32, 32},
		"blk.1.attn_k.weight":      {32, 16}, // 2 kv heads of 8
		"blk.1.attn_v.weight":      {32, 16},
		"blk.1.attn_output.weight": {32, 32},
		"blk.1.attn_q.bias":        {32},
		"blk.1.attn_k.bias":        {16},
		"blk.1.ffn_gate.weight":    {32, 48},
		"blk.1.ffn_up.weight":      {32, 48},
		"blk.1.ffn_down.weight":    {48, 32},
	}
	for name, want := range shapes {
		ti, ok := f.Tensor(name)
		if !ok || !reflect.DeepEqual(ti.Shape, want) {
			t.Errorf("%s: shape %v, want %v", name, ti.Shape, want)
		}
	}
	for key, want := range map[string]any{
		"general.architecture": "qwen2", "qwen2.block_count": uint32(2), "qwen2.embedding_length": uint32(32),
		"qwen2.attention.head_count": uint32(4), "qwen2.attention.head_count_kv": uint32(2),
		"qwen2.rope.dimension_count": uint32(8), "qwen2.context_length": uint32(64), "qwen2.feed_forward_length": uint32(48),
	} {
		if got, _ := f.Get(key); got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	_, f3 := write(t, small("qwen3"))
	if ti, ok := f3.Tensor("blk.0.attn_k_norm.weight"); !ok || !reflect.DeepEqual(ti.Shape, []uint64{8}) {
		t.Errorf("qwen3 attn_k_norm: %v", ti.Shape)
	}
	tk, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := tokenizer.Train(DefaultCorpus, 300)
	if !reflect.DeepEqual(tk.Tokens, want.Tokens) || !reflect.DeepEqual(tk.Merges, want.Merges) {
		t.Error("stored tokenizer differs from one trained on the built-in corpus")
	}
}

func TestWeights(t *testing.T) {
	o := small("llama")
	o.Embd, o.FF = 64, 256
	_, f := write(t, o)
	for _, name := range []string{"output_norm.weight", "blk.0.attn_norm.weight", "blk.1.ffn_norm.weight"} {
		for _, v := range floats(t, f, name) {
			if v != 1 {
				t.Fatalf("%s has %g, want all ones", name, v)
			}
		}
	}
	// N(0, 1/n_in): sample std within 10% (n ≥ 4096 values)
	for name, nIn := range map[string]float64{"blk.0.attn_q.weight": 64, "blk.0.ffn_down.weight": 256, "token_embd.weight": 64} {
		v := floats(t, f, name)
		var s, s2 float64
		for _, x := range v {
			s += float64(x)
			s2 += float64(x) * float64(x)
		}
		mean, std := s/float64(len(v)), math.Sqrt(s2/float64(len(v))-(s/float64(len(v)))*(s/float64(len(v))))
		if want := 1 / math.Sqrt(nIn); math.Abs(std/want-1) > 0.1 || math.Abs(mean) > 0.1*want {
			t.Errorf("%s: mean %g std %g, want 0, %g", name, mean, std, want)
		}
	}
}

func TestF16MatchesF32(t *testing.T) {
	o := small("qwen3")
	_, f32 := write(t, o)
	o.F16 = true
	_, f16 := write(t, o)
	for _, ti := range f16.Tensors {
		a, b := floats(t, f32, ti.Name), floats(t, f16, ti.Name)
		isMatrix := len(ti.Shape) == 2
		if isMatrix != (ti.Type == gguf.F16) {
			t.Errorf("%s: type %v", ti.Name, ti.Type)
		}
		for i := range a {
			if b[i] != gguf.F16ToF32(gguf.F32ToF16(a[i])) {
				t.Fatalf("%s[%d]: f16 file %g, f32 file %g", ti.Name, i, b[i], a[i])
			}
		}
	}
}

func TestDeterministic(t *testing.T) {
	o := small("qwen2")
	p1, _ := write(t, o)
	p2, _ := write(t, o)
	o.Seed++
	p3, f3 := write(t, o)
	b1, _ := os.ReadFile(p1)
	b2, _ := os.ReadFile(p2)
	b3, _ := os.ReadFile(p3)
	if !bytes.Equal(b1, b2) {
		t.Error("same options gave different files")
	}
	if len(b1) != len(b3) || bytes.Equal(b1, b3) {
		t.Error("another seed gave the same weights (or another layout)")
	}
	f1, _ := gguf.Open(p1)
	if !reflect.DeepEqual(f1.KV, f3.KV) {
		t.Error("the seed changed the metadata")
	}
}

func TestValidate(t *testing.T) {
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []func(*Options){
		func(o *Options) { o.Arch = "gpt2" },
		func(o *Options) { o.Layers = 0 },
		func(o *Options) { o.Heads = 3 },             // 128 not divisible by 3
		func(o *Options) { o.Embd, o.Heads = 12, 4 }, // odd head size
		func(o *Options) { o.KVHeads = 3 },           // 4 heads not a multiple of 3
		func(o *Options) { o.VocabSize = 100 },       // below bytes + specials
		func(o *Options) { o.Context = -1 },
	}
	for i, edit := range bad {
		o := DefaultOptions()
		edit(&o)
		if err := o.Validate(); err == nil {
			t.Errorf("case %d: %+v accepted", i, o)
		}
		if err := Write(filepath.Join(t.TempDir(), "x.gguf"), o); err == nil {
			t.Errorf("case %d: Write accepted %+v", i, o)
		}
	}
}
