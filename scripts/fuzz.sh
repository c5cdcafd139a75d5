#!/usr/bin/env bash
# Runs every Go fuzz target of the repository for a bounded time each (make fuzz FUZZTIME=30s):
#
#   bash scripts/fuzz.sh [FUZZTIME]      FUZZTIME as go test -fuzztime takes it: 30s, 2m, 10000x
#
# The targets are found, not listed here: go test -list '^Fuzz' in every package whose test files
# declare a func Fuzz..., so a new target is fuzzed as soon as it exists. Each runs alone
# (go test -run '^$' -fuzz '^Name$'), on all CPUs. An input that fails is written by go test to the
# package's testdata/fuzz/<Name>/; commit it, it then runs with every go test as a regression case.
# FUZZMINIMIZETIME (default 1000x: a thousand runs, which keeps minimisation from eating a short
# budget) bounds the minimisation of each new or failing input. Exits 1 if a target failed.
set -euo pipefail

fuzztime="${1:-30s}"
minimize="${FUZZMINIMIZETIME:-1000x}"
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

targets=()
while read -r pkg dir; do
	grep -qsE '^func Fuzz[A-Z0-9_]' "$dir"/*_test.go || continue
	while read -r name; do
		targets+=("$pkg $name")
	done < <(go test -list '^Fuzz' "$pkg" | grep -E '^Fuzz')
done < <(go list -f '{{.ImportPath}} {{.Dir}}' ./...)

if [ "${#targets[@]}" -eq 0 ]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi
echo "fuzz: ${#targets[@]} targets, $fuzztime each (minimisation up to $minimize per new input)"

failed=()
summary=()
start_all=$SECONDS
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	log="$logs/$name.log"
	start=$SECONDS
	echo "fuzz: $name ($pkg)"
	status=ok
	if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "$pkg" >"$log" 2>&1; then
		status=FAILED
		failed+=("$name")
		tail -n 40 "$log" >&2
	fi
	execs="$(grep -oE 'execs: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+' || true)"
	summary+=("$(printf '%-28s %-6s %5ds %12s execs  %s' "$name" "$status" $((SECONDS - start)) "${execs:-?}" "$pkg")")
done

echo
echo "fuzz: summary (fuzztime $fuzztime per target)"
printf '  %s\n' "${summary[@]}"
echo "fuzz: ${#targets[@]} targets in $((SECONDS - start_all))s, ${#failed[@]} failed"
if [ "${#failed[@]}" -gt 0 ]; then
	echo "fuzz: failed: ${failed[*]} (the failing inputs are in the packages' testdata/fuzz/)" >&2
	exit 1
fi
