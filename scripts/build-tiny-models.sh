#!/usr/bin/env bash
# Builds the tiny teacher/student pairs of the out-of-the-box runs, from scratch
# and reproducibly (fixed seeds), on CPU:
#   1. the oracle's play-throughs of train tasks become a tokenizer corpus;
#   2. teacher and student are random tiny llamas with the same corpus and
#      vocabulary size, hence the same tokenizer (the teacher scores the
#      student's token ids);
#   3. `atod sft` clones the oracle into both. The later stages play demos
#      with rejected wrong actions in them (--mistakes): without them a model
#      meets its first "Nothing happens." at test time and repeats the
#      rejected action until the episode ends. The student's last stage also
#      teaches it a bad habit (--stall look): wasting turns on "look", a gap to
#      its teacher that is policy, not capacity, which a short run can close.
# The demos follow the env's run config (config.toml for household,
# configs/ENV.toml otherwise): its env options and rollout keys.
# Writes models/ENV-teacher.gguf, models/ENV-student.gguf and models/ENV-build.log
# (models/README.md quotes them); intermediate files go to build/tiny-models/.
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

# Only household has tiny models so far: on searchqa, a 4-layer teacher
# trained the same way never learned to copy names from the question into its
# search (0/32 after 3 epochs over 1200 demos), see models/README.md.
declare -A CONFIG=([household]=config.toml)
# The household oracle knows where every object is; a model cannot see it, so
# its demos come from the searching oracle (--explore).
declare -A DEMOS=([household]="--explore")
declare -A TEACHER_ARCH=([household]="--layers 4 --embd 64 --heads 4 --kv-heads 2 --ff 192")
declare -A STUDENT_ARCH=([household]="--layers 2 --embd 64 --heads 4 --kv-heads 2 --ff 192")
# The teacher: three epochs over 1200 demos, then one over 2400 fresh ones
# (after epoch 2 held-out success stopped rising, 0.156 then 0.125, while the
# train loss kept falling: more epochs over the same demos overfit).
declare -A TEACHER_SFT=([household]="--seed 1 --tasks 1200 --epochs 3 --batch 8 --lr 3e-3 --eval-every 1")
declare -A TEACHER_MORE=([household]="--seed 2 --tasks 2400 --epochs 1 --batch 8 --lr 2e-3")
declare -A TEACHER_MISTAKES=([household]="--seed 4 --tasks 2400 --epochs 1 --batch 8 --lr 2e-3 --mistakes 0.2")
declare -A STUDENT_SFT=([household]="--seed 3 --tasks 1200 --epochs 2 --batch 8 --lr 3e-3")
declare -A STUDENT_MORE=([household]="--seed 6 --tasks 2400 --epochs 1 --batch 8 --lr 3e-3")
# The habit: "look" before half of the oracle's turns (and a rejected action
# before a fifth). Demos may run 20 turns here, so that the longer tasks are
# not dropped; the runs allow 12, in which the habit costs most of its wins.
declare -A STUDENT_STALL=([household]="--seed 7 --tasks 1200 --epochs 1 --batch 8 --lr 3e-3 --mistakes 0.2 --stall look --stall-rate 0.5 --set rollout.max_turns=20")
VOCAB=1024
CTX=2048
COMMON=(--full --threads "$THREADS" --eval-tasks 32 --eval-split test --eval-seed 1 --set optim.warmup=10)

for env in "${ENVS[@]}"; do
	[ -n "${CONFIG[$env]:-}" ] || { echo "unknown env $env" >&2; exit 1; }
	log=models/$env-build.log
	: >"$log"
	start=$(date +%s)
	corpus=build/tiny-models/$env-corpus.txt
	demo=(--config "${CONFIG[$env]}" ${DEMOS[$env]})
	"$ATOD" sft "${demo[@]}" --tasks 400 --seed 1 --write-corpus "$corpus" | tee -a "$log"
	"$ATOD" model new --corpus "$corpus" --vocab $VOCAB --ctx $CTX ${TEACHER_ARCH[$env]} --seed 11 \
		build/tiny-models/$env-teacher-init.gguf | tee -a "$log"
	"$ATOD" model new --corpus "$corpus" --vocab $VOCAB --ctx $CTX ${STUDENT_ARCH[$env]} --seed 12 \
		build/tiny-models/$env-student-init.gguf | tee -a "$log"
	echo "== teacher" | tee -a "$log"
	"$ATOD" sft "${demo[@]}" --model build/tiny-models/$env-teacher-init.gguf --out build/tiny-models/$env-teacher-1.gguf \
		"${COMMON[@]}" ${TEACHER_SFT[$env]} | tee -a "$log"
	"$ATOD" sft "${demo[@]}" --model build/tiny-models/$env-teacher-1.gguf --out build/tiny-models/$env-teacher-2.gguf \
		"${COMMON[@]}" ${TEACHER_MORE[$env]} | tee -a "$log"
	"$ATOD" sft "${demo[@]}" --model build/tiny-models/$env-teacher-2.gguf --out models/$env-teacher.gguf \
		"${COMMON[@]}" ${TEACHER_MISTAKES[$env]} | tee -a "$log"
	echo "== student" | tee -a "$log"
	"$ATOD" sft "${demo[@]}" --model build/tiny-models/$env-student-init.gguf --out build/tiny-models/$env-student-1.gguf \
		"${COMMON[@]}" ${STUDENT_SFT[$env]} | tee -a "$log"
	"$ATOD" sft "${demo[@]}" --model build/tiny-models/$env-student-1.gguf --out build/tiny-models/$env-student-2.gguf \
		"${COMMON[@]}" ${STUDENT_MORE[$env]} | tee -a "$log"
	"$ATOD" sft "${demo[@]}" --model build/tiny-models/$env-student-2.gguf --out models/$env-student.gguf \
		"${COMMON[@]}" ${STUDENT_STALL[$env]} | tee -a "$log"
	echo "== student at the run's rollout.max_turns (the stage above evaluated at 20)" | tee -a "$log"
	"$ATOD" eval "${CONFIG[$env]}" --set "student.model=models/$env-student.gguf" --set "backend.threads=$THREADS" \
		--tasks 32 --split test | tee -a "$log"
	echo "== $env built in $(($(date +%s) - start)) s with $THREADS threads" | tee -a "$log"
done
