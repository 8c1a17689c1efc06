#!/usr/bin/env bash
# The comparison table: for each env, at the same step budget and over several
# seeds, GRPO, OPD, ATOD without T-DUR, ATOD without annealing and ATOD train the
# same student from the same teacher (the env's config, config.toml or
# configs/ENV.toml, with the variant's --method and its few --set overrides).
# Every run plays the same EVAL_TASKS held-out tasks (eval.seed = EVAL_SEED), so
# outcomes pair up by seed and task; the teacher and the student at start are the
# step-0 evaluations of the ATOD runs. Writes RUNS/results.md (per evaluation
# temperature, held-out success, final and best over the run, with 95% bootstrap
# intervals over seeds × tasks and ATOD's paired differences; a diagnosis: the RL
# phase's group statistics, T-DUR's weight by turn, success by task type; all
# read from the runs' metrics.jsonl) and RUNS/ENV-success.svg.
# Usage: scripts/compare.sh [ENV...]     (default: every env with models/ENV-{teacher,student}.gguf)
# Env: ATOD (default ./atod), SEEDS (default "1 2 3 4 5"), STEPS (default 20),
#      EVAL_TASKS (default 64), EVAL_SEED (default 1000), RUNS (default runs/compare),
#      SAMPLED_T (eval.sampled_temperature: every evaluation also sampled at it, e.g. the
#      paper's 0.4; default 0, off: it doubles the evaluation time),
#      VARIANTS (default "grpo opd atod-no-tdur atod-no-anneal atod"; more are defined below),
#      EXTRA (more --set arguments for every run),
#      JOBS (runs at once, default: the number of cores), THREADS (per run, default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
ATOD=${ATOD:-./atod}
SEEDS=${SEEDS:-1 2 3 4 5}
STEPS=${STEPS:-20} # the configs' own budget
RUNS=${RUNS:-runs/compare}
EVAL_TASKS=${EVAL_TASKS:-64}
EVAL_SEED=${EVAL_SEED:-1000}
SAMPLED_T=${SAMPLED_T:-0}
VARIANTS=${VARIANTS:-grpo opd atod-no-tdur atod-no-anneal atod}
JOBS=${JOBS:-$(nproc)}
THREADS=${THREADS:-1}
[ -x "$ATOD" ] || { echo "build atod first: make" >&2; exit 1; }
ENVS=("$@")
if [ ${#ENVS[@]} -eq 0 ]; then
	for e in household webshop searchqa; do
		[ -f models/$e-teacher.gguf ] && [ -f models/$e-student.gguf ] && ENVS+=("$e")
	done
fi
[ ${#ENVS[@]} -gt 0 ] || { echo "no models: run scripts/build-tiny-models.sh" >&2; exit 1; }

# Each env's ATOD run; a variant is a method preset (atod run --method) and --set overrides.
declare -A CONFIGS=(
	[household]=config.toml
	[webshop]=configs/webshop.toml
	[searchqa]=configs/searchqa.toml
)
declare -A METHODS=(
	[grpo]="grpo"
	[opd]="opd"
	[atod-no-tdur]="atod-no-tdur"
	[atod-no-anneal]="atod-no-anneal"
	[atod-convex]="atod-convex"
	[atod]="atod"
	# Dr. GRPO's advantage (no std normalisation), for the RL-phase comparisons of docs/results.md.
	[grpo-nostd]="grpo grpo.std_norm=false"
	[atod-nostd]="atod grpo.std_norm=false"
	# The levers of scripts/levers.sh: Dr. GRPO with groups without reward signal dropped,
	# truncated importance weights, the top-k distillation term.
	[atod-drgrpo-filter]="atod grpo.std_norm=false grpo.filter_groups=true"
	[atod-tis]="atod loss.tis_cap=2"
	[atod-topk]="atod distill.topk=8"
	# T-DUR's earlier form, whose weights average 1 in each episode: the paper's
	# soft-OR weights average about 0.45 on household, a fraction of OPD's signal.
	[atod-zscore]="atod tdur.form=zscore"
	# OPD's ceiling (docs/results.md): how close OPD alone brings the student to its
	# teacher with more adapter capacity, every weight trained, a larger step size, or
	# the dense top-k term beside the sampled-token one.
	[opd-r32]="opd lora.rank=32 lora.alpha=64.0"
	[opd-full]="opd lora.full_weights=true optim.lr=1e-3"
	[opd-lr1e-3]="opd optim.lr=1e-3"
	[opd-lr2e-2]="opd optim.lr=2e-2"
	[opd-topk]="opd distill.topk=8"
	# Rollouts at a lower temperature: a tiny model sampled at 1.0 visits states its
	# greedy play (the evaluation) never reaches, and OPD learns on those.
	[opd-t05]="opd sampling.temperature=0.5"
)

# run_one ENV VARIANT SEED: one training run, kept when it already finished.
run_one() {
	local env=$1 variant=$2 seed=$3
	local dir=$RUNS/$env/$variant-s$seed
	local sets=(--set "steps=$STEPS" --set "seed=$seed" --set "out_dir=$dir" --set "backend.threads=$THREADS"
		--set "eval.tasks=$EVAL_TASKS" --set "eval.seed=$EVAL_SEED" --set "eval.sampled_temperature=$SAMPLED_T")
	# The teacher plays the same tasks in every run: once per seed is enough (in
	# ATOD's runs, or the first variant's when ATOD is not among them).
	local with_teacher=atod
	[[ " $VARIANTS " == *" atod "* ]] || with_teacher=${VARIANTS%% *}
	[ "$variant" = "$with_teacher" ] || sets+=(--set "eval.teacher=false")
	[ -n "${METHODS[$variant]+set}" ] || { echo "unknown variant $variant: want one of ${!METHODS[*]}" >&2; return 1; }
	local spec=(${METHODS[$variant]}) kv
	sets+=(--method "${spec[0]}")
	for kv in "${spec[@]:1}" ${EXTRA:-}; do sets+=(--set "$kv"); done
	if [ -f "$dir/report.md" ] && grep -q '"model":"student"' "$dir/metrics.jsonl" 2>/dev/null &&
		[ "$(grep -c '"kind":"train"' "$dir/metrics.jsonl")" -ge "$STEPS" ]; then
		echo "== $dir: done, kept"
		return 0
	fi
	rm -rf "$dir"
	local start=$(date +%s)
	if ! "$ATOD" run "${CONFIGS[$env]}" "${sets[@]}" >"$dir.log" 2>&1; then
		echo "== $dir: FAILED, see $dir.log" >&2
		tail -5 "$dir.log" >&2
		return 1
	fi
	echo $(($(date +%s) - start)) >"$dir/wall_s"
	echo "== $dir: $(cat "$dir/wall_s") s"
}

# JOBS runs at a time; ggml's threads spin, so JOBS × THREADS should not exceed the cores.
failed=0
for env in "${ENVS[@]}"; do
	mkdir -p "$RUNS/$env"
	for variant in $VARIANTS; do
		for seed in $SEEDS; do
			while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || failed=1; done
			run_one "$env" "$variant" "$seed" &
		done
	done
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || failed=1; done
[ $failed -eq 0 ] || { echo "some runs failed" >&2; exit 1; }
"$ATOD" compare --out "$RUNS" "$RUNS"/*/*/
cat "$RUNS/results.md"
for env in "${ENVS[@]}"; do
	echo "curves and episodes: $ATOD view $RUNS/$env/*/ (tick \"group by env and method\")"
done
