package gguf

import (
	"fmt"
	"io"
)

// MergeLoRA writes base with a LoRA adapter folded in:
// W' = W + (alpha/r)·B·A for every W the adapter has lora_a/lora_b for, each
// tensor kept in its base type (f32 or f16). Quantized bases are refused:
// folding into them would need re-quantization.
func MergeLoRA(basePath, adapterPath, outPath string) error {
	base, err := Open(basePath)
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	for _, t := range base.Tensors {
		if t.Type != F32 && t.Type != F16 {
			return fmt.Errorf("merge: %s has quantized tensors (%s is %s); merging needs an f32/f16 base (export the adapter alone and serve it with --lora)", basePath, t.Name, t.Type)
		}
	}
	ad, err := Open(adapterPath)
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	if v, _ := ad.Get("general.type"); v != "adapter" {
		return fmt.Errorf("merge: %s is not a LoRA adapter (general.type = %v)", adapterPath, v)
	}
	ba, _ := base.Get("general.architecture")
	if aa, _ := ad.Get("general.architecture"); aa != ba {
		return fmt.Errorf("merge: adapter architecture %v, base %v", aa, ba)
	}
	alphaV, ok := ad.Get("adapter.lora.alpha")
	alpha, isF := alphaV.(float32)
	if !ok || !isF {
		return fmt.Errorf("merge: %s has no f32 adapter.lora.alpha", adapterPath)
	}
	used := 0
	w := NewWriter()
	for _, kv := range base.KV {
		w.Set(kv.Key, kv.Value)
	}
	for _, t := range base.Tensors {
		t := t
		ai, hasA := ad.Tensor(t.Name + ".lora_a")
		bi, hasB := ad.Tensor(t.Name + ".lora_b")
		if hasA != hasB {
			return fmt.Errorf("merge: %s has only one of lora_a/lora_b for %s", adapterPath, t.Name)
		}
		if !hasA {
			w.AddTensorFunc(t.Name, t.Type, t.Shape, func(out io.Writer) error { return copyTensor(base, t.Name, out) })
			continue
		}
		// W is [n_in, n_out] in ggml order (row o holds n_in values), A is [n_in, r], B is [r, n_out].
		if len(t.Shape) != 2 || len(ai.Shape) != 2 || len(bi.Shape) != 2 ||
			ai.Shape[0] != t.Shape[0] || bi.Shape[1] != t.Shape[1] || ai.Shape[1] != bi.Shape[0] {
			return fmt.Errorf("merge: %s: shapes W %v, A %v, B %v do not fit", t.Name, t.Shape, ai.Shape, bi.Shape)
		}
		used++
		scale := alpha / float32(ai.Shape[1])
		w.AddTensorFunc(t.Name, t.Type, t.Shape, func(out io.Writer) error {
			return mergeTensor(base, ad, t, ai, bi, scale, out)
		})
	}
	if used == 0 {
		return fmt.Errorf("merge: no tensor of %s matches the adapter %s", basePath, adapterPath)
	}
	if err := w.WriteFile(outPath); err != nil { // atomic: temp file + rename
		return fmt.Errorf("merge: %w", err)
	}
	return nil
}

func copyTensor(g *File, name string, out io.Writer) error {
	b, err := g.ReadTensor(name)
	if err != nil {
		return err
	}
	_, err = out.Write(b)
	return err
}

func readF32(g *File, t TensorInfo) ([]float32, error) {
	b, err := g.ReadTensor(t.Name)
	if err != nil {
		return nil, err
	}
	return Float32s(t.Type, b)
}

// mergeTensor writes W + scale·B·A: W'[o][i] = W[o][i] + scale·Σ_j B[o][j]·A[j][i].
func mergeTensor(base, ad *File, t, ai, bi TensorInfo, scale float32, out io.Writer) error {
	W, err := readF32(base, t)
	if err != nil {
		return err
	}
	A, err := readF32(ad, ai)
	if err != nil {
		return err
	}
	B, err := readF32(ad, bi)
	if err != nil {
		return err
	}
	nIn, nOut, r := int(t.Shape[0]), int(t.Shape[1]), int(ai.Shape[1])
	for o := 0; o < nOut; o++ {
		row := W[o*nIn : (o+1)*nIn]
		for j := 0; j < r; j++ {
			c := scale * B[o*r+j]
			if c == 0 {
				continue
			}
			a := A[j*nIn : (j+1)*nIn]
			for i := range row {
				row[i] += c * a[i]
			}
		}
	}
	var data []byte
	if t.Type == F16 {
		data = F16Bytes(W)
	} else {
		data = F32Bytes(W)
	}
	_, err = out.Write(data)
	return err
}
