#!/usr/bin/env bash
# make bench-real: one household step (8 episodes × 6 turns) with random-weight
# models of real shapes and Llama 3's real tokenizer: a qwen2.5-0.5b-shape
# student in f16 and Q4_K_M, a llama-3.2-1b-shape Q4_K_M teacher. Models are
# built once into BENCH_DIR (default build/bench-real) and reused. Prints
# `bench:` lines; each student runs in a process of its own (peak RSS).
# About 30 minutes on 2 cores; run it alone.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BENCH_DIR:-build/bench-real}
mkdir -p "$dir"
make -s atod
eval "$(make -s env)"
vocab="$(go list -m -f '{{.Dir}}' github.com/ollama/ollama)/tokenizer/testdata/llama3.2"
if [ ! -f "$dir/student-f16.gguf" ]; then
	./atod model new "$dir/student-f16.gguf" --preset qwen2.5-0.5b --llama3-vocab "$vocab" --f16
fi
if [ ! -f "$dir/student-q4_k_m.gguf" ]; then
	./atod model quantize "$dir/student-f16.gguf" "$dir/student-q4_k_m.gguf" q4_k_m
fi
if [ ! -f "$dir/teacher-q4_k_m.gguf" ]; then
	./atod model new "$dir/teacher-f16.gguf" --preset llama-3.2-1b --llama3-vocab "$vocab" --f16 --seed 2
	./atod model quantize "$dir/teacher-f16.gguf" "$dir/teacher-q4_k_m.gguf" q4_k_m
	rm -f "$dir/teacher-f16.gguf"
fi
# The same teacher widened to bf16: AVX-512 BF16 matmuls beat ggml's Q4_K kernels on CPU.
if [ ! -f "$dir/teacher-bf16.gguf" ]; then
	./atod model quantize "$dir/teacher-q4_k_m.gguf" "$dir/teacher-bf16.gguf" bf16
fi
go test -c -o "$dir/native.test" ./trainer/native
go test -c -o "$dir/learn.test" ./cgo/learn
go test -c -o "$dir/llama.test" ./cgo/llama
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for s in f16 q4_k_m; do
	ATOD_BENCH_STUDENT="$dir/student-$s.gguf" ATOD_BENCH_TEACHER="$dir/teacher-q4_k_m.gguf" ATOD_BENCH_NAME=$s \
		ATOD_BENCH_SCORE_MASK=$([ $s = f16 ] && echo 1 || echo 0) \
		"$dir/native.test" -test.run '^TestBenchRealStep$' -test.v -test.timeout 60m 2>"$dir/$s.log" | grep '^bench:' | tee -a "$out"
done
# The f16 student's step again with the bf16 teacher: the same seeds, so the same transcripts to score.
ATOD_BENCH_STUDENT="$dir/student-f16.gguf" ATOD_BENCH_TEACHER="$dir/teacher-bf16.gguf" ATOD_BENCH_NAME=f16_bf16_teacher \
	"$dir/native.test" -test.run '^TestBenchRealStep$' -test.v -test.timeout 60m 2>"$dir/f16_bf16_teacher.log" | grep '^bench:' | tee -a "$out"
awk '/^bench: real_f16_(rollout|score)_s =/ {q += $4} /^bench: real_f16_score_s =/ {qs = $4}
	/^bench: real_f16_bf16_teacher_(rollout|score)_s =/ {b += $4} /^bench: real_f16_bf16_teacher_score_s =/ {bs = $4}
	END { if (b > 0 && bs > 0) {
		printf "bench: real_bf16_vs_q4_k_m_teacher_score = %.2f x\n", qs / bs
		printf "bench: real_bf16_vs_q4_k_m_teacher_rollout_plus_score = %.2f x\n", q / b } }' "$out" | tee -a "$out"
# KV streams ÷ one unified KV buffer: the same generation and scoring requests, side by side (f16 student)
ATOD_BENCH=1 ATOD_BENCH_THREADS=0 ATOD_BENCH_REAL_MODEL="$dir/student-f16.gguf" \
	"$dir/llama.test" -test.run '^TestBenchStreamsVsUnified$' -test.v -test.timeout 60m 2>>"$dir/f16.log" | grep '^bench:' | tee -a "$out"
# the learner alone: 1×1,024-token LoRA steps, with and without recompute; memory at twice an episode's length
for s in f16 q4_k_m; do
	ATOD_BENCH_REAL_MODEL="$dir/student-$s.gguf" ATOD_BENCH_NAME=$s ATOD_BENCH_MEM_RATIO=$([ $s = f16 ] && echo 1 || echo 0) \
		"$dir/learn.test" -test.run '^TestBenchRealLearner$' -test.v -test.timeout 60m 2>>"$dir/$s.log" | grep '^bench:' | tee -a "$out"
done
awk '/^bench: real_f16_train_s =/ {f=$4} /^bench: real_q4_k_m_train_s =/ {q=$4}
	END { if (q > 0) printf "bench: real_q4_vs_f16_train_speed = %.2f x\n", f / q }' "$out"
