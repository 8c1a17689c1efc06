package trainer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atod-dev/atod/tinymodel"
)

// The plan reads the models' shapes from their headers: the weights are the
// files' tensor bytes, the KV caches hand-computed; an oversized run fails
// naming the keys to change.
func TestMemoryPlan(t *testing.T) {
	dir := t.TempDir()
	o := tinymodel.DefaultOptions() // 4 layers, 2 KV heads of 32
	s, te := filepath.Join(dir, "s.gguf"), filepath.Join(dir, "t.gguf")
	if err := tinymodel.Write(s, o); err != nil {
		t.Fatal(err)
	}
	o.Layers = 6
	if err := tinymodel.Write(te, o); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.Student.Model, c.Teacher.Model = s, te
	c.Rollout.TasksPerStep, c.Rollout.GroupSize, c.Rollout.Context = 2, 4, 1024
	p, err := c.MemoryPlan()
	if err != nil {
		t.Fatal(err)
	}
	items := map[string]int64{}
	for _, it := range p.Items {
		items[it.Name] = it.Bytes
	}
	st, _ := os.Stat(s)
	if w := items["student weights"]; w > st.Size() || w < st.Size()*9/10 {
		t.Errorf("student weights %d bytes, file %d", w, st.Size())
	}
	// 8 sequences × 1024 cells × layers × (K and V) × 2 heads × 32 × 4 bytes
	if want := int64(8*1024*4*2*2*32*4) * 3 / 2; items["teacher KV cache"] != want || items["student KV cache"] != want*2/3 {
		t.Errorf("KV caches %d and %d, want %d and %d", items["student KV cache"], items["teacher KV cache"], want*2/3, want)
	}
	c.Backend.KVF16 = true
	if h, _ := c.MemoryPlan(); h.Items[3].Bytes != items["student KV cache"]/2 {
		t.Errorf("f16 KV cache %d bytes, f32 %d", h.Items[3].Bytes, items["student KV cache"])
	}
	// a sequence's KV stream is rounded up to 256 cells, as llama.cpp allocates it
	c.Rollout.Context = 1000
	if h, _ := c.MemoryPlan(); h.Items[3].Bytes != items["student KV cache"]/2 {
		t.Errorf("f16 KV cache of 1,000-token contexts: %d bytes, want that of 1,024 tokens, %d", h.Items[3].Bytes, items["student KV cache"]/2)
	}
	c.Rollout.Context, c.Backend.KVF16 = 1024, false
	// A student that only samples touches a logits row a sequence (8), one that T-DUR's top-k KL
	// scores a full batch's (512), as the teacher does.
	c.TDUR.Form, c.TDUR.Disagreement = "zscore", "topk_kl"
	scored, _ := c.MemoryPlan()
	if d := scored.Items[5].Bytes - items["student compute buffer"]; d != int64(512-8)*int64(o.VocabSize)*4 || items["teacher compute buffer"] <= items["student compute buffer"] {
		t.Errorf("student compute buffer %d bytes sampling, %d scored; teacher's %d", items["student compute buffer"], scored.Items[5].Bytes, items["teacher compute buffer"])
	}
	c.TDUR = DefaultConfig().TDUR
	var sum int64
	for _, it := range p.Items {
		sum += it.Bytes
	}
	if sum != p.Total || p.Fits() != nil && p.Available > p.Total {
		t.Errorf("total %d of items summing to %d", p.Total, sum)
	}
	p.Available = p.Total / 2
	if err := p.Fits(); err == nil || !strings.Contains(err.Error(), "rollout.context") || !strings.Contains(err.Error(), "total") {
		t.Errorf("an oversized plan: %v", err)
	}
	// Four sequences of a whole context per micro-batch: four times the
	// attention and the per-token terms (the tiny model: 4 layers, 128 wide,
	// 4 heads, 384 FF) of one, the kept MLP inputs (2·384 floats a token and
	// layer) included while they fit optim.keep_mlp_mb.
	c.Optim.Recompute, c.Optim.MicroTokens = true, 1024
	one, _ := c.MemoryPlan()
	c.Optim.MicroTokens = 4096
	four, _ := c.MemoryPlan()
	perSeq := int64(1024*((4+1)*128+2*128+6*384)*4 + (5*4/2+1)*1024*1024*4)
	kept := int64(4 * 1024 * 2 * 384 * 4)
	if d := four.Items[7].Bytes - one.Items[7].Bytes; d != 3*(perSeq+kept) {
		t.Errorf("training working set grows by %d bytes from 1 to 4 sequences of 1024 tokens, want %d", d, 3*(perSeq+kept))
	}
	c.Optim.KeepMLPMB = 20 // 20 MiB: more than one sequence's 12.6 MB, less than four's
	small, _ := c.MemoryPlan()
	if d := four.Items[7].Bytes - small.Items[7].Bytes; d != 4*kept-20<<20 {
		t.Errorf("optim.keep_mlp_mb = 20 takes %d bytes off the working set, want %d", d, 4*kept-20<<20)
	}
	c.Teacher.Model = filepath.Join(dir, "missing.gguf")
	if _, err := c.MemoryPlan(); err == nil || !strings.Contains(err.Error(), "teacher") {
		t.Errorf("missing teacher: %v", err)
	}
}
