package llama_test

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/atod-dev/atod/gguf"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/tinymodel"
)

// writeLoRA writes a llama.cpp LoRA GGUF for a tiny model with options o: rank-r pairs on attn_q,
// attn_v and ffn_up of every layer, A and B uniform in ±0.1 (B non-zero, so it changes the model).
// Shapes in ggml order: base W [n_in, n_out], lora_a [n_in, r], lora_b [r, n_out]. Extra tensor
// names may be added to exercise llama.cpp's own checks.
func writeLoRA(t testing.TB, path, arch string, o tinymodel.Options, r int, seed int64, extra ...string) {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	uniform := func(n uint64) []byte {
		v := make([]float32, n)
		for i := range v {
			v[i] = 0.2*rng.Float32() - 0.1
		}
		return gguf.F32Bytes(v)
	}
	w := gguf.NewWriter()
	w.Set("general.architecture", arch)
	w.Set("general.type", "adapter")
	w.Set("adapter.type", "lora")
	w.Set("adapter.lora.alpha", float32(r))
	E, F, KV, R := uint64(o.Embd), uint64(o.FF), uint64(o.KVHeads*o.HeadDim()), uint64(r)
	var names []string
	var outs []uint64
	for l := range o.Layers {
		for _, target := range []struct {
			name string
			out  uint64
		}{{"attn_q", E}, {"attn_v", KV}, {"ffn_up", F}} {
			names = append(names, fmt.Sprintf("blk.%d.%s.weight", l, target.name))
			outs = append(outs, target.out)
		}
	}
	for _, name := range extra {
		names = append(names, name)
		outs = append(outs, E)
	}
	for i, name := range names {
		w.AddTensor(name+".lora_a", gguf.F32, []uint64{E, R}, uniform(E*R))
		w.AddTensor(name+".lora_b", gguf.F32, []uint64{R, outs[i]}, uniform(R*outs[i]))
	}
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
}

func TestAdapter(t *testing.T) {
	dir := t.TempDir()
	m := loadModel(t, tinyPath)
	o := tinymodel.DefaultOptions()
	path := filepath.Join(dir, "lora.gguf")
	writeLoRA(t, path, "llama", o, 4, 1)

	c := newContext(t, m, 128, 2)
	toks := chatPrompt(t, m, "Heat the soup.")
	score := func() []float32 {
		t.Helper()
		res, err := c.Score([]model.ScoreRequest{{Seq: 0, Tokens: toks, From: 1}, {Seq: 1, Tokens: toks[:len(toks)/2], From: 3}})
		if err != nil {
			t.Fatal(err)
		}
		return append(res[0].LogProbs, res[1].LogProbs...)
	}
	base := score()
	a, err := m.LoadAdapter(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := c.SetAdapter(a, 1); err != nil {
		t.Fatal(err)
	}
	adapted := score()
	if d := maxAbsDiff(base, adapted); d < 1e-3 {
		t.Errorf("adapter changed the scores by only %g", d)
	}
	if again := score(); maxAbsDiff(adapted, again) != 0 {
		t.Error("scores under the adapter are not repeatable")
	}
	if err := c.SetAdapter(a, 0.5); err != nil {
		t.Fatal(err)
	}
	if half := score(); maxAbsDiff(half, adapted) < 1e-4 || maxAbsDiff(half, base) < 1e-4 {
		t.Error("scale 0.5 gives the scores of scale 1 or of no adapter")
	}
	if err := c.SetAdapter(nil, 0); err != nil {
		t.Fatal(err)
	}
	if restored := score(); maxAbsDiff(base, restored) != 0 {
		t.Errorf("SetAdapter(nil) did not restore the base scores exactly (max |Δ| %g)", maxAbsDiff(base, restored))
	}

	// Closing an adapter still set in a context takes it out of that context first.
	if err := c.SetAdapter(a, 1); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if restored := score(); maxAbsDiff(base, restored) != 0 {
		t.Error("closing the adapter left it applied")
	}
}

func TestAdapterBadFiles(t *testing.T) {
	dir := t.TempDir()
	m := loadModel(t, tinyPath)
	o := tinymodel.DefaultOptions()
	qwen := filepath.Join(dir, "qwen.gguf")
	writeLoRA(t, qwen, "qwen2", o, 4, 1)
	_, err := m.LoadAdapter(qwen)
	wantErr(t, "other architecture", err, "does not match")
	_, err = m.LoadAdapter(tinyPath)
	wantErr(t, "a model as adapter", err, "not an adapter")
	stray := filepath.Join(dir, "stray.gguf")
	writeLoRA(t, stray, "llama", o, 4, 1, "blk.99.attn_q.weight")
	_, err = m.LoadAdapter(stray)
	wantErr(t, "tensor missing from the model", err, "blk.99")
	_, err = m.LoadAdapter(filepath.Join(dir, "missing.gguf"))
	wantErr(t, "missing file", err, "cannot read")
}

func rss(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skip("no /proc/self/statm")
	}
	pages, err := strconv.ParseInt(strings.Fields(string(b))[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

// TestAdapterNoLeak loads, applies, uses and frees an adapter 200 times: RSS must not grow.
func TestAdapterNoLeak(t *testing.T) {
	m := loadModel(t, tinyPath)
	path := filepath.Join(t.TempDir(), "lora.gguf")
	writeLoRA(t, path, "llama", tinymodel.DefaultOptions(), 8, 2)
	c := newContext(t, m, 64, 1)
	toks := chatPrompt(t, m, "x")
	cycle := func() {
		a, err := m.LoadAdapter(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SetAdapter(a, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Score([]model.ScoreRequest{{Tokens: toks, From: 1}}); err != nil {
			t.Fatal(err)
		}
		if err := c.SetAdapter(nil, 0); err != nil {
			t.Fatal(err)
		}
		a.Close()
	}
	for range 100 { // let the allocators reach their steady state
		cycle()
	}
	debug.FreeOSMemory() // Go's heap returns what it holds, so RSS shows the C side
	before := rss(t)
	for range 200 {
		cycle()
	}
	debug.FreeOSMemory()
	growth := rss(t) - before
	t.Logf("RSS growth over 200 adapter cycles: %d KiB", growth/1024)
	if growth > 5<<20 {
		t.Errorf("RSS grew by %d KiB", growth/1024)
	}
}
