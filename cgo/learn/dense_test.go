package learn_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/atod-dev/atod/cgo/learn"
	"github.com/atod-dev/atod/cgo/llama"
	"github.com/atod-dev/atod/gguf"
	"github.com/atod-dev/atod/model"
)

// With DenseFrom, a quantized base's matrices multiply F16 copies
// (graph.cpp's rewrite_mul_mats): the learner then computes the dequantized
// model's math, F32 weights decoded here from the blocks, up to F16 rounding.
// ggml's quantized kernels (DenseFrom above the batch) round activations to
// 8 bits and are farther from it: 0.03–0.05 in log-probs on these models,
// which is also how far llama.cpp's own forward is.
func TestDenseMatchesDequantized(t *testing.T) {
	for _, typ := range []string{"q8_0", "q4_0"} {
		t.Run(typ, func(t *testing.T) {
			q := filepath.Join(t.TempDir(), typ+".gguf")
			if err := llama.Quantize(tinyModel(t, tinyOpts("qwen2")), q, typ, 1); err != nil {
				t.Fatal(err)
			}
			ref := dequantize(t, q)
			var seqs []model.TrainSeq // the same in every run: gradBatch is seeded
			run := func(path string, denseFrom int) (map[string][]float32, [][]float32) {
				cfg := loraConfig()
				cfg.Recompute, cfg.DenseFrom = true, denseFrom
				tr := newLearner(t, path, cfg)
				randomizeB(t, tr, 3, 0.2)
				micro := gradBatch(tr.VocabSize())
				_, g, err := tr.Gradients(micro)
				if err != nil {
					t.Fatal(err)
				}
				seqs = flatten(micro)
				return g, trainerLogProbs(t, tr, seqs)
			}
			gr, lr := run(ref, 0)
			gd, ld := run(q, 1)
			gn, ln := run(q, 1<<30)
			dDense, dNative := maxDiff(seqs, ld, lr), maxDiff(seqs, ln, lr)
			rDense, _ := relDiff(gd, gr)
			rNative, _ := relDiff(gn, gr)
			t.Logf("vs the dequantized model: log-probs %.2g dense, %.2g quantized kernels; gradients %.2g, %.2g (relative)",
				dDense, dNative, rDense, rNative)
			if dDense > 3e-3 || rDense > 1.5e-2 { // measured 1.6e-3, 6.7e-3
				t.Errorf("dense path off the dequantized model: log-probs %.2g, gradients %.2g", dDense, rDense)
			}
			if dNative < 4*dDense {
				t.Errorf("the quantized kernels (%.2g) are no farther than the dense path (%.2g): was it taken?", dNative, dDense)
			}
		})
	}
}

// dequantize writes the model at path with every Q8_0 and Q4_0 tensor decoded
// to F32 (ggml's block layouts: an F16 scale d, then 32 values d·q).
func dequantize(t *testing.T, path string) string {
	t.Helper()
	g, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	w := gguf.NewWriter()
	for _, kv := range g.KV {
		w.Set(kv.Key, kv.Value)
	}
	w.Set("general.file_type", uint32(0)) // all F32
	for _, ti := range g.Tensors {
		b, err := g.ReadTensor(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		var v []float32
		switch ti.Type {
		case 8: // Q8_0: d, 32 int8
			for o := 0; o+34 <= len(b); o += 34 {
				d := gguf.F16ToF32(binary.LittleEndian.Uint16(b[o:]))
				for j := 0; j < 32; j++ {
					v = append(v, d*float32(int8(b[o+2+j])))
				}
			}
		case 2: // Q4_0: d, 16 bytes; value j is the low nibble of byte j, value 16+j its high nibble, each minus 8
			for o := 0; o+18 <= len(b); o += 18 {
				d := gguf.F16ToF32(binary.LittleEndian.Uint16(b[o:]))
				var blk [32]float32
				for j := 0; j < 16; j++ {
					blk[j] = d * float32(int(b[o+2+j]&15)-8)
					blk[16+j] = d * float32(int(b[o+2+j]>>4)-8)
				}
				v = append(v, blk[:]...)
			}
		default:
			if v, err = gguf.Float32s(ti.Type, b); err != nil {
				t.Fatal(fmt.Errorf("%s: %w", ti.Name, err))
			}
		}
		w.AddTensor(ti.Name, gguf.F32, ti.Shape, gguf.F32Bytes(v))
	}
	out := filepath.Join(t.TempDir(), "dequantized.gguf")
	if err := w.WriteFile(out); err != nil {
		t.Fatal(err)
	}
	return out
}

// By default (DenseFrom 0: 256 tokens) a sequence of 300 tokens takes the F16
// copies and one of 100 tokens ggml's quantized kernels: the default learner's
// log-probs equal the forced paths' bit for bit.
func TestDenseDefaultThreshold(t *testing.T) {
	q := filepath.Join(t.TempDir(), "q8_0.gguf")
	if err := llama.Quantize(tinyModel(t, tinyOpts("llama")), q, "q8_0", 1); err != nil {
		t.Fatal(err)
	}
	learner := func(denseFrom int) *learn.Learner {
		cfg := loraConfig()
		cfg.DenseFrom, cfg.MaxSeqLen = denseFrom, 512
		return newLearner(t, q, cfg)
	}
	def, dense, native := learner(0), learner(1), learner(1<<30)
	rng := rand.New(rand.NewPCG(3, 3))
	for _, c := range []struct {
		n    int
		same *learn.Learner
		name string
	}{{300, dense, "the F16 copies"}, {100, native, "the quantized kernels"}} {
		seq := []model.TrainSeq{randSeq(rng, def.VocabSize(), c.n, 1, 1, 1)}
		got, want := trainerLogProbs(t, def, seq), trainerLogProbs(t, c.same, seq)
		other := trainerLogProbs(t, map[*learn.Learner]*learn.Learner{dense: native, native: dense}[c.same], seq)
		if d := maxDiff(seq, got, want); d != 0 {
			t.Errorf("%d tokens: default log-probs differ from %s' by %.2g", c.n, c.name, d)
		}
		if d := maxDiff(seq, want, other); d < 1e-4 {
			t.Errorf("%d tokens: the two paths agree to %.2g: the test cannot tell them apart", c.n, d)
		}
	}
}
