#!/usr/bin/env bash
# make bench: every TestBench* of the native and trainer packages (remote_score_vs_local:
# teacher scoring through atod serve over loopback ÷ in process), then the decode
# benchmark again without host vector instructions for cpu_native_speedup.
# Prints lines `bench: <name> = <number> <unit>`; ratios are measured side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
export ATOD_BENCH=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT

eval "$(make -s env)"
go test -count=1 -timeout 60m -run '^TestBench' -v ./cgo/... ./trainer/... >"$log" 2>&1 || { cat "$log"; exit 1; }
grep -E '^bench:' "$log"

native=$(awk '/^bench: decode_tokens_per_s =/ {print $4}' "$log")
# Same code built for the baseline x86-64/arm64 target (rebuilds llama.cpp once, then cached).
eval "$(make -s env ARCH_FLAGS=)"
generic=$(go test -count=1 -run '^TestBenchDecode$' -v ./cgo/llama/ 2>&1 | awk '/^bench: decode_tokens_per_s =/ {print $4}')
echo "bench: decode_tokens_per_s_generic = $generic tok/s"
awk -v n="$native" -v g="$generic" 'BEGIN { if (g > 0) printf "bench: cpu_native_speedup = %.2f x\n", n / g }'
