package llama

/*
#include "atod.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"unsafe"
)

// ContextParams sizes a context. Each sequence has a KV stream of its own, so a batch's attention costs
// each sequence its own length; a shared prefix is copied between streams (see prefill).
type ContextParams struct {
	NCtx    int // tokens per sequence (llama.cpp rounds each stream up to a multiple of 256)
	NSeq    int // parallel sequences
	NBatch  int // tokens per llama_decode call; 0 = 512
	Threads int // 0 = the model's
	// Unified keeps all sequences in one KV buffer (llama.cpp's kv_unified), where every batch attends
	// over the used cells of all sequences, masked: several times slower for many sequences. It is the
	// baseline of the streams benchmark and parity tests.
	Unified bool
	// KVF16 stores K and V in f16 and lets llama.cpp use flash attention: half the KV memory, but
	// log-probs then vary by ~1e-3 with batch composition. The default (f32, plain attention) keeps
	// generation, scoring and batched/alone runs well within 1e-4 of each other.
	KVF16 bool
}

// Context holds NSeq sequences and their KV caches. Use it from one goroutine at a time.
type Context struct {
	m       *Model
	c       *C.atod_ctx
	p       ContextParams
	cached  [][]int32 // per sequence: the tokens now in its KV cache, at positions 0..len-1
	adapter *Adapter
}

// NewContext makes a context for p.NSeq sequences of up to p.NCtx tokens each.
func (m *Model) NewContext(p ContextParams) (*Context, error) {
	if p.NBatch == 0 {
		p.NBatch = 512
	}
	if p.Threads <= 0 {
		p.Threads = m.threads
	}
	maxSeq := int(C.llama_max_parallel_sequences())
	switch {
	case p.NCtx <= 0 || p.NSeq <= 0 || p.NBatch <= 0:
		return nil, fmt.Errorf("new context: NCtx, NSeq and NBatch must be positive (got %d, %d, %d)", p.NCtx, p.NSeq, p.NBatch)
	case p.NSeq > maxSeq:
		return nil, fmt.Errorf("new context: NSeq %d exceeds llama.cpp's limit of %d sequences", p.NSeq, maxSeq)
	case int64(p.NCtx)*int64(p.NSeq) > 1<<30:
		return nil, fmt.Errorf("new context: %d sequences of %d tokens is too large a KV cache", p.NSeq, p.NCtx)
	}
	cp := C.llama_context_default_params()
	cp.n_ctx = C.uint32_t(p.NCtx * p.NSeq)
	cp.n_batch = C.uint32_t(p.NBatch)
	cp.n_ubatch = C.uint32_t(p.NBatch)
	cp.n_seq_max = C.uint32_t(p.NSeq)
	cp.n_threads = C.int32_t(p.Threads)
	cp.n_threads_batch = C.int32_t(p.Threads)
	cp.kv_unified = C.bool(p.Unified)
	cp.no_perf = true
	if !p.KVF16 {
		// f16 K/V (and the flash-attention kernels that go with them) make a token's log-prob depend
		// on the batch it was decoded in by ~1e-3.
		cp.type_k = C.GGML_TYPE_F32
		cp.type_v = C.GGML_TYPE_F32
		cp.flash_attn_type = C.LLAMA_FLASH_ATTN_TYPE_DISABLED
	}
	c := lockedCall(func() *C.atod_ctx { return C.atod_ctx_new(m.m, cp) })
	if c.v == nil {
		return nil, fmt.Errorf("new context: %w", c.err("llama.cpp could not create it"))
	}
	return &Context{m: m, c: c.v, p: p, cached: make([][]int32, p.NSeq)}, nil
}

// Close frees the context.
func (c *Context) Close() {
	if c.c == nil {
		return
	}
	c.adapter.drop(c)
	c.adapter = nil
	C.atod_ctx_free(c.c)
	c.c = nil
}

func (c *Context) memory() C.llama_memory_t {
	return C.llama_get_memory(C.atod_ctx_llama(c.c))
}

func (c *Context) usable() error {
	if c.c == nil || C.atod_ctx_llama(c.c) == nil {
		return errors.New("context is closed (or unusable after a failed SetAdapter)")
	}
	return nil
}

// ClearSeq empties one sequence's KV cache.
func (c *Context) ClearSeq(seq int) {
	if c.usable() != nil || seq < 0 || seq >= c.p.NSeq {
		return
	}
	C.llama_memory_seq_rm(c.memory(), C.llama_seq_id(seq), -1, -1)
	c.cached[seq] = nil
}

// ClearAll empties every sequence's KV cache.
func (c *Context) ClearAll() {
	if c.usable() != nil {
		return
	}
	C.llama_memory_clear(c.memory(), true)
	for i := range c.cached {
		c.cached[i] = nil
	}
}

// SetAdapter makes a (nil: none) the context's LoRA adapter at the given scale. It drops all cached KV.
func (c *Context) SetAdapter(a *Adapter, scale float32) error {
	if c.c == nil {
		return errors.New("set adapter: context is closed")
	}
	if a != nil && (a.a == nil || a.m != c.m) {
		return errors.New("set adapter: adapter is closed or belongs to another model")
	}
	c.adapter.drop(c)
	c.adapter = nil
	for i := range c.cached {
		c.cached[i] = nil
	}
	var la *C.struct_llama_adapter_lora
	if a != nil {
		la = a.a
	}
	rc := lockedCall(func() C.int { return C.atod_ctx_set_adapter(c.c, la, C.float(scale)) })
	if rc.v != 0 {
		return fmt.Errorf("set adapter: %w (the context is unusable)", rc.err("llama.cpp could not recreate the context"))
	}
	if a != nil {
		a.add(c)
		c.adapter = a
	}
	return nil
}

// batch is a list of tokens for atod_decode; out[i] >= 0 asks for token i's logits reduced into that output.
type batch struct {
	tok, pos, seq, out []int32
}

func (b *batch) add(tok int32, pos, seq, out int) {
	b.tok = append(b.tok, tok)
	b.pos = append(b.pos, int32(pos))
	b.seq = append(b.seq, int32(seq))
	b.out = append(b.out, int32(out))
}

// bySeq orders b's tokens by sequence, each sequence's in their order. With a KV stream per sequence,
// llama.cpp splits a batch into micro-batches of consecutive sequence ids, so this keeps them few.
func (b *batch) bySeq() {
	if slices.IsSorted(b.seq) {
		return // generation steps and single-sequence batches: keep b's buffers, which decode reuses
	}
	idx := make([]int, len(b.tok))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(x, y int) bool { return b.seq[idx[x]] < b.seq[idx[y]] })
	var o batch
	for _, i := range idx {
		o.tok, o.pos = append(o.tok, b.tok[i]), append(o.pos, b.pos[i])
		o.seq, o.out = append(o.seq, b.seq[i]), append(o.out, b.out[i])
	}
	*b = o
}

// decode runs b; on failure the KV caches are in an unknown state, so they are all cleared.
func (c *Context) decode(b *batch, outs []C.atod_out, topN int, topTok []int32, topLP []float32) error {
	if len(b.tok) == 0 {
		return nil
	}
	if !c.p.Unified {
		b.bySeq()
	}
	var outp *C.atod_out
	if len(outs) > 0 {
		outp = &outs[0]
	}
	var tt *C.int32_t
	var tl *C.float
	if len(topTok) > 0 {
		tt = (*C.int32_t)(unsafe.Pointer(&topTok[0]))
		tl = (*C.float)(unsafe.Pointer(&topLP[0]))
	}
	r := lockedCall(func() C.int {
		return C.atod_decode(c.c, C.int32_t(len(b.tok)), (*C.int32_t)(&b.tok[0]), (*C.int32_t)(&b.pos[0]),
			(*C.int32_t)(&b.seq[0]), (*C.int32_t)(&b.out[0]), outp, C.int32_t(topN), tt, tl)
	})
	*b = batch{tok: b.tok[:0], pos: b.pos[:0], seq: b.seq[:0], out: b.out[:0]}
	if r.v == 0 {
		return nil
	}
	c.ClearAll()
	what := fmt.Sprintf("llama_decode failed (code %d)", int(r.v))
	if r.v == 1 {
		what = "llama_decode found no free KV cache slot"
	}
	return r.err(what)
}

// prefill brings each job's sequence to hold job.toks, reusing what it can (see planReuse), and reduces the
// logits of positions firstOut.. into their outs slots (job.out). It returns the tokens decoded per job.
func (c *Context) prefill(jobs []job, outs []C.atod_out, topN int, topTok []int32, topLP []float32) ([]int, error) {
	mem := c.memory()
	r := planReuse(jobs, c.cached)
	need := make([]int, len(jobs)) // prefix length others copy from this job's sequence
	for _, ri := range r {
		if ri.from >= 0 {
			need[ri.from] = max(need[ri.from], ri.n)
		}
	}
	start := make([]int, len(jobs))
	var b batch
	for i, j := range jobs { // sources: keep their own prefix, decode what others copy
		if r[i].from >= 0 {
			continue
		}
		if !C.llama_memory_seq_rm(mem, C.llama_seq_id(j.seq), C.llama_pos(r[i].n), -1) {
			C.llama_memory_seq_rm(mem, C.llama_seq_id(j.seq), -1, -1)
			r[i].n = 0
		}
		c.cached[j.seq] = c.cached[j.seq][:r[i].n]
		for p := r[i].n; p < need[i]; p++ {
			b.add(j.toks[p], p, j.seq, -1)
		}
		start[i] = max(r[i].n, need[i])
	}
	if err := c.decode(&b, nil, 0, nil, nil); err != nil {
		return nil, err
	}
	for i, j := range jobs {
		if r[i].from >= 0 {
			// Across KV streams llama.cpp copies only whole streams (it asserts on [0, n)): copy the source's
			// stream, at most one buffer copy at the next decode, and drop what lies past the shared prefix.
			C.llama_memory_seq_rm(mem, C.llama_seq_id(j.seq), -1, -1)
			C.llama_memory_seq_cp(mem, C.llama_seq_id(jobs[r[i].from].seq), C.llama_seq_id(j.seq), -1, -1)
			C.llama_memory_seq_rm(mem, C.llama_seq_id(j.seq), C.llama_pos(r[i].n), -1)
			start[i] = r[i].n
		}
		for p := start[i]; p < len(j.toks); p++ {
			out := -1
			if p >= j.firstOut {
				out = j.out[p-j.firstOut]
			}
			b.add(j.toks[p], p, j.seq, out)
		}
	}
	if err := c.decode(&b, outs, topN, topTok, topLP); err != nil {
		return nil, err
	}
	decoded := make([]int, len(jobs))
	for i, j := range jobs {
		c.cached[j.seq] = append(c.cached[j.seq][:0:0], j.toks...)
		decoded[i] = len(j.toks) - r[i].n
	}
	return decoded, nil
}

// checkSeqs validates sequence ids (in range, one request each) and token ids.
func (c *Context) checkSeqs(seqs []int, toks [][]int32) error {
	seen := make(map[int]bool, len(seqs))
	for i, s := range seqs {
		if s < 0 || s >= c.p.NSeq {
			return fmt.Errorf("request %d: sequence %d out of range [0, %d)", i, s, c.p.NSeq)
		}
		if seen[s] {
			return fmt.Errorf("request %d: sequence %d appears twice in one call", i, s)
		}
		seen[s] = true
		for k, t := range toks[i] {
			if !c.m.validToken(t) {
				return fmt.Errorf("request %d: token %d at position %d is not in the vocabulary of %d", i, t, k, c.m.nVocab)
			}
		}
	}
	return nil
}
