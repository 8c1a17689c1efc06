#!/usr/bin/env bash
# Puts a generated section into docs/results.md: replaces the lines from the
# line BEGIN to the line END (both included) with SECTION_FILE, which starts
# with BEGIN and ends with END; appends it when BEGIN is not there yet.
# Usage: scripts/results-section.sh BEGIN END SECTION_FILE
set -euo pipefail
cd "$(dirname "$0")/.."
begin=$1 end=$2 section=$3
if grep -qxF "$begin" docs/results.md; then
	awk -v b="$begin" -v e="$end" -v f="$section" '
		$0 == b { while ((getline l < f) > 0) print l; skip = 1; next }
		$0 == e { skip = 0; next }
		!skip' docs/results.md >docs/results.md.new
	mv docs/results.md.new docs/results.md
else
	{ echo; cat "$section"; } >>docs/results.md
fi
