// Package learn is the student's training graph on ggml: it trains a LoRA
// adapter (or every weight of a tiny model) of a llama-family GGUF model with
// the per-token weighted log-likelihood loss, w_t being the trainer's token
// weights (trainer/atod), plus, where the trainer gives one, the top-k
// distillation term with weights d_t (model.TrainSeq):
//
//	L(θ) = −(1/N) Σ_t w_t · log π_θ(y_t) + (1/N) Σ_t d_t · KL_t
//
// over the masked-in tokens of all micro-batches of a step (N of them). The
// forward and backward passes run in ggml (see graph.cpp); global-norm clipping
// and AdamW run in Go over host copies of the parameters (optim.go).
package learn

/*
#cgo CXXFLAGS: -std=c++17
#include <stdlib.h>
#include "train.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"unsafe"

	"github.com/atod-dev/atod/cgo/llama"
	"github.com/atod-dev/atod/model"
)

// Config of a Learner: the run config's [lora] and [optim], which the trainer
// fills from its config file (whose defaults are the only ones), and the rest of
// what the learner needs to know.
type Config struct {
	model.LoRA
	model.Optim
	Seed       uint64
	Backend    string // "" or one of model.Backends
	GPULayers  int
	Threads    int // 0 = NumCPU
	TotalSteps int // the learning rate's cosine decay ends here
	MaxSeqLen  int
	HeadChunk  int   // targets per chunk of the recomputed output head; 0 = logits near 16 MiB a chunk
	keepBytes  int64 // tests (export_test.go): KeepMLPMB in bytes, finer than a tiny model's MiB
	// DenseFrom (CPU): a frozen quantized matrix's mul_mat over at least this
	// many tokens multiplies a copy of it dequantized to F16 in that graph,
	// faster than ggml's quantized kernels; 0 = 256.
	DenseFrom int
	// Over, when set, is the sampler's loaded model (loaded with NoRepack) to
	// train over instead of loading the file again: one copy of the base. LoRA
	// only; the model must outlive the learner.
	Over *llama.Model
}

// registry names of the GPU backends, as C strings for the lifetime of the program
var cstrCUDA, cstrMetal = C.CString("CUDA"), C.CString("Metal")

type param struct {
	name       string
	ne         [2]int64
	data, m, v []float32
	grad       []float32
	decay      bool // weight decay on matrices only, not on norms and biases
}

// Learner holds the model, the trainable parameters and the AdamW state.
// It implements model.Learner and is not safe for concurrent use.
type Learner struct {
	c      *C.struct_atod_trainer
	cfg    Config
	vocab  int
	params []*param
	byName map[string]*param
	step   int
	onMB   func(done, n int)
}

// OnMicroBatch has Step call f after each micro-batch's forward and backward.
func (t *Learner) OnMicroBatch(f func(done, n int)) { t.onMB = f }

func (c *Config) validate() error {
	if c.FullWeights {
		if c.Rank != 0 || len(c.Targets) != 0 {
			return errors.New("FullWeights takes no Rank or Targets")
		}
	} else {
		if c.Rank <= 0 {
			return fmt.Errorf("rank %d: must be > 0", c.Rank)
		}
		if len(c.Targets) == 0 {
			return errors.New("no LoRA targets")
		}
		if err := model.CheckTargets(c.Targets); err != nil {
			return fmt.Errorf("LoRA target %w", err)
		}
	}
	if c.Backend != "" {
		if err := model.CheckBackend(c.Backend); err != nil {
			return fmt.Errorf("backend %w", err)
		}
	}
	switch {
	case !(c.LR >= 0) || !(c.Beta1 >= 0 && c.Beta1 < 1) || !(c.Beta2 >= 0 && c.Beta2 < 1) || !(c.Eps > 0):
		return fmt.Errorf("optimizer: lr %g beta1 %g beta2 %g eps %g out of range", c.LR, c.Beta1, c.Beta2, c.Eps)
	case !(c.WeightDecay >= 0) || !(c.ClipNorm >= 0) || !(c.MinLRRatio >= 0 && c.MinLRRatio <= 1):
		return fmt.Errorf("optimizer: weight decay %g clip %g min lr ratio %g out of range", c.WeightDecay, c.ClipNorm, c.MinLRRatio)
	case c.Warmup < 0 || c.TotalSteps < 0 || c.Threads < 0:
		return errors.New("negative warmup steps, total steps or threads")
	case c.MaxSeqLen <= 1:
		return fmt.Errorf("MaxSeqLen %d: must be > 1", c.MaxSeqLen)
	}
	return nil
}

// params is the C learner's view of c; model_path is the caller's.
func (c *Config) params() (C.struct_atod_train_params, error) {
	threads := c.Threads
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	var bits uint32
	for _, s := range c.Targets {
		bits |= 1 << slices.Index(model.LoRATargets, s)
	}
	p := C.struct_atod_train_params{
		n_threads:    C.int32_t(threads),
		n_gpu_layers: C.int32_t(c.GPULayers),
		lora_rank:    C.int32_t(c.Rank),
		lora_alpha:   C.float(c.Alpha),
		lora_targets: C.uint32_t(bits),
		head_chunk:   C.int32_t(c.HeadChunk),
		keep_mlp:     C.int64_t(max(c.KeepMLPBytes(), c.keepBytes)),
		dense_from:   C.int32_t(c.DenseFrom),
	}
	if p.n_gpu_layers < 0 {
		p.n_gpu_layers = math.MaxInt32
	}
	if c.Over != nil {
		if c.FullWeights {
			return p, errors.New("FullWeights trains its own copy of the model, not a shared one")
		}
		p.model = c.Over.Handle()
	}
	if !c.Recompute { // the whole-graph backward would transpose every weight at once: keep them
		p.keep_transposed = 1
	}
	if c.FullWeights {
		p.full_weights = 1
	}
	switch c.Backend {
	case "", "auto":
		p.use_gpu = 1
	case "cuda":
		p.use_gpu, p.gpu_reg = 2, cstrCUDA
	case "metal":
		p.use_gpu, p.gpu_reg = 2, cstrMetal
	}
	return p, nil
}

// New loads the base model at modelPath and creates the trainable parameters:
// LoRA A ~ U(−1/√n_in, 1/√n_in) drawn from Seed and B = 0 (so the adapter starts
// as the identity), or F32 copies of every weight with FullWeights.
func New(modelPath string, cfg Config) (*Learner, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("train config: %w", err)
	}
	p, err := cfg.params()
	if err != nil {
		return nil, fmt.Errorf("train config: %w", err)
	}
	llama.Setup()
	if _, err := llama.CheckGGUF(modelPath, false); err != nil {
		return nil, fmt.Errorf("train: load %s: %w", modelPath, err)
	}
	cpath := C.CString(modelPath)
	defer C.free(unsafe.Pointer(cpath))
	p.model_path = cpath
	var errBuf [512]C.char
	c := C.atod_train_init(&p, &errBuf[0], C.size_t(len(errBuf)))
	if c == nil {
		return nil, fmt.Errorf("train: load %s: %s", modelPath, C.GoString(&errBuf[0]))
	}
	t := &Learner{c: c, cfg: cfg, vocab: int(C.atod_train_n_vocab(c)), byName: map[string]*param{}}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x61746f64)) // "atod"
	for i := 0; i < int(C.atod_train_n_params(c)); i++ {
		q := &param{name: C.GoString(C.atod_train_param_name(c, C.int32_t(i)))}
		q.ne = [2]int64{int64(C.atod_train_param_ne(c, C.int32_t(i), 0)), int64(C.atod_train_param_ne(c, C.int32_t(i), 1))}
		n := int(q.ne[0] * q.ne[1])
		q.data, q.m, q.v, q.grad = make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		q.decay = q.ne[1] > 1
		switch {
		case cfg.FullWeights:
			C.atod_train_param_get(c, C.int32_t(i), (*C.float)(&q.data[0]))
		case isLoRAA(q.name):
			bound := 1 / math.Sqrt(float64(q.ne[0]))
			for j := range q.data {
				q.data[j] = float32((2*rng.Float64() - 1) * bound)
			}
			C.atod_train_param_set(c, C.int32_t(i), (*C.float)(&q.data[0]))
		}
		t.params = append(t.params, q)
		t.byName[q.name] = q
	}
	return t, nil
}

func isLoRAA(name string) bool { return len(name) > 7 && name[len(name)-7:] == ".lora_a" }

// Close frees the model and all native memory.
func (t *Learner) Close() {
	if t.c != nil {
		C.atod_train_free(t.c)
		t.c = nil
	}
}

// VocabSize of the base model.
func (t *Learner) VocabSize() int { return t.vocab }

// Arch is the base model's general.architecture.
func (t *Learner) Arch() string { return C.GoString(C.atod_train_arch(t.c)) }

// Backend names the ggml backend the graph runs on first ("CPU", "CUDA0", ...).
func (t *Learner) Backend() string { return C.GoString(C.atod_train_backend(t.c)) }

// StepCount is the number of optimizer steps taken so far.
func (t *Learner) StepCount() int { return t.step }

// validSeqs checks a micro-batch before it reaches C and counts its targets.
func (t *Learner) validSeqs(seqs []model.TrainSeq, needWeights bool) (int, error) {
	if len(seqs) == 0 {
		return 0, errors.New("empty micro-batch")
	}
	n := 0
	for i, s := range seqs {
		switch {
		case len(s.Tokens) == 0:
			return 0, fmt.Errorf("seq %d: no tokens", i)
		case len(s.Tokens) > t.cfg.MaxSeqLen:
			return 0, fmt.Errorf("seq %d: %d tokens > MaxSeqLen %d", i, len(s.Tokens), t.cfg.MaxSeqLen)
		case len(s.Mask) != len(s.Tokens):
			return 0, fmt.Errorf("seq %d: %d mask entries for %d tokens", i, len(s.Mask), len(s.Tokens))
		case (needWeights || s.Weights != nil) && len(s.Weights) != len(s.Tokens):
			return 0, fmt.Errorf("seq %d: %d weights for %d tokens", i, len(s.Weights), len(s.Tokens))
		case s.Mask[0]:
			return 0, fmt.Errorf("seq %d: Mask[0] is true (the first token has no context)", i)
		case s.Distill != nil && len(s.Distill) != len(s.Tokens) || s.TopK != nil && len(s.TopK) != len(s.Tokens):
			return 0, fmt.Errorf("seq %d: %d distillation weights and %d top-k lists for %d tokens", i, len(s.Distill), len(s.TopK), len(s.Tokens))
		}
		if err := t.validTopK(s); err != nil {
			return 0, fmt.Errorf("seq %d %w", i, err)
		}
		for j, tok := range s.Tokens {
			if tok < 0 || int(tok) >= t.vocab {
				return 0, fmt.Errorf("seq %d token %d: id %d outside vocabulary of %d", i, j, tok, t.vocab)
			}
			if s.Mask[j] {
				n++
				if s.Weights != nil && (math.IsNaN(float64(s.Weights[j])) || math.IsInf(float64(s.Weights[j]), 0)) {
					return 0, fmt.Errorf("seq %d token %d: weight %g", i, j, s.Weights[j])
				}
			}
		}
	}
	return n, nil
}

// validTopK checks s's distillation term: lists only at targets, a weight
// only with a list, tokens in the vocabulary and distinct, probabilities that
// sum to at most 1.
func (t *Learner) validTopK(s model.TrainSeq) error {
	for j := range s.Tokens {
		var d float32
		if s.Distill != nil {
			d = s.Distill[j]
		}
		var list []model.TokenLogProb
		if s.TopK != nil {
			list = s.TopK[j]
		}
		switch {
		case math.IsNaN(float64(d)) || math.IsInf(float64(d), 0):
			return fmt.Errorf("token %d: distillation weight %g", j, d)
		case d != 0 && len(list) == 0:
			return fmt.Errorf("token %d: distillation weight %g without a top-k list", j, d)
		case len(list) > 0 && !s.Mask[j]:
			return fmt.Errorf("token %d: a top-k list on a token that is no target", j)
		}
		var sum float64
		for a, v := range list {
			if v.Token < 0 || int(v.Token) >= t.vocab {
				return fmt.Errorf("token %d: top-k token %d outside vocabulary of %d", j, v.Token, t.vocab)
			}
			if math.IsNaN(float64(v.LogProb)) || v.LogProb > 1e-3 {
				return fmt.Errorf("token %d: top-k log-prob %g of token %d", j, v.LogProb, v.Token)
			}
			for _, w := range list[:a] {
				if w.Token == v.Token {
					return fmt.Errorf("token %d: token %d twice in its top-k list", j, v.Token)
				}
			}
			sum += math.Exp(float64(v.LogProb))
		}
		if sum > 1+1e-3 {
			return fmt.Errorf("token %d: top-k probabilities sum to %g > 1", j, sum)
		}
	}
	return nil
}

// evalOut is one micro-batch's log-probs and top-k KLs (per sequence and token,
// as TrainStats has them) and loss.
type evalOut struct {
	logp, kl [][]float32
	loss     float64
}

// eval runs one micro-batch: log-probs of its targets, the distillation term's
// KLs where it has top-k lists, and the loss scale·Σ (w·log π − d·KL); with
// backward, gradients are accumulated.
//
// The graph computes soft_j = Σ_v p_v·log π(v) + p_tail·log π(tail) (graph.cpp);
// KL_j = −soft_j − H_j, with H_j = −Σ_v p_v·log p_v − p_tail·log p_tail the
// teacher's entropy over the buckets, a constant computed here. So the graph's
// loss, scale·Σ (w·log π + d·soft), is the loss minus scale·Σ d·H.
func (t *Learner) eval(seqs []model.TrainSeq, scale float32, backward bool) (evalOut, error) {
	out := evalOut{logp: make([][]float32, len(seqs))}
	nTok, k := 0, 0
	for i, s := range seqs {
		out.logp[i] = make([]float32, len(s.Tokens))
		nTok = max(nTok, len(s.Tokens))
		for _, l := range s.TopK {
			k = max(k, len(l))
		}
	}
	if k > 0 {
		out.kl = make([][]float32, len(seqs))
		for i, s := range seqs {
			out.kl[i] = make([]float32, len(s.Tokens))
		}
	}
	// padded to a multiple of 16, so that products contracting over the sequence
	// can use the CPU's sgemm kernels (AVX-512 needs the inner dimension % 16 == 0)
	nTok = (nTok + 15) &^ 15
	tokens := make([]int32, nTok*len(seqs))
	lens := make([]int32, len(seqs))
	var pos []int32
	var w []float32
	// the distillation term: k tokens and probabilities per target, padded with
	// probability 0; its weight; the teacher's entropy H over the buckets
	var tkID []int32
	var tkP, tkW []float32
	var h []float64
	for i, s := range seqs {
		copy(tokens[i*nTok:], s.Tokens)
		lens[i] = int32(len(s.Tokens))
		for j, m := range s.Mask {
			if !m {
				continue
			}
			pos = append(pos, int32(i*nTok+j))
			if s.Weights != nil {
				w = append(w, s.Weights[j])
			} else {
				w = append(w, 0)
			}
			if k == 0 {
				continue
			}
			var list []model.TokenLogProb
			if s.TopK != nil {
				list = s.TopK[j]
			}
			var d float32
			if s.Distill != nil {
				d = s.Distill[j]
			}
			tkW = append(tkW, d)
			var ent, listed float64
			for a := range k {
				if a >= len(list) {
					tkID, tkP = append(tkID, 0), append(tkP, 0)
					continue
				}
				p := float32(math.Exp(float64(list[a].LogProb)))
				tkID, tkP = append(tkID, list[a].Token), append(tkP, p)
				listed += float64(p)
				ent -= xlogx(float64(p))
			}
			h = append(h, ent-xlogx(math.Max(0, 1-float64(float32(listed)))))
		}
	}
	if len(pos) == 0 {
		return out, nil
	}
	if int64(len(pos))*int64(t.vocab) > math.MaxInt32 {
		// the graph picks log π(y_j) out of a flattened [vocab × targets] tensor with int32 indices
		return evalOut{}, fmt.Errorf("%d targets × vocabulary %d is too large for one micro-batch: split it", len(pos), t.vocab)
	}
	logp := make([]float32, len(pos))
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&tokens[0])
	pin.Pin(&lens[0])
	pin.Pin(&pos[0])
	pin.Pin(&w[0])
	b := C.struct_atod_batch{
		n_seq: C.int32_t(len(seqs)), n_tok: C.int32_t(nTok),
		tokens: (*C.int32_t)(&tokens[0]), lens: (*C.int32_t)(&lens[0]),
		n_tgt: C.int32_t(len(pos)), tgt_pos: (*C.int32_t)(&pos[0]), tgt_w: (*C.float)(&w[0]),
		loss_scale: C.float(scale),
	}
	var soft []float32
	var softPtr *C.float
	if k > 0 {
		soft = make([]float32, len(pos))
		softPtr = (*C.float)(&soft[0])
		pin.Pin(&tkID[0])
		pin.Pin(&tkP[0])
		pin.Pin(&tkW[0])
		b.topk, b.tk_id, b.tk_p, b.tk_w = C.int32_t(k), (*C.int32_t)(&tkID[0]), (*C.float)(&tkP[0]), (*C.float)(&tkW[0])
	}
	var loss C.double
	var errBuf [256]C.char
	bw := C.int(0) // graph.cpp: 0 forward, 1 backward over the whole graph, 2 layer by layer
	switch {
	case backward && t.cfg.Recompute:
		bw = 2
	case backward:
		bw = 1
	}
	if C.atod_train_eval(t.c, &b, bw, (*C.float)(&logp[0]), softPtr, &loss, &errBuf[0], C.size_t(len(errBuf))) != 0 {
		return evalOut{}, fmt.Errorf("train eval: %s", C.GoString(&errBuf[0]))
	}
	out.loss = float64(loss)
	for n, p := range pos {
		i, j := int(p)/nTok, int(p)%nTok
		out.logp[i][j] = logp[n]
		if k > 0 && seqs[i].TopK != nil && len(seqs[i].TopK[j]) > 0 {
			out.kl[i][j] = float32(-float64(soft[n]) - h[n])
		}
		if k > 0 {
			out.loss += float64(scale) * float64(tkW[n]) * h[n]
		}
	}
	return out, nil
}

// xlogx is x·log x, 0 at 0.
func xlogx(x float64) float64 {
	if x <= 0 {
		return 0
	}
	return x * math.Log(x)
}

// LogProbs runs the forward pass only: log π(token i) where Mask, 0 elsewhere.
// Weights may be nil.
func (t *Learner) LogProbs(seqs []model.TrainSeq) ([][]float32, error) {
	if _, err := t.validSeqs(seqs, false); err != nil {
		return nil, fmt.Errorf("train logprobs: %w", err)
	}
	o, err := t.eval(seqs, 0, false)
	return o.logp, err
}

// accumulate zeroes the gradients and runs forward+backward over every
// micro-batch, leaving the step's gradient in the native accumulators.
func (t *Learner) accumulate(micro [][]model.TrainSeq) (model.TrainStats, error) {
	var st model.TrainStats
	if len(micro) == 0 {
		return st, errors.New("no micro-batches")
	}
	for i, mb := range micro {
		n, err := t.validSeqs(mb, true)
		if err != nil {
			return st, fmt.Errorf("micro-batch %d: %w", i, err)
		}
		st.Tokens += n
	}
	if st.Tokens == 0 {
		return st, errors.New("no masked-in tokens in the step")
	}
	C.atod_train_grad_zero(t.c)
	var loss float64
	distill := false
	for i, mb := range micro {
		o, err := t.eval(mb, -1/float32(st.Tokens), true)
		if err != nil {
			return st, err
		}
		loss += o.loss
		st.LogProbs = append(st.LogProbs, o.logp...)
		if o.kl != nil {
			distill = true
		} else {
			o.kl = make([][]float32, len(mb))
			for j, s := range mb {
				o.kl[j] = make([]float32, len(s.Tokens))
			}
		}
		st.DistillKL = append(st.DistillKL, o.kl...)
		if t.onMB != nil {
			t.onMB(i+1, len(micro))
		}
	}
	st.Loss = float32(loss)
	if !distill {
		st.DistillKL = nil
	}
	for i, q := range t.params {
		C.atod_train_grad_get(t.c, C.int32_t(i), (*C.float)(&q.grad[0]))
	}
	return st, nil
}

// Step takes one optimizer step with gradients accumulated over the micro-batches.
func (t *Learner) Step(micro [][]model.TrainSeq) (model.TrainStats, error) {
	st, err := t.accumulate(micro)
	if err != nil {
		return model.TrainStats{}, fmt.Errorf("train step %d: %w", t.step+1, err)
	}
	st.GradNorm = float32(t.gradNorm())
	st.LR = t.cfg.lrAt(t.step + 1)
	if !finite(float64(st.Loss)) || !finite(float64(st.GradNorm)) {
		st.Skipped = true
		st.Step = t.step
		return st, nil
	}
	t.step++
	t.update(st.LR, st.GradNorm)
	st.Step = t.step
	return st, nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
