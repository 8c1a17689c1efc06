package llama

/*
#include "atod.h"
*/
import "C"

import (
	"errors"
	"fmt"
)

// rawGenerate is the baseline of the generation benchmark: a plain C loop of llama_decode and the same
// sampler over all sequences, sequence s generating exactly nGen[s] tokens after its prompt.
// All prompts have the same length. It leaves the KV caches empty.
func (c *Context) rawGenerate(prompts [][]int32, nGen []int32, temp float32, seed uint64) error {
	if len(prompts) == 0 || len(prompts) != len(nGen) || len(prompts) > c.p.NSeq {
		return errors.New("raw generate: need one token count per prompt, at most NSeq prompts")
	}
	var flat []int32
	for _, p := range prompts {
		if len(p) != len(prompts[0]) || len(p) == 0 {
			return errors.New("raw generate: prompts must be non-empty and of one length")
		}
		flat = append(flat, p...)
	}
	c.ClearAll()
	defer c.ClearAll()
	rc := C.atod_raw_generate(c.c, C.int32_t(len(prompts)), (*C.int32_t)(&flat[0]), C.int32_t(len(prompts[0])),
		(*C.int32_t)(&nGen[0]), C.float(temp), C.uint64_t(seed))
	if rc != 0 {
		return fmt.Errorf("raw generate: llama_decode returned %d", int(rc))
	}
	return nil
}

// setReduce sets the C reduction's threads and the logits each gets at least, so that tests can
// run the threaded path on a small vocabulary.
func (c *Context) setReduce(chunk, threads int) {
	C.atod_ctx_set_reduce(c.c, C.int64_t(chunk), C.int32_t(threads))
}

// rawPrefill is the baseline of the scoring benchmark: llama_decode of toks in sequence 0 with
// logits for every token, nothing done with them. It leaves the KV caches empty.
func (c *Context) rawPrefill(toks []int32) error {
	if len(toks) == 0 || len(toks) > c.p.NCtx {
		return errors.New("raw prefill: need 1..NCtx tokens")
	}
	c.ClearAll()
	defer c.ClearAll()
	if rc := C.atod_raw_prefill(c.c, (*C.int32_t)(&toks[0]), C.int32_t(len(toks))); rc != 0 {
		return fmt.Errorf("raw prefill: llama_decode returned %d", int(rc))
	}
	return nil
}

// RawMatmulSeconds times one F32 matrix product of an [nIn, nOut] matrix by nTok vectors on the CPU with
// the given threads: the FLOP rate that bounds a model of that size, for benchmarks.
func RawMatmulSeconds(nIn, nOut, nTok, threads int) (float64, error) {
	if nIn <= 0 || nOut <= 0 || nTok <= 0 || threads <= 0 {
		return 0, errors.New("raw matmul: sizes and threads must be positive")
	}
	s := float64(C.atod_raw_matmul(C.int64_t(nIn), C.int64_t(nOut), C.int64_t(nTok), C.int32_t(threads)))
	if s < 0 {
		return 0, errors.New("raw matmul: ggml could not compute it")
	}
	return s, nil
}
