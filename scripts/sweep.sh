#!/usr/bin/env bash
# A sweep: datasets × variants × seeds, one run directory each (see cmd/sweep for every flag). For example
#
#   bash scripts/sweep.sh -datasets cub,dogs,cars -variants none,fcn,ca,sa,csca -seeds 1,2,3 -out runs/sweep
#   bash scripts/sweep.sh ... -dry-run      # the plan only
#   go run ./cmd/report -paper runs/sweep   # then the Table 1 report
#
# Finished runs are skipped and interrupted ones resumed when it is run again; Ctrl-C checkpoints the runs.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./cmd/sweep "$@"
