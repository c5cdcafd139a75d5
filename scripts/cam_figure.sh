#!/usr/bin/env bash
# docs/cam_variants.png: the class activation maps of the five variants (none, fcn, ca, sa, csca) on the
# same synthetic test images, side by side, as `predict -cam` draws them.
#   1. builds cmd/train, cmd/export, cmd/predict;
#   2. trains each variant with configs/demo.yaml for CAM_EPOCHS epochs (default 25, the demo's
#      schedule: 922 s on this 2-core machine for the five, other work sharing it; CAM_EPOCHS=2 gives near-chance models in a
#      minute, to check the figure's layout), into its own synthetic data root under CAM_WORK; the
#      caption states each model's test top-1;
#   3. exports each run, takes the first test image of CAM_CLASSES species (same seed, same images for
#      every variant), runs predict -cam on them with each model;
#   4. lays the maps out with internal/camviz/camgrid: rows are images (titled with the true species),
#      columns are variants.
# Environment: CAM_WORK (scratch folder, default /tmp/camfig), CAM_EPOCHS, CAM_CLASSES (default
# "1 4 7 10": class ids of classes.txt), CAM_OUT (default docs/cam_variants.png).
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}

work=${CAM_WORK:-/tmp/camfig}
epochs=${CAM_EPOCHS:-25}
classes=${CAM_CLASSES:-1 4 7 10}
out=${CAM_OUT:-docs/cam_variants.png}
variants=(none fcn ca sa csca)
data=$work/data
step() { printf '\n== %s\n' "$*"; }
start=$(date +%s)

step "building cmd/train, cmd/export, cmd/predict"
mkdir -p "$work/bin"
go build -o "$work/bin/" ./cmd/train ./cmd/export ./cmd/predict

for v in "${variants[@]}"; do
  step "training $v for $epochs epochs"
  "$work/bin/train" -config configs/demo.yaml -set data.root="$data" -set model.attention="$v" \
    -set train.epochs="$epochs" -out "$work/runs/$v" -force -quiet
  rm -rf "$work/runs/$v/export"
  "$work/bin/export" -model "$work/runs/$v" -out "$work/runs/$v/export"
done

step "test images: the first of classes $classes"
rm -rf "$work/images" "$work/cams"
mkdir -p "$work/images"
for c in $classes; do
  # images.txt: id path; image_class_labels.txt: id class; train_test_split.txt: id is_train.
  id=$(awk -v c="$c" 'FNR == 1 { f++ } f == 1 && $2 == c { want[$1] = 1 } f == 2 && $2 == 0 && ($1 in want) { print $1; exit }' \
    "$data/image_class_labels.txt" "$data/train_test_split.txt")
  path=$(awk -v id="$id" '$1 == id { print $2 }' "$data/images.txt")
  species=$(basename "$(dirname "$path")")
  cp "$data/images/$path" "$work/images/$(printf '%02d' "$c")_${species#*.}.jpg"
done
ls "$work/images"

for v in "${variants[@]}"; do
  step "predict -cam with $v"
  "$work/bin/predict" -model "$work/runs/$v/export" -topk 1 -cam "$work/cams/$v" "$work/images"
done

step "composing $out"
# The caption states what each model measured on the test split, so no one reads more into the maps.
scores=$(for v in "${variants[@]}"; do
  awk -v v="$v" 'match($0, /"test_top1": *[0-9.]+/) { s = substr($0, RSTART, RLENGTH); sub(/.*: */, "", s); printf "%s %.1f%%  ", v, 100 * s }' "$work/runs/$v/summary.json"
done)
go run ./internal/camviz/camgrid -out "$out" -columns "$(IFS=,; echo "${variants[*]}")" \
  -title "Class activation maps (predict -cam) of the five variants on the same synthetic test images; rows: the true species.\nEach model: $epochs epochs of configs/demo.yaml from scratch, one seed; test top-1 ${scores}(chance 10%).\nThe maps show where each model looks, not whether attention helps. The map is the top class's; outside the centre crop (grey) the model sees nothing." \
  $(for v in "${variants[@]}"; do printf '%s ' "$work/cams/$v"; done)
echo "wrote $out in $(( $(date +%s) - start ))s"
