#!/usr/bin/env bash
# Table 1 on the synthetic fine-grained benchmark (docs/design.md §6), at a scale that fits a 2-core CPU:
# every attention variant × SEEDS, trained from scratch with configs/demo.yaml's recipe, then the report
# (Table 1 layout beside the paper's, CSV, plots) in RUNS. One command:
#
#   bash scripts/table1.sh                 # the scale below: 15 runs, about 50 minutes on an idle 2-core CPU
#   EPOCHS=1 IMAGE_SIZE=64 SEEDS=1 RUNS=runs/table1-smoke bash scripts/table1.sh
#   bash scripts/table1.sh -dry-run        # print the plan only (arguments go to cmd/sweep)
#
# Ctrl-C stops it with a checkpoint; running it again skips the finished runs and resumes the others.
# Changing the scale needs another RUNS (finished runs are never retrained).
set -euo pipefail
cd "$(dirname "$0")/.."

# The scale: every variable can be set from the environment.
DEPTH=${DEPTH:-18}                 # ResNet depth
WIDTH=${WIDTH:-0.5}                # channel width multiplier
IMAGE_SIZE=${IMAGE_SIZE:-96}       # network input side (px); resize to IMAGE_SIZE·8/7 first
EPOCHS=${EPOCHS:-16}
SEEDS=${SEEDS:-1,2,3}
VARIANTS=${VARIANTS:-none,fcn,ca,sa,csca}
CLASSES=${CLASSES:-10}             # synthetic species (chance is 1/CLASSES)
PER_CLASS=${PER_CLASS:-160}       # images per species, half for training (10% of that for validation)
SYNTH_SIZE=${SYNTH_SIZE:-128}      # side of the generated images (px)
DIFFICULTY=${DIFFICULTY:-0.3}
PARALLEL=${PARALLEL:-1}            # runs at a time (threads are split between them)
CONFIG=${CONFIG:-configs/demo.yaml}
DATA=${DATA:-data/synth-table1}
RUNS=${RUNS:-runs/table1}

dry=0
for a in "$@"; do
	[[ $a == -dry-run || $a == --dry-run ]] && dry=1
done

echo "table1: ResNet-$DEPTH ×$WIDTH, ${IMAGE_SIZE} px, $EPOCHS epochs, seeds $SEEDS, variants $VARIANTS;" \
	"synthetic $CLASSES species × $PER_CLASS images of $SYNTH_SIZE px (difficulty $DIFFICULTY); $PARALLEL at a time -> $RUNS"
start=$(date +%s)

# Generate the benchmark once up front (a no-op when DATA already holds it), so that runs in parallel
# never generate it at the same time. The flags match the data.synthetic keys set below.
if [[ $dry == 0 ]]; then
	go run ./cmd/synth -out "$DATA" -classes "$CLASSES" -per-class "$PER_CLASS" -size "$SYNTH_SIZE" \
		-difficulty "$DIFFICULTY" -train-fraction 0.5 -seed 1
fi

status=0
go run ./cmd/sweep -config "$CONFIG" -datasets synthetic -variants "$VARIANTS" -seeds "$SEEDS" \
	-parallel "$PARALLEL" -out "$RUNS" \
	-set data.format=synthetic -set data.root="$DATA" \
	-set data.synthetic.classes="$CLASSES" -set data.synthetic.per_class="$PER_CLASS" \
	-set data.synthetic.image_size="$SYNTH_SIZE" -set data.synthetic.difficulty="$DIFFICULTY" \
	-set data.synthetic.train_fraction=0.5 -set data.synthetic.seed=1 \
	-set model.depth="$DEPTH" -set model.width_multiplier="$WIDTH" \
	-set data.image_size="$IMAGE_SIZE" -set data.resize_size=0 -set train.epochs="$EPOCHS" \
	"$@" || status=$?
[[ $dry == 1 ]] && exit "$status"

# The report covers whatever finished, even when some runs failed.
go run ./cmd/report -paper "$RUNS"

elapsed=$(($(date +%s) - start))
printf 'table1: wall time %dh%02dm%02ds (ResNet-%s ×%s, %s px, %s epochs, seeds %s, %s at a time); report in %s/report.md\n' \
	$((elapsed / 3600)) $((elapsed % 3600 / 60)) $((elapsed % 60)) "$DEPTH" "$WIDTH" "$IMAGE_SIZE" "$EPOCHS" "$SEEDS" "$PARALLEL" "$RUNS"
exit "$status"
