#!/usr/bin/env bash
# Builds a ggml GPU backend from the same ggml tree that atod links (the pinned
# ollama module), as a shared library that atod loads at run time from build/lib.
# usage: build-backend.sh cuda|metal OLLAMA_DIR
set -euo pipefail
kind=${1:?backend: cuda or metal}
src=${2:?ollama module dir}
out=build/lib

case "$kind" in
metal)
	# On Apple Silicon the ggml cgo package compiles Metal in (ggml_darwin_arm64.go):
	# the plain build already has it.
	if [ "$(uname -s)/$(uname -m)" != "Darwin/arm64" ]; then
		echo "make metal: Metal needs macOS on Apple Silicon (this is $(uname -s)/$(uname -m))" >&2
		exit 1
	fi
	echo "Metal is built into ./atod on this machine; use backend = \"metal\" or \"auto\"."
	;;
cuda)
	command -v cmake >/dev/null || { echo "make cuda: cmake not found (apt-get install cmake)" >&2; exit 1; }
	command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] ||
		{ echo "make cuda: nvcc not found; install the CUDA toolkit or put it on PATH" >&2; exit 1; }
	export PATH=$PATH:/usr/local/cuda/bin
	# CMAKE_CUDA_ARCHITECTURES defaults to "native" (the GPUs of this machine).
	cmake -S "$src" -B build/ggml-cuda -DCMAKE_BUILD_TYPE=Release ${CUDA_ARCHS:+-DCMAKE_CUDA_ARCHITECTURES=$CUDA_ARCHS}
	cmake --build build/ggml-cuda --target ggml-cuda --parallel "$(nproc)"
	mkdir -p "$out"
	cp -P build/ggml-cuda/lib/ollama/libggml-cuda.so* build/ggml-cuda/lib/ollama/libggml-base.so* "$out"/
	echo "CUDA backend in $out; ./atod loads it at start (backend = \"cuda\" or \"auto\")."
	;;
*)
	echo "unknown backend $kind (cuda or metal)" >&2
	exit 2
	;;
esac
