package trainer

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/atod-dev/atod/gguf"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/trainer/scoring"
)

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
	st, err := gguf.ReadShape(c.Student.Model)
	if err != nil {
		return false
	}
	if c.Backend.ShareBase == "yes" || !st.Quantized {
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
	st, err := gguf.ReadShape(c.Student.Model)
	if err != nil {
		return nil, fmt.Errorf("plan: student: %w", err)
	}
	var tt model.Shape // a remote teacher's memory is its server's
	if c.Teacher.URL == "" {
		if tt, err = gguf.ReadShape(c.Teacher.Model); err != nil {
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
	kv := func(s model.Shape) int64 { return cells * int64(s.Layers) * 2 * int64(s.KVHeads*s.HeadDim) * kvBytes }
	// llama.cpp's compute buffer as batches touch it: a full batch's activations
	// and the logits of its outputs, a full batch's where the model scores (the
	// teacher; the student too for T-DUR's top-k KL), else one row a sequence
	// (sampling). It also reserves attention scores over one KV stream for a
	// full batch, but rollouts' batches touch little of that. make bench-real
	// (2026-12-06, 0.5B student, 128k vocabulary): the plan counting a full
	// batch of student logits was 18 % above the measured peak.
	compute := func(s model.Shape, outputs int64) int64 {
		return outputs*int64(s.Vocab)*f32 + ubatch*int64(4*s.Embd+3*s.FF)*f32
	}
	studentOut, studentWhy := min(nseq, ubatch), "llama.cpp's: a full batch's activations, a logits row a sequence"
	if c.ScoreTopK().KL > 0 {
		studentOut, studentWhy = ubatch, "llama.cpp's, as a full batch touches it (T-DUR's top-k KL scores the student)"
	}
	// The learner's micro-batch: at most optim.micro_tokens, or one sequence of rollout.context.
	learner := model.EstimateLearnerMemory(st, c.LoRA, c.Optim, max(c.Optim.MicroTokens, c.Rollout.Context), c.Rollout.Context)
	why := "every layer's activations and attention, every target's logits, transposed or dequantized weights"
	if c.Optim.Recompute {
		why = "saved hidden states and kept MLP inputs, one layer's activations and attention, the output head in chunks, transposed or dequantized weights"
	}
	base, baseWhy := st.Weights, "the learner maps the student's file again (backend.share_base)"
	if shared {
		base, baseWhy = 0, "the learner trains over the student's loaded weights"
	}
	teacherWhy, teacherKV, teacherCompute := c.Teacher.Model, fmt.Sprintf("%d sequences × %d tokens, %s", nseq, c.Rollout.Context, kvType), "llama.cpp's, as a full batch touches it"
	if c.Teacher.URL != "" {
		teacherWhy, teacherKV, teacherCompute = "remote: "+c.Teacher.URL, "remote", "remote"
	}
	p := &Plan{Items: []PlanItem{
		{"student weights", st.Weights, c.Student.Model},
		{"teacher weights", tt.Weights, teacherWhy},
		{"learner's base", base, baseWhy},
		{"student KV cache", kv(st), fmt.Sprintf("%d sequences × %d tokens, %s", nseq, c.Rollout.Context, kvType)},
		{"teacher KV cache", kv(tt), teacherKV},
		{"student compute buffer", compute(st, studentOut), studentWhy},
		{"teacher compute buffer", compute(tt, ubatch), teacherCompute},
		{"training working set", learner.WorkingSet(), why},
		{"trainable weights", learner.Trainable, "with AdamW state"},
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
