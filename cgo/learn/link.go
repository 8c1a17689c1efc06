package learn

// Importing ollama's cgo packages compiles the llama.cpp and ggml sources vendored
// in the pinned github.com/ollama/ollama module and links them in; our C++ finds
// their headers (including llama.cpp's src/ for llama-model.h) through CGO_CPPFLAGS.
import (
	_ "github.com/ollama/ollama/llama/llama.cpp/src"
	_ "github.com/ollama/ollama/ml/backend/ggml/ggml/src"
)
