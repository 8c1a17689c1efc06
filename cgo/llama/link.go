package llama

// Importing ollama's cgo packages compiles the llama.cpp and ggml sources vendored
// in the pinned github.com/ollama/ollama module and links them into atod.
// Our own C code finds their headers through CGO_CPPFLAGS, set by the Makefile.
import (
	_ "github.com/ollama/ollama/llama/llama.cpp/src"
	_ "github.com/ollama/ollama/ml/backend/ggml/ggml/src"
)
