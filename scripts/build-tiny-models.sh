#!/usr/bin/env bash
# Builds the tiny teacher/student pairs of the out-of-the-box run, from scratch
# and reproducibly (fixed seeds), on CPU:
#   1. the oracle's play-throughs of the train tasks become a tokenizer corpus;
#   2. teacher and student are random tiny llamas with the same corpus and
#      vocabulary size, hence the same tokenizer (the teacher scores the
#      student's token ids);
#   3. `atod sft` clones the oracle into both: the teacher long, the smaller
#      student briefly, so it starts low and has room to learn.
# Writes models/<env>-teacher.gguf, models/<env>-student.gguf and
# models/<env>-build.log (models/README.md quotes it); intermediate files go
# to build/tiny-models/.
# Usage: scripts/build-tiny-models.sh [ENV...]   (default: household)
# Env: ATOD (binary, default ./atod), THREADS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
ATOD=${ATOD:-./atod}
THREADS=${THREADS:-2}
[ -x "$ATOD" ] || { echo "build atod first: make" >&2; exit 1; }
ENVS=("$@")
[ ${#ENVS[@]} -gt 0 ] || ENVS=(household)
mkdir -p build/tiny-models

# The household oracle knows where every object is; a model cannot see it, so
# its demos search first (--explore), and the tiny homes are small (3-4
# receptacles, 0-2 distractors: config.toml's [env.options] must match).
declare -A ENV_OPTS=(
	[household]="--explore --opt max_receptacles=4 --opt max_objects=2 --opt max_steps=20"
	[webshop]=""
	[searchqa]=""
)
TEACHER_ARCH=(--layers 4 --embd 64 --heads 4 --kv-heads 2 --ff 192)
STUDENT_ARCH=(--layers 2 --embd 48 --heads 4 --kv-heads 2 --ff 144)
VOCAB=1024
CTX=2048
COMMON=(--full --threads "$THREADS" --seed 1 --eval-tasks 32 --eval-split test --eval-seed 1 --set optim.warmup=10)

for env in "${ENVS[@]}"; do
	log=models/$env-build.log
	: >"$log"
	start=$(date +%s)
	corpus=build/tiny-models/$env-corpus.txt
	read -r -a opts <<<"${ENV_OPTS[$env]:-}"
	"$ATOD" sft --env "$env" "${opts[@]}" --tasks 400 --seed 1 --write-corpus "$corpus" | tee -a "$log"
	"$ATOD" model new --corpus "$corpus" --vocab $VOCAB --ctx $CTX "${TEACHER_ARCH[@]}" --seed 11 \
		build/tiny-models/$env-teacher-init.gguf | tee -a "$log"
	"$ATOD" model new --corpus "$corpus" --vocab $VOCAB --ctx $CTX "${STUDENT_ARCH[@]}" --seed 12 \
		build/tiny-models/$env-student-init.gguf | tee -a "$log"
	echo "== teacher" | tee -a "$log"
	"$ATOD" sft --env "$env" "${opts[@]}" --model build/tiny-models/$env-teacher-init.gguf --out models/$env-teacher.gguf \
		"${COMMON[@]}" --tasks 600 --epochs 8 --batch 4 --lr 3e-3 | tee -a "$log"
	echo "== student" | tee -a "$log"
	"$ATOD" sft --env "$env" "${opts[@]}" --model build/tiny-models/$env-student-init.gguf --out models/$env-student.gguf \
		"${COMMON[@]}" --tasks 300 --epochs 4 --batch 4 --lr 3e-3 | tee -a "$log"
	echo "== $env built in $(($(date +%s) - start)) s with $THREADS threads" | tee -a "$log"
done
