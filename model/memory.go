package model

import "runtime"

// Shape is what the learner's memory depends on in a model file (gguf.ReadShape).
type Shape struct {
	Layers, Embd, Heads, KVHeads, HeadDim, FF, Vocab int
	Weights                                          int64 // tensor bytes
	Matrices                                         int64 // of those, the F32/F16 2-D matrices the learner transposes
	Quantized                                        bool
	Narrow                                           bool // some 2-D matrix is not F32 (F16, BF16 or quantized)
}

// LearnerMemory is what cgo/learn allocates for a step beyond the model's
// weights, by term, in bytes. It is the memory plan's training terms and is
// tested against the learner's measured working set (cgo/learn's
// TestWorkingSetMatchesEstimate): a change to how the learner allocates
// changes this too.
type LearnerMemory struct {
	Hidden      int64 // recompute: every layer's saved input, and the output
	Attention   int64 // scores, probabilities and their gradients, and the mask
	Activations int64 // the other per-token activations: one layer's (recompute) or every layer's
	Logits      int64 // the output head's logits, softmax and gradients: in chunks (recompute) or every target's
	Transposes  int64 // Wᵀ for backward's mul_mats (transpose.cpp)
	KeptMLP     int64 // recompute, LoRA: MLP inputs kept within optim.keep_mlp_mb
	Dense       int64 // LoRA over a quantized base: the F16 copies its matrices are multiplied through
	Trainable   int64 // the trained weights with their AdamW moments, gradient and graph copy
}

// WorkingSet is the memory a step needs besides the trained weights.
func (m LearnerMemory) WorkingSet() int64 {
	return m.Hidden + m.Attention + m.Activations + m.Logits + m.Transposes + m.KeptMLP + m.Dense
}

// EstimateLearnerMemory is the learner's memory for micro-batches of at most
// tokens tokens, in sequences padded to seqLen (S = tokens/seqLen of them):
// its attention, S·T² per head, is then at most tokens·seqLen.
func EstimateLearnerMemory(s Shape, l LoRA, o Optim, tokens, seqLen int) LearnerMemory {
	const f32 = 4
	n, T := int64(tokens), int64(seqLen)
	S := n / T
	E, F, L, H, V := int64(s.Embd), int64(s.FF), int64(s.Layers), int64(s.Heads), int64(s.Vocab)
	var m LearnerMemory
	// LoRA over a quantized base multiplies F16 copies of its matrices
	// (graph.cpp's rewrite_mul_mats), each freed after its one use: the largest
	// alive, the output head's too where all its targets are in one graph.
	if s.Quantized && !l.FullWeights {
		m.Dense = max(E*F, E*H*int64(s.HeadDim)) * 2
		if !o.Recompute {
			m.Dense = max(m.Dense, V*E*2)
		}
	}
	if o.Recompute {
		// Measured on the qwen2.5-0.5b shape (make bench-real's student, 1–5
		// sequences of 400–800 tokens): about 2.5 [T, T] tensors per head
		// (scores, probabilities and their gradients, not all alive at once)
		// plus the mask, and 2E+6F floats of one layer's activations per token.
		// Backward multiplies by transposes: BF16 on x86 unless the weights are
		// F32, one layer's at a time and the output head's, kept.
		m.Hidden = (L + 1) * E * n * f32
		m.Attention = (5*H/2 + 1) * S * T * T * f32
		m.Activations = n * (2*E + 6*F) * f32
		layerWeights := E*(2*H*int64(s.HeadDim)+2*int64(s.KVHeads*s.HeadDim)) + 3*E*F
		tb := int64(f32)
		if s.Narrow && runtime.GOARCH == "amd64" {
			tb = 2
		}
		m.Transposes = (layerWeights + V*E) * tb
		if !l.FullWeights { // the top layers' gate and up inputs that fit
			m.KeptMLP = min(o.KeepMLPBytes(), L*n*2*F*f32)
		}
		m.Logits = 4 * (16 << 20) // a chunk's logits near 16 MiB, with softmax and gradients
	} else {
		m.Attention = L*4*H*S*T*T*f32 + S*T*T*f32
		m.Activations = L * n * (8*E + 6*F) * f32
		m.Logits = n * V * f32 * 3
		if !s.Quantized {
			m.Transposes = s.Matrices // the kept transposed copy of the base
		}
	}
	m.Trainable = int64(l.Rank) * L * int64(len(l.Targets)) * (E + max(E, F)) * f32 * 5 // values, Adam moments, gradient, graph copy
	if l.FullWeights {
		m.Trainable = s.Weights / 2 * f32 * 5 // every weight as F32 (f16 files), moments, gradient, copy
	}
	return m
}
