package llama_test

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/atod-dev/atod/cgo/llama"
	"github.com/atod-dev/atod/gguf"
	"github.com/atod-dev/atod/tinymodel"
)

// A quantized model is smaller and scores text close to its f32 source (much
// closer than another random model does, and closer the more bits it keeps);
// a bad type or input is an error, not an abort.
func TestQuantize(t *testing.T) {
	dir := t.TempDir()
	base := loadModel(t, tinyPath)
	score := func(m *llama.Model) []float32 { return scoreSentence(t, base, m) }
	want := score(base)
	off := func(got []float32) float64 {
		worst := 0.0
		for i := range want {
			worst = max(worst, math.Abs(float64(got[i]-want[i])))
		}
		return worst
	}
	o := tinymodel.DefaultOptions()
	o.Seed = 2
	other := filepath.Join(dir, "other.gguf")
	if err := tinymodel.Write(other, o); err != nil {
		t.Fatal(err)
	}
	far := off(score(loadModel(t, other)))
	st, _ := os.Stat(tinyPath)
	errs := map[string]float64{}
	for _, c := range []struct {
		typ string
		tol float64
	}{{"q8_0", far / 10}, {"q4_0", far / 2}, {"q4_k_m", far / 2}} {
		out := filepath.Join(dir, c.typ+".gguf")
		if err := llama.Quantize(tinyPath, out, c.typ, 1); err != nil {
			t.Fatalf("%s: %v", c.typ, err)
		}
		qs, _ := os.Stat(out)
		// atod's GGUF reader sizes quantized tensors by their blocks.
		g, err := gguf.Open(out)
		if err != nil {
			t.Fatalf("%s: read header: %v", c.typ, err)
		}
		var data uint64
		for _, ti := range g.Tensors {
			data += ti.Size
		}
		if data > uint64(qs.Size()) || data < uint64(qs.Size())*9/10 {
			t.Errorf("%s: tensors of %d bytes in a file of %d", c.typ, data, qs.Size())
		}
		worst := off(score(loadModel(t, out)))
		errs[c.typ] = worst
		t.Logf("%s: %d → %d bytes, max |Δ log-prob| %.3g (another random model: %.3g)", c.typ, st.Size(), qs.Size(), worst, far)
		if qs.Size() >= st.Size()/2 || worst > c.tol {
			t.Errorf("%s: %d bytes (f32 %d), log-probs off by %g", c.typ, qs.Size(), st.Size(), worst)
		}
	}
	if !(errs["q8_0"] < errs["q4_k_m"] && errs["q4_k_m"] < errs["q4_0"]) {
		t.Errorf("errors by type %v: want q8_0 < q4_k_m < q4_0", errs)
	}
	wantErr(t, "unknown type", llama.Quantize(tinyPath, filepath.Join(dir, "x.gguf"), "q3_zz", 1), "want one of")
	bad := filepath.Join(dir, "bad.gguf")
	os.WriteFile(bad, []byte("not a model"), 0o644)
	wantErr(t, "bad input", llama.Quantize(bad, filepath.Join(dir, "y.gguf"), "q8_0", 1), "not a valid GGUF")
}

// Widening a quantized model to f16 or bf16 keeps its weights up to the wider
// type's rounding: every matrix changes type, and the log-probs stay with the
// quantized model's, far closer to it than it is to its f32 source (what is left
// is mostly the activations' rounding, q8_0 in a q4_0 matmul, f16/bf16 here).
func TestWiden(t *testing.T) {
	dir := t.TempDir()
	base := loadModel(t, tinyPath)
	q := filepath.Join(dir, "q4_0.gguf")
	if err := llama.Quantize(tinyPath, q, "q4_0", 1); err != nil {
		t.Fatal(err)
	}
	want := scoreSentence(t, base, loadModel(t, q))
	quantErr := 0.0
	for i, lp := range scoreSentence(t, base, base) {
		quantErr = max(quantErr, math.Abs(float64(lp-want[i])))
	}
	errs := map[string]float64{}
	for typ, tt := range map[string]gguf.TensorType{"f16": gguf.F16, "bf16": gguf.BF16} {
		out := filepath.Join(dir, typ+".gguf")
		if err := llama.Quantize(q, out, typ, 1); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		g, err := gguf.Open(out)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		for _, ti := range g.Tensors {
			if len(ti.Shape) >= 2 && ti.Type != tt {
				t.Errorf("%s: tensor %s has type %d", typ, ti.Name, ti.Type)
			}
		}
		got := scoreSentence(t, base, loadModel(t, out))
		for i := range want {
			errs[typ] = max(errs[typ], math.Abs(float64(got[i]-want[i])))
		}
	}
	t.Logf("max |Δ log-prob| against q4_0: %v (q4_0 against f32: %.3g)", errs, quantErr)
	for typ, e := range errs {
		if e > quantErr/5 {
			t.Errorf("%s: log-probs off q4_0's by %.3g, q4_0's own error %.3g", typ, e, quantErr)
		}
	}
}
