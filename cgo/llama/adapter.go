package llama

/*
#cgo CXXFLAGS: -std=c++17
#include <stdlib.h>
#include "atod.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unsafe"
)

// Adapter is a LoRA adapter in llama.cpp's GGUF format, loaded for one model.
type Adapter struct {
	m     *Model
	a     *C.struct_llama_adapter_lora
	mu    sync.Mutex
	users map[*Context]bool // contexts that have it set
}

// LoadAdapter loads a LoRA adapter for m. The file is checked first: a GGUF with general.type
// "adapter", adapter.type "lora" and m's architecture; llama.cpp then checks the tensors.
func (m *Model) LoadAdapter(path string) (*Adapter, error) {
	arch, err := CheckGGUF(path, true)
	if err != nil {
		return nil, fmt.Errorf("load adapter %s: %w", path, err)
	}
	if arch != m.arch {
		return nil, fmt.Errorf("load adapter %s: architecture %s does not match the model's %s", path, arch, m.arch)
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	r := lockedCall(func() *C.struct_llama_adapter_lora { return C.llama_adapter_lora_init(m.m, cpath) })
	if r.v == nil {
		return nil, fmt.Errorf("load adapter %s: %w", path, r.err("llama.cpp rejected it"))
	}
	return &Adapter{m: m, a: r.v, users: map[*Context]bool{}}, nil
}

// Close frees the adapter, first removing it from the contexts that still have it set
// (those contexts must not be in use meanwhile; their KV caches are dropped).
func (a *Adapter) Close() {
	a.mu.Lock()
	users := a.users
	a.users = map[*Context]bool{}
	a.mu.Unlock()
	for c := range users {
		_ = c.SetAdapter(nil, 0) // on failure c is unusable and says so on its next call
	}
	if a.a != nil {
		C.llama_adapter_lora_free(a.a)
		a.a = nil
	}
}

func (a *Adapter) add(c *Context) {
	a.mu.Lock()
	a.users[c] = true
	a.mu.Unlock()
}

// drop forgets c; a nil adapter has no users.
func (a *Adapter) drop(c *Context) {
	if a == nil {
		return
	}
	a.mu.Lock()
	delete(a.users, c)
	a.mu.Unlock()
}

// Set overwrites the adapter's tensors in place with weights keyed as in its
// GGUF (BASE.lora_a, BASE.lora_b; F32, ggml order), as a trainer's new step
// gives them; the contexts using it drop their KV caches, which were computed
// with the old weights. The adapter's shape does not change.
func (a *Adapter) Set(weights map[string][]float32) error {
	if a.a == nil {
		return errors.New("set adapter weights: the adapter is closed")
	}
	for name, v := range weights {
		base, isB := strings.CutSuffix(name, ".lora_b")
		if !isB {
			var ok bool
			if base, ok = strings.CutSuffix(name, ".lora_a"); !ok {
				return fmt.Errorf("set adapter weights: %q is not a LoRA tensor name", name)
			}
		}
		if len(v) == 0 {
			return fmt.Errorf("set adapter weights: %s is empty", name)
		}
		b := C.int(0)
		if isB {
			b = 1
		}
		cb := C.CString(base)
		var errBuf [256]C.char
		rc := C.atod_adapter_set(a.a, cb, b, (*C.float)(&v[0]), C.size_t(len(v)), &errBuf[0], C.size_t(len(errBuf)))
		C.free(unsafe.Pointer(cb))
		if rc != 0 {
			return fmt.Errorf("set adapter weights: %s", C.GoString(&errBuf[0]))
		}
	}
	a.mu.Lock()
	users := make([]*Context, 0, len(a.users))
	for c := range a.users {
		users = append(users, c)
	}
	a.mu.Unlock()
	for _, c := range users {
		c.ClearAll()
	}
	return nil
}
