package llama

/*
#include <stdlib.h>
#include "atod.h"
*/
import "C"

import (
	"fmt"
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
