#!/usr/bin/env bash
# make demo: the whole toolkit on the synthetic fine-grained benchmark, on a CPU, in about ten minutes.
#   1. builds the commands;
#   2. generates the benchmark (configs/demo.yaml: data.synthetic.*) into data.root, unless it is there;
#   3. trains configs/demo.yaml into the run directory (a fresh run: an old one there is replaced);
#   4. evaluates the selected checkpoint on the test split (top-1, top-5, per-class, confusion matrix);
#   5. exports it as a SavedModel and classifies a few test images with it;
#   6. prints where everything went.
# Environment: DEMO_RUN (run directory, default runs/demo), DEMO_SET (extra -set overrides, e.g.
# "train.seed=2 train.epochs=5"), FINEGRAIN_* (any configuration key, see configs/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}

config=configs/demo.yaml
run=${DEMO_RUN:-runs/demo}
sets=()
for kv in ${DEMO_SET:-}; do sets+=(-set "$kv"); done
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
step() { printf '\n== %s\n' "$*"; }
start=$(date +%s)

step "building cmd/train, cmd/eval, cmd/export, cmd/predict"
go build -o "$bin/" ./cmd/train ./cmd/eval ./cmd/export ./cmd/predict

step "synthetic benchmark (data.synthetic in $config)"
# -prepare generates the benchmark into data.root (once; later runs find it complete) and indexes it.
"$bin/train" -config "$config" "${sets[@]}" -prepare
root=$("$bin/train" -config "$config" "${sets[@]}" -dry-run -json | sed -n 's/.*"root":"\([^"]*\)".*/\1/p')

step "training $config -> $run"
"$bin/train" -config "$config" "${sets[@]}" -out "$run" -force

step "evaluating the selected checkpoint on the test split"
"$bin/eval" -model "$run" -split test -out "$run/eval-test"

step "exporting a SavedModel"
rm -rf "$run/export"
"$bin/export" -checkpoint "$run" -best -out "$run/export"
mapfile -t samples < <(awk 'NR==FNR { if ($2 == 0) test[$1] = 1; next } ($1 in test) { print $2 }' \
	"$root/train_test_split.txt" "$root/images.txt" | awk 'NR % 97 == 1' | head -3)
if [ "${#samples[@]}" -gt 0 ]; then
	step "classifying ${#samples[@]} test images with the SavedModel (cmd/predict)"
	"$bin/predict" -model "$run/export" "${samples[@]/#/$root/images/}" || echo "(predict failed; the SavedModel is still in $run/export)"
fi

took=$(($(date +%s) - start))
step "done in $((took / 60))m$((took % 60))s"
cat <<EOF
  dataset           $root (CUB layout; contact sheet: go run ./cmd/synth -contact sheet.png)
  run directory     $run
    config.yaml       the resolved configuration
    metrics.jsonl     one line per epoch (also metrics.csv)
    summary.json      test accuracy of the selected model, timings
    checkpoints/      latest and best checkpoints (resume: go run ./cmd/train -resume -out $run)
    events/           TensorBoard: tensorboard --logdir $run/events
    eval-test/        metrics.json, per_class.csv, confusion.csv
    export/           SavedModel (serving_default, predict_jpeg), assets/labels.txt
EOF
sed -n 's/^  "\(test_top1\|test_top5\|test_mean_class_acc\|val_top1\|epochs\|wall_seconds\|images_per_second\)": \(.*\),$/  \1: \2/p' "$run/summary.json"
