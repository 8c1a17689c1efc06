#!/usr/bin/env bash
# The paper's regime at small scale, one env at a time, in two stages:
#   ceiling  OPD alone, as it is and with more capacity or signal (compare.sh's
#            opd-* variants: LoRA rank 32, every weight trained, a 4× step
#            size or a 5× smaller one, the top-k term), one seed over a long budget: how close OPD
#            brings the student to its teacher, and from which step it is flat;
#   compare  teacher, student at start, GRPO, OPD, ATOD, ATOD without T-DUR and
#            ATOD without annealing, SEEDS × the same EVAL_TASKS held-out tasks,
#            greedy and at the paper's validation temperature (0.4), final and
#            best over the run, at the budget the ceiling chose (STEPS) with the
#            schedule's anneal T at about half of it (the paper: 80 of 150).
# The runs go through scripts/compare.sh; each stage's generated tables, its
# command and its wall time replace that stage's section of docs/results.md.
# Usage: scripts/regime.sh ceiling|compare ENV
# Env: STEPS (default 100 for ceiling, 60 for compare), SEEDS (default 1 for
#      ceiling, "1 2 3 4 5" for compare), EVAL_EVERY (default STEPS/10),
#      VARIANTS, EXTRA (more --set for every run, e.g. the ceiling's winning
#      learner settings), RUNS (default runs/regime-STAGE), JOBS, THREADS.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: scripts/regime.sh ceiling|compare ENV" >&2; exit 2; }
stage=$1 env=$2
case $stage in
ceiling)
	STEPS=${STEPS:-100} SEEDS=${SEEDS:-1}
	VARIANTS=${VARIANTS:-opd opd-r32 opd-full opd-lr1e-3 opd-lr2e-2 opd-topk}
	SAMPLED_T=0 ;;
compare)
	STEPS=${STEPS:-60} SEEDS=${SEEDS:-1 2 3 4 5}
	VARIANTS=${VARIANTS:-grpo opd atod-no-tdur atod-no-anneal atod}
	SAMPLED_T=0.4 ;;
*) echo "regime: unknown stage $stage: want ceiling or compare" >&2; exit 2 ;;
esac
EVAL_EVERY=${EVAL_EVERY:-$((STEPS / 10))}
RUNS=${RUNS:-runs/regime-$stage}
extra="eval.every=$EVAL_EVERY schedule.anneal_steps=$(((STEPS + 1) / 2))${EXTRA:+ $EXTRA}"
command="RUNS=$RUNS STEPS=$STEPS SEEDS=\"$SEEDS\" EVAL_EVERY=$EVAL_EVERY VARIANTS=\"$VARIANTS\"${EXTRA:+ EXTRA='$EXTRA'} scripts/regime.sh $stage $env"

start=$(date +%s)
RUNS=$RUNS STEPS=$STEPS SEEDS=$SEEDS VARIANTS=$VARIANTS SAMPLED_T=$SAMPLED_T EXTRA=$extra \
	scripts/compare.sh "$env" >/dev/null
wall=$(($(date +%s) - start))
# compare.sh keeps finished runs: the wall time counts only the runs made now,
# the runs' own wall_s files every run.
runs=$(ls -d "$RUNS/$env"/*/ | wc -l)
run_s=$(cat "$RUNS/$env"/*/wall_s | awk '{ s += $1 } END { print s + 0 }')

# A section per env and runs folder, so that a second ceiling (another student) keeps the first.
name=$(basename "$RUNS")
# compare.sh's results.md covers every env in RUNS: tabulate this env's runs alone.
tables=$(mktemp -d)
"${ATOD:-./atod}" compare --out "$tables" "$RUNS/$env"/*/ >/dev/null
begin="<!-- $name $env: scripts/regime.sh writes this section -->"
end="<!-- /$name $env -->"
section=$(mktemp)
{
	echo "$begin"
	case $stage in
	ceiling) echo "### $env: OPD's ceiling, $RUNS ($(date -u +%Y-%m-%d))" ;;
	compare) echo "### $env: the seven-row comparison, $RUNS ($(date -u +%Y-%m-%d))" ;;
	esac
	echo
	echo '```sh'
	echo "make && $command"
	echo '```'
	echo
	echo "$runs runs in $RUNS/$env, $((run_s / 60)) min of run time in all (${JOBS:-$(nproc)} at a time, ${THREADS:-1} thread(s) each, on $(nproc) cores); this invocation took $((wall / 60)) min $((wall % 60)) s (runs kept from an earlier one are not redone)."
	echo "Every run: \`--set ${extra// / --set }\` over the env's config, $STEPS steps."
	echo
	# compare's headings one level down, its plot beside this file.
	sed -e 's/^### /#### /' -e 's/^## /#### /' -e 's/^# /#### /' "$tables/results.md"
	echo
	echo "![$env $stage]($name-$env.svg)"
	echo "$end"
} >"$section"
cp "$tables/$env-success.svg" "docs/$name-$env.svg"
scripts/results-section.sh "$begin" "$end" "$section"
rm -rf "$section" "$tables"
echo "docs/results.md: $name $env section updated"
