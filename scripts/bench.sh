#!/usr/bin/env bash
# make bench-quick / make bench: build cmd/bench and run it, which writes BENCHMARKS.md and
# bench/results.json (see cmd/bench/main.go). quick takes a few minutes on 2 CPUs, build included:
# the run's time budget counts from this script's start, and measurements that would not fit in it
# (the attention variants) are skipped and reported as such. full takes up to about 45 minutes.
set -euo pipefail
start=$(date +%s)
mode=${1:-quick}
case "$mode" in
quick | full) ;;
*)
	echo "usage: bash scripts/bench.sh quick|full" >&2
	exit 2
	;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
GO=${GO:-go}
mkdir -p bench/out
echo "bench: building cmd/bench"
"$GO" build -o bench/out/bench ./cmd/bench
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
exec bench/out/bench -mode "$mode" -since "$start" -out bench/results.json -md BENCHMARKS.md
