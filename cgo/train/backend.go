package train

/*
#include <stdlib.h>
#include "ggml-backend.h"

// Loads the GPU backends in dir unless one is registered already (by cgo/llama,
// which looks in the same places), so that devices are not registered twice.
static void atod_train_load_backends(const char * dir) {
    if (ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_GPU) == NULL) {
        ggml_backend_load_all_from_path(dir);
    }
}
*/
import "C"

import (
	"os"
	"path/filepath"
	"sync"
	"unsafe"
)

var loadOnce sync.Once

// loadGPUBackends makes a CUDA backend built by `make cuda` available: it is a
// shared library in $ATOD_BACKEND_DIR, or build/lib or lib next to the executable
// (the places cgo/llama uses). Metal is compiled in on macOS.
func loadGPUBackends() {
	loadOnce.Do(func() {
		dirs := []string{os.Getenv("ATOD_BACKEND_DIR")}
		if dirs[0] == "" {
			exe, err := os.Executable()
			if err != nil {
				return
			}
			dirs = []string{filepath.Join(filepath.Dir(exe), "build/lib"), filepath.Join(filepath.Dir(exe), "lib")}
		}
		for _, d := range dirs {
			if st, err := os.Stat(d); err == nil && st.IsDir() {
				cd := C.CString(d)
				C.atod_train_load_backends(cd)
				C.free(unsafe.Pointer(cd))
			}
		}
	})
}
