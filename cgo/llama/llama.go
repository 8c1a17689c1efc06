// Package llama is atod's inference binding to llama.cpp: GGUF models, tokenizer and chat
// template, batched generation and scoring over many sequences of one context, and LoRA adapters.
// Logits stay in C; Go sees tokens, log-probs and entropies.
//
// A Model may be shared by goroutines. A Context, like the llama_context under it, must be used
// by one goroutine at a time.
//
// Backends: ggml's CPU backend is built in. GPU backends (`make cuda`, `make metal`) are shared
// libraries loaded at first use from $ATOD_BACKEND_DIR, or else from build/lib and lib next to the
// executable. llama.cpp's logging is silent unless ATOD_DEBUG is set.
package llama

/*
#cgo LDFLAGS: -lm
#include <stdlib.h>
#include "atod.h"
#include "ggml-cpu.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

var initOnce sync.Once

// Setup initialises llama.cpp and ggml once for inference and training alike:
// logging, then the GPU backends found on disk, each device registered once.
func Setup() {
	initOnce.Do(func() {
		C.atod_init(C.bool(os.Getenv("ATOD_DEBUG") != ""))
		for _, dir := range backendDirs() {
			if C.atod_find_gpu(nil) != nil {
				break
			}
			cdir := C.CString(dir)
			C.ggml_backend_load_all_from_path(cdir)
			C.free(unsafe.Pointer(cdir))
		}
	})
}

func backendDirs() []string {
	if dir := os.Getenv("ATOD_BACKEND_DIR"); dir != "" {
		return []string{dir}
	}
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	var dirs []string
	for _, d := range []string{"build/lib", "lib"} {
		dir := filepath.Join(filepath.Dir(exe), d)
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			dirs = append(dirs, dir)
		}
	}
	return dirs
}

// called is a C call's result with the llama.cpp error lines it logged.
type called[T any] struct {
	v   T
	msg string
}

// err describes a failed call: what failed, then llama.cpp's own words if it logged any.
func (r called[T]) err(what string) error {
	if r.msg == "" {
		return errors.New(what)
	}
	return fmt.Errorf("%s: %s", what, strings.ReplaceAll(r.msg, "\n", "; "))
}

// lockedCall runs f on one OS thread, collecting the error lines llama.cpp logs there.
func lockedCall[T any](f func() T) called[T] {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	C.atod_clear_error()
	v := f()
	return called[T]{v: v, msg: strings.TrimSpace(C.GoString(C.atod_last_error()))}
}

// ModelParams selects where a model runs.
type ModelParams struct {
	Backend   string // "auto" or "" (a GPU if one is registered, else CPU), "cpu", "cuda", "metal"
	GPULayers int    // layers offloaded to the GPU; -1 all
	Threads   int    // default CPU threads of the model's contexts; 0 = runtime.NumCPU()
	// NoRepack keeps weights in their file layout (no repacked CPU buffers), as
	// a learner training over the same model needs.
	NoRepack bool
}

// Model is a loaded GGUF model. Its methods are safe for concurrent use.
type Model struct {
	m       *C.struct_llama_model
	vocab   *C.struct_llama_vocab
	arch    string
	threads int
	nVocab  int
}

// LoadModel loads a GGUF model. Bad files (missing, not GGUF, truncated, adapter, unknown
// architecture) give errors, never aborts.
func LoadModel(path string, p ModelParams) (*Model, error) {
	Setup()
	arch, err := CheckGGUF(path, false)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	dev, err := pickDevice(p.Backend)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	layers := p.GPULayers
	if layers < 0 {
		layers = 1 << 30
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	r := lockedCall(func() *C.struct_llama_model {
		return C.atod_model_load(cpath, dev, C.int32_t(layers), C.bool(p.NoRepack))
	})
	if r.v == nil {
		return nil, fmt.Errorf("load model %s: %w", path, r.err("llama.cpp could not load it"))
	}
	m := r.v
	threads := p.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	vocab := C.llama_model_get_vocab(m)
	return &Model{m: m, vocab: vocab, arch: arch, threads: threads, nVocab: int(C.llama_vocab_n_tokens(vocab))}, nil
}

// CheckGGUF validates a model (or, with adapter, a LoRA adapter) file before
// llama.cpp's loader sees it, so a bad file is an error and never an abort: it
// must exist, parse as GGUF, hold all its tensor data and name its
// architecture. It returns that architecture.
func CheckGGUF(path string, adapter bool) (string, error) {
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("cannot read file: %w", err)
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var arch, msg [256]C.char
	if C.atod_check_gguf(cpath, C.bool(adapter), &arch[0], C.size_t(len(arch)), &msg[0], C.size_t(len(msg))) != 0 {
		return "", errors.New(C.GoString(&msg[0]))
	}
	return C.GoString(&arch[0]), nil
}

func pickDevice(backend string) (C.ggml_backend_dev_t, error) {
	var name string
	switch strings.ToLower(backend) {
	case "cpu":
		return nil, nil
	case "", "auto":
		return C.atod_find_gpu(nil), nil // nil: no GPU registered, so the CPU
	case "cuda":
		name = "CUDA"
	case "metal":
		name = "Metal"
	default:
		return nil, fmt.Errorf("unknown backend %q (want auto, cpu, cuda or metal)", backend)
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	dev := C.atod_find_gpu(cname)
	if dev == nil {
		return nil, fmt.Errorf("backend %s: no %s device registered; build the backend with `make %s` "+
			"(it is loaded from $ATOD_BACKEND_DIR or build/lib next to the executable)", backend, name, strings.ToLower(name))
	}
	return dev, nil
}

// OnCPU reports whether a model loaded for backend ("auto", "cpu", …) runs on the CPU.
func OnCPU(backend string) bool {
	Setup()
	dev, err := pickDevice(backend)
	return err == nil && dev == nil
}

// CPUHasBF16 reports whether ggml's CPU kernels use AVX-512 BF16 instructions
// (built with -march=native on a CPU that has them): there bf16 matmuls outrun
// ggml's quantized ones.
func CPUHasBF16() bool { return C.ggml_cpu_has_avx512_bf16() != 0 }

// Close frees the model. Its contexts and adapters must be closed first.
func (m *Model) Close() {
	if m.m != nil {
		C.llama_model_free(m.m)
		m.m = nil
	}
}

// Handle is the struct llama_model, for cgo/learn to train over; valid until Close.
func (m *Model) Handle() unsafe.Pointer { return unsafe.Pointer(m.m) }

func (m *Model) Arch() string            { return m.arch }
func (m *Model) NParams() uint64         { return uint64(C.llama_model_n_params(m.m)) }
func (m *Model) VocabSize() int          { return m.nVocab }
func (m *Model) BOS() int32              { return int32(C.llama_vocab_bos(m.vocab)) }
func (m *Model) EOS() int32              { return int32(C.llama_vocab_eos(m.vocab)) }
func (m *Model) validToken(t int32) bool { return t >= 0 && int(t) < m.nVocab }

// IsEOG reports whether tok ends generation (EOS, EOT and the like).
func (m *Model) IsEOG(tok int32) bool {
	return m.validToken(tok) && bool(C.llama_vocab_is_eog(m.vocab, C.llama_token(tok)))
}
