# atod build. Every target runs Go with the same CGO_* environment, because any
# change to it makes Go rebuild llama.cpp + ggml (minutes on a small machine).

GO          ?= go
OLLAMA_MOD  := github.com/ollama/ollama
OLLAMA_DIR  := $(shell $(GO) mod download $(OLLAMA_MOD) >/dev/null 2>&1; $(GO) list -m -f '{{.Dir}}' $(OLLAMA_MOD))
LLAMA_INC   := -I$(OLLAMA_DIR)/llama/llama.cpp/include -I$(OLLAMA_DIR)/llama/llama.cpp/src -I$(OLLAMA_DIR)/ml/backend/ggml/ggml/include
# ggml's CPU kernels choose AVX2/AVX-512/FMA at compile time: build for this host.
# AMX is left out on x86: with it ggml-cpu.cpp calls into amx/amx.cpp, a folder the
# ggml Go package does not compile, and the link fails on AMX processors (Sapphire Rapids).
ARCH_FLAGS  ?= -march=native $(if $(filter x86_64,$(shell uname -m)),-mno-amx-tile -mno-amx-int8 -mno-amx-bf16)

export CGO_ENABLED  := 1
export CGO_CPPFLAGS := $(LLAMA_INC)
export CGO_CFLAGS   := -O3 $(ARCH_FLAGS)
export CGO_CXXFLAGS := -O3 $(ARCH_FLAGS)

TEST_TIMEOUT ?= 18m

.PHONY: all atod test bench bench-real fuzz cuda metal clean env

all: atod

atod:
	$(GO) build -o atod .

# The algorithm, rollout, run, sft and envs packages must build and pass without cgo.
PURE_PKGS := ./model ./trainer ./trainer/atod ./trainer/rollout ./trainer/scoring ./trainer/fake ./trainer/plot ./trainer/view ./trainer/compare ./trainer/rundir ./trainer/report ./sft ./envs/...

test:
	@bash scripts/test-deps.sh
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) test $(PURE_PKGS)
	$(GO) test -timeout $(TEST_TIMEOUT) ./...

bench:
	bash scripts/bench.sh

# Real-shape models (0.5B student, 1B teacher, Llama 3's vocabulary): about 20 minutes on 2 cores.
bench-real:
	bash scripts/bench-real.sh

fuzz:
	bash scripts/fuzz.sh

cuda: atod
	bash third_party/build-backend.sh cuda "$(OLLAMA_DIR)"

metal: atod
	bash third_party/build-backend.sh metal "$(OLLAMA_DIR)"

clean:
	rm -rf atod build

# `eval "$$(make -s env)"` gives a shell the same CGO_* environment, so a plain
# `go test ./cgo/...` reuses the cached llama.cpp build.
env:
	@echo 'export CGO_ENABLED=1'
	@echo "export CGO_CPPFLAGS='$(CGO_CPPFLAGS)'"
	@echo "export CGO_CFLAGS='$(CGO_CFLAGS)'"
	@echo "export CGO_CXXFLAGS='$(CGO_CXXFLAGS)'"
