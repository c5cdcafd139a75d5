#!/usr/bin/env bash
# Data-parallel training on one machine, measured: one process with 2 intra-op threads, one process with
# two CPU devices (two towers), and two cmd/worker processes on loopback ports with one thread each,
# all on the same csca-ResNet18 ×0.5 at 64 px, batch 16. Prints the training images/s of each and the
# loopback bytes per training step of the two-worker run (the difference of a 3-epoch and a 1-epoch run,
# divided by the steps between them, so graph setup and the final evaluation cancel; other traffic on
# the loopback interface in that time counts too).
#
# Usage: bash scripts/bench-cluster.sh [OUT_DIR]   (default bench/out/cluster)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out/cluster}
if [ $# -eq 0 ]; then
	rm -rf "$out" # the script's own scratch folder
elif [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
	echo "bench-cluster: $out exists and is not empty; give a new or empty folder" >&2
	exit 2
fi
mkdir -p "$out"
export TF_CPP_MIN_LOG_LEVEL=2
go build -o "$out/train" ./cmd/train
go build -o "$out/worker" ./cmd/worker

cat >"$out/bench.yaml" <<EOF
model:
  attention: csca
  depth: 18
  width_multiplier: 0.5
data:
  format: synthetic
  root: $out/synth
  image_size: 64
  resize_size: 72
  val_fraction: 0
  workers: 1
  synthetic:
    classes: 10
    per_class: 40
    train_fraction: 0.5
    image_size: 64
    seed: 1
train:
  epochs: 2
  batch_size: 16
  optimizer: sgd
  lr: 0.01
  selection: last
  eval_every_epochs: 100
  seed: 1
log:
  tensorboard: false
  cam_images: 0
EOF

ips() { python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["images_per_second"], 2))' "$1/summary.json"; }
lo_bytes() { awk '$1=="lo:"{print $2}' /proc/net/dev; }
run() { # name, then -set arguments
	local name=$1
	shift
	"$out/train" -config "$out/bench.yaml" -out "$out/$name" -quiet "$@" >"$out/$name.log" 2>&1
}

run warmup -set train.epochs=1 # generates the dataset
run local_1x2 -set runtime.intra_op_threads=2 -set runtime.inter_op_threads=2
run local_2towers -set runtime.intra_op_threads=2 -set runtime.inter_op_threads=2 -set runtime.cpu_devices=2 \
	-set 'runtime.devices=[/device:CPU:0, /device:CPU:1]'

port0=$((20000 + RANDOM % 20000))
port1=$((port0 + 1))
cluster="127.0.0.1:$port0,127.0.0.1:$port1"
"$out/worker" -cluster "$cluster" -task 0 -threads 1 -inter_threads 2 2>"$out/worker0.log" &
w0=$!
"$out/worker" -cluster "$cluster" -task 1 -threads 1 -inter_threads 2 2>"$out/worker1.log" &
w1=$!
trap 'kill $w0 $w1 2>/dev/null || true' EXIT
sleep 3
workers="cluster.workers=[127.0.0.1:$port0, 127.0.0.1:$port1]"
run workers_2x1 -set "$workers"
b0=$(lo_bytes)
run bytes_e1 -set "$workers" -set train.epochs=1
b1=$(lo_bytes)
run bytes_e3 -set "$workers" -set train.epochs=3
b2=$(lo_bytes)
steps_per_epoch=$((200 / 16))

python3 - "$out" "$((b1 - b0))" "$((b2 - b1))" "$steps_per_epoch" "$(ips "$out/local_1x2")" "$(ips "$out/local_2towers")" "$(ips "$out/workers_2x1")" <<'EOF'
import json, sys
out, e1, e3, spe, a, b, c = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), *map(float, sys.argv[5:8])
res = {
    "images_per_second": {"1 process x 2 threads": a, "1 process, 2 CPU devices (2 towers)": b, "2 workers x 1 thread": c},
    "loopback_bytes_per_step": round((e3 - e1) / (2 * spe)),
    "loopback_bytes_1_epoch_run": e1, "loopback_bytes_3_epoch_run": e3,
    "grpc_ms_per_step_vs_2_towers": round((16 / c - 16 / b) * 1000, 1),
}
json.dump(res, open(f"{out}/result.json", "w"), indent=1)
print(json.dumps(res, indent=1))
EOF
