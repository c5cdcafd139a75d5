#!/usr/bin/env bash
# make bench (after bench.sh): cmd/serve under load on loopback against the Python baseline server
# (scripts/serve_baseline.py) over the same SavedModel, alternating Go and Python runs; merges the
# serve_* keys into bench/results.json and rewrites the serve section of BENCHMARKS.md (see
# cmd/serveload). Arguments go to cmd/serveload, e.g.:
#   bash scripts/bench-serve.sh -pairs 5 -requests 800 -memory_requests 0
# Takes about 5–10 minutes on 2 shared CPUs with the defaults (a 10,000-request memory run included).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
GO=${GO:-go}
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || {
	echo "bench-serve: no $PY: run make pyenv (scripts/setup-python.sh)" >&2
	exit 1
}
mkdir -p bench/out
echo "bench-serve: building cmd/serve and cmd/serveload"
"$GO" build -o bench/out/serve ./cmd/serve
"$GO" build -o bench/out/serveload ./cmd/serveload
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
exec bench/out/serveload -serve bench/out/serve -python "$PY" -baseline scripts/serve_baseline.py \
	-out bench/results.json -md BENCHMARKS.md "$@"
