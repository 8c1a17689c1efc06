package gguf

import (
	"bytes"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sampleKVs() []KV {
	return []KV{
		{"general.architecture", "llama"},
		{"u8", uint8(200)}, {"i8", int8(-100)}, {"u16", uint16(60000)}, {"i16", int16(-30000)},
		{"u32", uint32(4000000000)}, {"i32", int32(-2000000000)}, {"f32", float32(1.5e-6)},
		{"bool", true}, {"empty", ""}, {"u64", uint64(1) << 60}, {"i64", int64(-1) << 60}, {"f64", math.Pi},
		{"strs", []string{"a b", "", "Ġthe", "<|im_end|>"}}, {"i32s", []int32{1, 3, 6, -1}},
		{"f32s", []float32{0.5, -2}}, {"bools", []bool{true, false, true}}, {"u8s", []uint8{1, 2, 3}},
		{"u64s", []uint64{7}}, {"f64s", []float64{}},
	}
}

func writeSample(t *testing.T, dir string, align uint32) (string, map[string][]byte) {
	t.Helper()
	w := NewWriter()
	for _, kv := range sampleKVs() {
		w.Set(kv.Key, kv.Value)
	}
	if align != 0 {
		w.Set("general.alignment", align)
	}
	data := map[string][]byte{
		"a": F32Bytes([]float32{1, 2, 3, 4, 5, 6}),        // 24 bytes: next tensor needs padding
		"b": F16Bytes([]float32{0.5, -1, 65504, 1e-7, 3}), // 10 bytes
		"c": F32Bytes([]float32{-7}),
	}
	w.AddTensor("a", F32, []uint64{3, 2}, data["a"])
	w.AddTensorFunc("b", F16, []uint64{5}, func(out io.Writer) error {
		_, err := out.Write(data["b"])
		return err
	})
	w.AddTensor("c", F32, []uint64{1, 1, 1, 1}, data["c"])
	path := filepath.Join(dir, "x.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path, data
}

func TestRoundTrip(t *testing.T) {
	for _, align := range []uint32{0, 64} {
		path, data := writeSample(t, t.TempDir(), align)
		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		want := sampleKVs()
		wantAlign := uint64(DefaultAlignment)
		if align != 0 {
			want = append(want, KV{"general.alignment", align})
			wantAlign = uint64(align)
		}
		if !reflect.DeepEqual(f.KV, want) {
			t.Errorf("align %d: KV mismatch:\n got %#v\nwant %#v", align, f.KV, want)
		}
		if f.Version != 3 || f.Alignment != wantAlign || f.DataOffset%wantAlign != 0 {
			t.Errorf("version %d alignment %d data offset %d", f.Version, f.Alignment, f.DataOffset)
		}
		shapes := map[string][]uint64{"a": {3, 2}, "b": {5}, "c": {1, 1, 1, 1}}
		types := map[string]TensorType{"a": F32, "b": F16, "c": F32}
		if len(f.Tensors) != 3 {
			t.Fatalf("%d tensors", len(f.Tensors))
		}
		for _, ti := range f.Tensors {
			if !reflect.DeepEqual(ti.Shape, shapes[ti.Name]) || ti.Type != types[ti.Name] || ti.Offset%wantAlign != 0 {
				t.Errorf("tensor %+v", ti)
			}
			b, err := f.ReadTensor(ti.Name)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, data[ti.Name]) {
				t.Errorf("tensor %s data %v, want %v", ti.Name, b, data[ti.Name])
			}
		}
		st, _ := os.Stat(path)
		last := f.Tensors[2]
		if want := f.DataOffset + align8(last.Offset+last.Size, wantAlign); uint64(st.Size()) != want {
			t.Errorf("file size %d, want %d", st.Size(), want)
		}
	}
}

func align8(n, a uint64) uint64 { return (n + a - 1) / a * a }

func TestSetReplaces(t *testing.T) {
	w := NewWriter()
	w.Set("k", uint32(1))
	w.Set("k", "two")
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.KV, []KV{{"k", "two"}}) {
		t.Errorf("KV %v", f.KV)
	}
}

func TestWriterErrors(t *testing.T) {
	cases := map[string]func(w *Writer){
		"unsupported value": func(w *Writer) { w.Set("k", 3) },
		"bad alignment":     func(w *Writer) { w.Set("general.alignment", uint32(12)) },
		"duplicate tensor": func(w *Writer) {
			w.AddTensor("a", F32, []uint64{1}, make([]byte, 4))
			w.AddTensor("a", F32, []uint64{1}, make([]byte, 4))
		},
		"short data": func(w *Writer) { w.AddTensor("a", F32, []uint64{2}, make([]byte, 4)) },
		"zero dim":   func(w *Writer) { w.AddTensor("a", F32, []uint64{2, 0}, nil) },
		"quantized":  func(w *Writer) { w.AddTensor("a", TensorType(2), []uint64{32}, make([]byte, 18)) },
		"five dims":  func(w *Writer) { w.AddTensor("a", F32, []uint64{1, 1, 1, 1, 1}, make([]byte, 4)) },
		"fill errors": func(w *Writer) {
			w.AddTensorFunc("a", F32, []uint64{1}, func(io.Writer) error { return io.ErrClosedPipe })
		},
	}
	for name, build := range cases {
		w := NewWriter()
		build(w)
		dir := t.TempDir()
		if err := w.WriteFile(filepath.Join(dir, "x.gguf")); err == nil {
			t.Errorf("%s: no error", name)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("%s: left %d files behind", name, len(ents))
		}
	}
}

func TestReadErrors(t *testing.T) {
	path, _ := writeSample(t, t.TempDir(), 0)
	full, _ := os.ReadFile(path)
	f, _ := Open(path)
	header := int(f.DataOffset)
	for n := 0; n < header-32; n += 7 { // every cut inside the header must fail cleanly
		if _, err := Read(bytes.NewReader(full[:n])); err == nil {
			t.Fatalf("truncated at %d: no error", n)
		}
	}
	cut := filepath.Join(t.TempDir(), "cut.gguf")
	os.WriteFile(cut, full[:len(full)-40], 0o644) // header intact, last tensor's data cut
	if _, err := Open(cut); err == nil || !strings.Contains(err.Error(), "past the file end") {
		t.Errorf("truncated data: %v", err)
	}
	bad := append([]byte("GGUX"), full[4:]...)
	if _, err := Read(bytes.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "magic") {
		t.Errorf("bad magic: %v", err)
	}
	huge := append([]byte(nil), full...)
	copy(huge[8:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}) // tensor count
	if _, err := Read(bytes.NewReader(huge)); err == nil {
		t.Error("huge tensor count: no error")
	}
}

func TestF16(t *testing.T) {
	cases := []struct {
		f float32
		h uint16
	}{
		{0, 0}, {1, 0x3c00}, {-2, 0xc000}, {0.5, 0x3800}, {65504, 0x7bff},
		{65520, 0x7c00},                  // halfway to the next binade rounds up to Inf
		{0.1, 0x2e66},                    // 0.0999755859375
		{float32(math.Ldexp(1, -24)), 1}, // smallest subnormal
		{float32(math.Ldexp(1, -25)), 0}, // halfway to zero: ties to even
		{float32(math.Ldexp(3, -25)), 2}, // 1.5 ulp: ties to even
		{float32(math.Ldexp(1, -14)), 0x0400},
		{1 + 1.0/2048, 0x3c00}, // tie between 1 and 1+2^-10: even (1)
		{1 + 3.0/2048, 0x3c02}, // tie: even (1+2^-9)
		{float32(math.Inf(-1)), 0xfc00},
	}
	for _, c := range cases {
		if got := F32ToF16(c.f); got != c.h {
			t.Errorf("F32ToF16(%g) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
	if h := F32ToF16(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("NaN → %#04x", h)
	}
	for h := 0; h < 1<<16; h++ { // every half converts to float32 and back exactly
		f := F16ToF32(uint16(h))
		if f != f {
			continue
		}
		if back := F32ToF16(f); back != uint16(h) {
			t.Fatalf("%#04x → %g → %#04x", h, f, back)
		}
	}
}

// FuzzRead: any input either parses or fails with an error, never panics or
// allocates without bound; what parses writes back to the same header.
func FuzzRead(f *testing.F) {
	w := NewWriter()
	for _, kv := range sampleKVs() {
		w.Set(kv.Key, kv.Value)
	}
	w.AddTensor("a", F32, []uint64{2}, make([]byte, 8))
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("GGUF"))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Read(bytes.NewReader(b))
		if err != nil {
			return
		}
		rewrite := func(kvs []KV) []byte {
			w := NewWriter()
			for _, kv := range kvs {
				w.Set(kv.Key, kv.Value)
			}
			var out bytes.Buffer
			if _, err := w.WriteTo(&out); err != nil {
				t.Fatalf("parsed metadata does not write back: %v", err)
			}
			return out.Bytes()
		}
		once := rewrite(g.KV)
		g2, err := Read(bytes.NewReader(once))
		if err != nil {
			t.Fatalf("rewritten file does not parse: %v", err)
		}
		if twice := rewrite(g2.KV); !bytes.Equal(once, twice) || len(g2.KV) != len(g.KV) {
			t.Fatal("metadata changed through a write") // compared as bytes: NaN values included
		}
	})
}
