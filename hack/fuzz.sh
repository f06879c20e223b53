#!/usr/bin/env bash
# Runs every Go fuzz target in the repository for the given time each
# (default 30s) and prints one line per target with its executions.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fuzztime="${1:-30s}"
status=0
for pkg in $(go list ./...); do
  dir="$(go list -f '{{.Dir}}' "$pkg")"
  targets="$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u || true)"
  for t in $targets; do
    out="$(go test "$pkg" -run='^$' -fuzz="^${t}\$" -fuzztime="$fuzztime" 2>&1)" || { status=1; echo "FAIL $pkg $t"; echo "$out" | tail -20; continue; }
    execs="$(echo "$out" | grep -o 'execs: [0-9]*' | tail -1 || true)"
    echo "ok   $pkg $t $fuzztime ${execs}"
  done
done
exit $status
