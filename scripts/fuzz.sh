#!/usr/bin/env bash
# Runs every fuzz target of the pure-Go packages, one at a time (Go fuzzes one
# target per `go test` call), each for ${FUZZTIME:-60s}.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-60s}
for dir in $(go list -f '{{.Dir}}' ./envs/...); do
	pkg=$(go list "$dir")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "== $pkg $target ($FUZZTIME)"
		go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME"
	done
done
