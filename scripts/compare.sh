#!/usr/bin/env bash
# The comparison table: for each env, at the same step budget and over several
# seeds, GRPO, OPD, ATOD without T-DUR and ATOD train the same student from the
# same teacher (scripts/baselines/*.toml and config.toml, differing only in the
# schedule and T-DUR). The teacher and the student at start are the step-0
# evaluations of those runs. Writes RUNS/results.md (mean ± std of the final
# held-out success, read from each run's metrics.jsonl) and RUNS/ENV-success.svg.
# Usage: scripts/compare.sh [ENV...]     (default: every env with models/ENV-{teacher,student}.gguf)
# Env: ATOD (default ./atod), SEEDS (default "1 2 3"), STEPS (default 30),
#      RUNS (default runs/compare), EXTRA (more --set arguments for every run).
set -euo pipefail
cd "$(dirname "$0")/.."
ATOD=${ATOD:-./atod}
SEEDS=${SEEDS:-1 2 3}
STEPS=${STEPS:-30}
RUNS=${RUNS:-runs/compare}
[ -x "$ATOD" ] || { echo "build atod first: make" >&2; exit 1; }
ENVS=("$@")
if [ ${#ENVS[@]} -eq 0 ]; then
	for e in household webshop searchqa; do
		[ -f models/$e-teacher.gguf ] && [ -f models/$e-student.gguf ] && ENVS+=("$e")
	done
fi
[ ${#ENVS[@]} -gt 0 ] || { echo "no models: run scripts/build-tiny-models.sh" >&2; exit 1; }

# The env options the tiny models were built for (scripts/build-tiny-models.sh).
declare -A ENV_SETS=(
	[household]="env.options.max_receptacles=4 env.options.max_objects=2 env.options.max_steps=20"
	[webshop]=""
	[searchqa]=""
)
declare -A CONFIGS=(
	[grpo]=scripts/baselines/grpo.toml
	[opd]=scripts/baselines/opd.toml
	[atod-no-tdur]=scripts/baselines/atod-no-tdur.toml
	[atod]=config.toml
)

for env in "${ENVS[@]}"; do
	sets=(--set "env.name=$env" --set "steps=$STEPS"
		--set "student.model=$PWD/models/$env-student.gguf" --set "teacher.model=$PWD/models/$env-teacher.gguf")
	for kv in ${ENV_SETS[$env]:-} ${EXTRA:-}; do sets+=(--set "$kv"); done
	mkdir -p "$RUNS/$env"
	for variant in grpo opd atod-no-tdur atod; do
		for seed in $SEEDS; do
			dir=$RUNS/$env/$variant-s$seed
			if [ -f "$dir/report.md" ] && grep -q '"model":"student"' "$dir/metrics.jsonl" 2>/dev/null &&
				[ "$(grep -c '"kind":"train"' "$dir/metrics.jsonl")" -ge "$STEPS" ]; then
				echo "== $dir: done, kept"
				continue
			fi
			rm -rf "$dir"
			echo "== $dir"
			start=$(date +%s)
			"$ATOD" run "${CONFIGS[$variant]}" "${sets[@]}" --set "seed=$seed" --set "out_dir=$dir" >"$dir.log" 2>&1 ||
				{ echo "run failed, see $dir.log" >&2; tail -5 "$dir.log" >&2; exit 1; }
			echo "   $(($(date +%s) - start)) s"
		done
	done
done
go run ./scripts/comparetable "$RUNS"
cat "$RUNS/results.md"
