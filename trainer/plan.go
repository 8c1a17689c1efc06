package trainer

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/atod-dev/atod/gguf"
	"github.com/atod-dev/atod/trainer/scoring"
)

// shape is what the memory plan needs of a model file.
type shape struct {
	layers, embd, heads, kvHeads, headDim, ff, vocab int
	weights, matrices                                int64 // tensor bytes; of those, the F32/F16 2-D matrices the learner transposes
	quantized                                        bool
	narrow                                           bool // some 2-D matrix is not F32 (F16, BF16 or quantized)
}

func readShape(path string) (shape, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return shape{}, err
	}
	u := func(key string) int {
		v, _ := f.Get(key)
		switch x := v.(type) {
		case uint32:
			return int(x)
		case int32:
			return int(x)
		case uint64:
			return int(x)
		}
		return 0
	}
	a, _ := f.Get("general.architecture")
	arch, _ := a.(string)
	s := shape{layers: u(arch + ".block_count"), embd: u(arch + ".embedding_length"), heads: u(arch + ".attention.head_count"),
		kvHeads: u(arch + ".attention.head_count_kv"), headDim: u(arch + ".attention.key_length"), ff: u(arch + ".feed_forward_length")}
	if toks, ok := f.Get("tokenizer.ggml.tokens"); ok {
		if t, ok := toks.([]string); ok {
			s.vocab = len(t)
		}
	}
	if s.kvHeads == 0 {
		s.kvHeads = s.heads
	}
	if s.headDim == 0 && s.heads > 0 {
		s.headDim = s.embd / s.heads
	}
	if s.layers == 0 || s.embd == 0 || s.heads == 0 || s.vocab == 0 {
		return s, fmt.Errorf("%s: no llama-family shape (%s.block_count, embedding_length, head_count, tokens)", path, arch)
	}
	for _, t := range f.Tensors {
		s.weights += int64(t.Size)
		s.quantized = s.quantized || t.Type.Quantized()
		s.narrow = s.narrow || len(t.Shape) == 2 && t.Type != gguf.F32
		if len(t.Shape) == 2 && !t.Type.Quantized() && (t.Name != "token_embd.weight" || !hasTensor(f, "output.weight")) {
			s.matrices += int64(t.Size)
		}
	}
	return s, nil
}

func hasTensor(f *gguf.File, name string) bool { _, ok := f.Tensor(name); return ok }

// SharesBase says whether the learner trains over the student's loaded weights
// (one copy of the base), in LoRA mode, as backend.share_base says. Sharing
// costs an unquantized student nothing; a quantized one's sampler then runs
// without llama.cpp's repacked CPU weights (its faster quantized matmuls), so
// auto shares a quantized base only where the run would not fit the available
// memory with a second copy. An unreadable student file says no; loading it
// reports why.
func (c *Config) SharesBase() bool {
	if c.LoRA.FullWeights || c.Backend.ShareBase == "no" {
		return false
	}
	st, err := readShape(c.Student.Model)
	if err != nil {
		return false
	}
	if c.Backend.ShareBase == "yes" || !st.quantized {
		return true
	}
	p, err := c.plan(false)
	return err == nil && p.Available > 0 && p.Total > p.Available
}

// PlanItem is one component of the memory plan.
type PlanItem struct {
	Name  string
	Bytes int64
	Why   string
}

// Plan is the memory a run is expected to need on the CPU, by component.
type Plan struct {
	Items     []PlanItem
	Total     int64
	Available int64  // MemAvailable of the machine; 0 where unknown
	Teacher   string // where a remote teacher runs and what it serves ("" = local)
}

// MemoryPlan estimates a run's peak memory from its config and the models'
// headers, before anything is loaded. A remote teacher counts nothing here;
// the plan names its server and the model it serves.
func (c *Config) MemoryPlan() (*Plan, error) {
	p, err := c.plan(c.SharesBase())
	if err != nil || c.Teacher.URL == "" {
		return p, err
	}
	p.Teacher = "remote at " + c.Teacher.URL + ": "
	probe := c.TeacherClient(1)
	probe.Retries = 0 // a plan only tells; the run retries
	if cl, err := scoring.Dial(probe); err != nil {
		p.Teacher += fmt.Sprintf("not answering (%v)", err)
	} else {
		p.Teacher += "serves " + cl.Model()
		cl.Close()
	}
	return p, nil
}

// plan is MemoryPlan with the learner's base shared or not.
func (c *Config) plan(shared bool) (*Plan, error) {
	st, err := readShape(c.Student.Model)
	if err != nil {
		return nil, fmt.Errorf("plan: student: %w", err)
	}
	var tt shape // a remote teacher's memory is its server's
	if c.Teacher.URL == "" {
		if tt, err = readShape(c.Teacher.Model); err != nil {
			return nil, fmt.Errorf("plan: teacher: %w", err)
		}
	}
	nseq := int64(c.Rollout.TasksPerStep * c.Rollout.GroupSize)
	// Each sequence has a KV stream of its own, which llama.cpp rounds up to a multiple of 256 cells.
	cells := (int64(c.Rollout.Context) + 255) / 256 * 256 * nseq
	const f32, ubatch = 4, 512
	kvBytes, kvType := int64(f32), "f32"
	if c.Backend.KVF16 {
		kvBytes, kvType = 2, "f16"
	}
	kv := func(s shape) int64 { return cells * int64(s.layers) * 2 * int64(s.kvHeads*s.headDim) * kvBytes }
	// llama.cpp's compute buffer as batches touch it: the logits and
	// activations of a full batch. It also reserves attention scores over one
	// KV stream for a full batch, but rollouts' batches touch little of that
	// (make bench-real, when the cache was one unified stream: the plan was
	// 11–13 % above the measured peak without it, 35–41 % with it).
	compute := func(s shape) int64 {
		return ubatch*int64(s.vocab)*f32 + ubatch*int64(4*s.embd+3*s.ff)*f32
	}
	// The learner's micro-batch: at most optim.micro_tokens, or one sequence of
	// rollout.context; S sequences padded to T ≤ context tokens with S·T ≤ n, so
	// its attention, S·T² per head, is at most n·T (sequences of a whole context).
	n := int64(max(c.Optim.MicroTokens, c.Rollout.Context))
	T := int64(c.Rollout.Context)
	S := n / T
	E, F, L, H := int64(st.embd), int64(st.ff), int64(st.layers), int64(st.heads)
	var learner int64
	var why string
	// LoRA over a quantized base multiplies F16 copies of its matrices (cgo/learn's
	// rewrite_mul_mats), each freed after its one use: the largest alive, the
	// output head's too where all its targets are in one graph (no recompute).
	var dense int64
	if st.quantized && !c.LoRA.FullWeights {
		dense = max(E*F, E*H*int64(st.headDim)) * 2
		if !c.Optim.Recompute {
			dense = max(dense, int64(st.vocab)*E*2)
		}
	}
	if c.Optim.Recompute {
		// Measured on the qwen2.5-0.5b shape (make bench-real's student, 1–5
		// sequences of 400–800 tokens): about 2.5 [T, T] tensors per head (scores,
		// probabilities and their gradients, not all alive at once) plus the
		// mask, and 2E+6F floats of one layer's activations per token, besides
		// the saved hidden states. Backward multiplies by transposes
		// (cgo/learn/transpose.cpp): BF16 on x86 unless the weights are F32,
		// one layer's at a time and the output head's, kept.
		attention := (5*H/2 + 1) * S * T * T * f32
		activations := n * (2*E + 6*F) * f32
		layerWeights := E*(2*H*int64(st.headDim)+2*int64(st.kvHeads*st.headDim)) + 3*E*F
		tb := int64(f32)
		if st.narrow && runtime.GOARCH == "amd64" {
			tb = 2
		}
		w := (layerWeights + int64(st.vocab)*E) * tb
		// The MLP inputs kept for the top layers (gate and up) within optim.keep_mlp_mb.
		var kept int64
		if !c.LoRA.FullWeights {
			kept = min(c.Optim.KeepMLPBytes(), L*n*2*F*f32)
		}
		learner = (L+1)*E*n*f32 + attention + activations + w + kept + dense + 4*(16<<20)
		why = "saved hidden states and kept MLP inputs, one layer's activations and attention, the output head in chunks, transposed or dequantized weights"
	} else {
		attention := 4 * H * S * T * T * f32 // scores and softmax, and their gradients
		learner = L*(attention+n*(8*E+6*F)*f32) + S*T*T*f32 + n*int64(st.vocab)*f32*3 + dense
		if !st.quantized {
			learner += st.matrices // the transposed copy of the base
		}
		why = "every layer's activations and attention, every target's logits, transposed or dequantized weights"
	}
	rank := int64(c.LoRA.Rank)
	lora := rank * L * int64(len(c.LoRA.Targets)) * (E + max(E, F)) * f32 * 5 // values, Adam moments, gradient, graph copy
	if c.LoRA.FullWeights {
		lora = st.weights / 2 * f32 * 5 // every weight as F32 (f16 files), moments, gradient, copy
	}
	base, baseWhy := st.weights, "the learner maps the student's file again (backend.share_base)"
	if shared {
		base, baseWhy = 0, "the learner trains over the student's loaded weights"
	}
	teacherWhy, teacherKV, teacherCompute := c.Teacher.Model, fmt.Sprintf("%d sequences × %d tokens, %s", nseq, c.Rollout.Context, kvType), "llama.cpp's, as a full batch touches it"
	if c.Teacher.URL != "" {
		teacherWhy, teacherKV, teacherCompute = "remote: "+c.Teacher.URL, "remote", "remote"
	}
	p := &Plan{Items: []PlanItem{
		{"student weights", st.weights, c.Student.Model},
		{"teacher weights", tt.weights, teacherWhy},
		{"learner's base", base, baseWhy},
		{"student KV cache", kv(st), fmt.Sprintf("%d sequences × %d tokens, %s", nseq, c.Rollout.Context, kvType)},
		{"teacher KV cache", kv(tt), teacherKV},
		{"student compute buffer", compute(st), "llama.cpp's, as a full batch touches it"},
		{"teacher compute buffer", compute(tt), teacherCompute},
		{"training working set", learner, why},
		{"trainable weights", lora, "with AdamW state"},
		{"runtime", 300 << 20, "Go, llama.cpp and ggml, rollouts"},
	}}
	for _, it := range p.Items {
		p.Total += it.Bytes
	}
	p.Available = memAvailable()
	return p, nil
}

// memAvailable is the kernel's estimate of memory available to a new process.
func memAvailable() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb int64
		if _, err := fmt.Sscanf(sc.Text(), "MemAvailable: %d kB", &kb); err == nil {
			return kb << 10
		}
	}
	return 0
}

func gb(b int64) string { return fmt.Sprintf("%.2f GB", float64(b)/(1<<30)) }

// Write prints the plan as a table.
func (p *Plan) Write(w io.Writer) {
	fmt.Fprintln(w, "memory plan (CPU):")
	for _, it := range p.Items {
		fmt.Fprintf(w, "  %-24s %10s  %s\n", it.Name, gb(it.Bytes), it.Why)
	}
	avail := "unknown"
	if p.Available > 0 {
		avail = gb(p.Available)
	}
	fmt.Fprintf(w, "  %-24s %10s  (available: %s)\n", "total", gb(p.Total), avail)
	if p.Teacher != "" {
		fmt.Fprintf(w, "  teacher: %s (its weights and KV cache are the server's)\n", p.Teacher)
	}
}

// Fits fails, naming the keys that shrink the plan, when it exceeds the
// available memory.
func (p *Plan) Fits() error {
	if p.Available == 0 || p.Total <= p.Available {
		return nil
	}
	var b strings.Builder
	p.Write(&b)
	return fmt.Errorf("the run needs about %s and %s is available:\n%s"+
		"lower rollout.tasks_per_step × rollout.group_size or rollout.context, or set backend.kv_f16 (KV caches), "+
		"optim.micro_tokens or keep optim.recompute on (training), or use quantized models (atod model quantize)",
		gb(p.Total), gb(p.Available), b.String())
}
