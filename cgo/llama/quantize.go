package llama

/*
#include <stdlib.h>
#include "atod.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"unsafe"
)

// quantTypes are the llama_ftype values of the quantizations offered.
var quantTypes = map[string]C.enum_llama_ftype{
	"q8_0":   C.LLAMA_FTYPE_MOSTLY_Q8_0,
	"q4_0":   C.LLAMA_FTYPE_MOSTLY_Q4_0,
	"q4_k_m": C.LLAMA_FTYPE_MOSTLY_Q4_K_M,
	"q5_k_m": C.LLAMA_FTYPE_MOSTLY_Q5_K_M,
	"q6_k":   C.LLAMA_FTYPE_MOSTLY_Q6_K,
	// Wider types: a quantized model widened to them computes with faster
	// kernels (AVX-512 BF16, tinyBLAS F16) at 2-4× the memory.
	"f16":  C.LLAMA_FTYPE_MOSTLY_F16,
	"bf16": C.LLAMA_FTYPE_MOSTLY_BF16,
}

// QuantTypes lists the names Quantize takes.
func QuantTypes() []string {
	var out []string
	for k := range quantTypes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Quantize writes the model at in quantized to typ (QuantTypes) at out, with
// llama.cpp's llama_model_quantize: matrices whose rows do not fit the type's
// blocks fall back to a type that fits, as llama.cpp does for real models.
// To f16 or bf16 a quantized input is dequantized: the same weights up to
// the wider type's rounding.
func Quantize(in, out, typ string, threads int) error {
	Setup()
	ft, ok := quantTypes[strings.ToLower(typ)]
	if !ok {
		return fmt.Errorf("quantize: type %q: want one of %s", typ, strings.Join(QuantTypes(), ", "))
	}
	if _, err := CheckGGUF(in, false); err != nil {
		return fmt.Errorf("quantize %s: %w", in, err)
	}
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	p := C.llama_model_quantize_default_params()
	p.ftype, p.nthread = ft, C.int32_t(threads)
	p.allow_requantize = C.bool(ft == C.LLAMA_FTYPE_MOSTLY_F16 || ft == C.LLAMA_FTYPE_MOSTLY_BF16)
	cin, cout := C.CString(in), C.CString(out)
	defer C.free(unsafe.Pointer(cin))
	defer C.free(unsafe.Pointer(cout))
	r := lockedCall(func() C.uint32_t { return C.llama_model_quantize(cin, cout, &p) })
	if r.v != 0 {
		return fmt.Errorf("quantize %s to %s: %w", in, typ, r.err("llama.cpp failed"))
	}
	return nil
}
