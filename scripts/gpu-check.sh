#!/usr/bin/env bash
# GPU check: what no machine of the project could run. For anyone with an NVIDIA GPU and the CUDA build
# installed (TF_VARIANT=gpu make setup; see README.md, "GPU"). Under 8 minutes on one H100 (planned:
# this script has not run on a GPU yet). It
#   1. lists the GPU (nvidia-smi) and checks that TensorFlow loads CUDA and sees it (cmd/tfinfo);
#   2. trains every attention variant for a few steps on a small synthetic set, with and without
#      train.mixed_precision (cmd/train), and checks each ends with a finite loss;
#   3. exports one of those models (cmd/export) and classifies the test images with it on the GPU and
#      on the CPU (CUDA_VISIBLE_DEVICES=""), cmd/predict both times: every class probability of every image
#      of the set must agree within GPU_CHECK_TOL (default 0.02; float32 convolutions and matrix products run as TF32
#      on Ampere and later GPUs, about 1e-3 relative on the logits);
#   4. measures ResNet-50 at 448 px: training images/s (batch 32) and SavedModel inference latency at
#      batch 1 and 32, with cmd/bench's workers (internal/bench: the timings `make bench` uses);
#   5. writes everything as JSON to GPU_CHECK_OUT (default bench/out/gpu-check.json) and prints it.
# Needs: go, the TensorFlow C library (make setup), nvidia-smi and an NVIDIA driver, python3 (to
# compare the predictions and write the JSON). A build against an install outside the default
# search path takes CGO_CFLAGS/CGO_LDFLAGS from the environment (setup prints them).
#
# GPU_CHECK_ALLOW_CPU=1 runs the same steps on a machine without a GPU at tiny sizes (32-px variants,
# ResNet-50 at 64 px, batch 2): it checks the script's mechanics, not a GPU; its figures mean nothing.
# Exit status: 0 all checks passed, 1 a check failed (the JSON says which), 2 cannot run here.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
allow_cpu=${GPU_CHECK_ALLOW_CPU:-0}
out=${GPU_CHECK_OUT:-bench/out/gpu-check.json}
tol=${GPU_CHECK_TOL:-0.02}
die() { echo "gpu-check: $*" >&2; exit 2; }
step() { printf '\n== %s (%ds)\n' "$*" $(($(date +%s) - start)) >&2; }

if [ "$allow_cpu" = 1 ]; then
	mode=cpu
	size=32 synth=40 classes=4 per_class=8 batch=4 depth=18 width=0.25
	bench_size=64 bench_batch=2 bench_steps=2 bench_warmup=0 infer_batches='[1, 2]' infer_iters=2
else
	mode=gpu
	size=224 synth=256 classes=10 per_class=40 batch=32 depth=18 width=1
	bench_size=448 bench_batch=32 bench_steps=10 bench_warmup=3 infer_batches='[1, 32]' infer_iters=20
fi
command -v go >/dev/null || die "go not found"
command -v python3 >/dev/null || die "python3 not found"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/res" "$(dirname "$out")"

step "GPU"
if command -v nvidia-smi >/dev/null && nvidia-smi -L >"$work/res/gpus.txt" 2>&1; then
	cat "$work/res/gpus.txt" >&2
	nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$work/res/gpu.csv" 2>/dev/null || true
elif [ "$mode" = cpu ]; then
	echo "no GPU (nvidia-smi: $(command -v nvidia-smi || echo not found)); GPU_CHECK_ALLOW_CPU=1: going on with the CPU" >&2
	: >"$work/res/gpus.txt"
else
	die "nvidia-smi lists no GPU (set GPU_CHECK_ALLOW_CPU=1 to check the script's mechanics on a CPU)"
fi

step "building cmd/tfinfo, cmd/train, cmd/export, cmd/predict, cmd/bench"
go build -o "$work/bin/" ./cmd/tfinfo ./cmd/train ./cmd/export ./cmd/predict ./cmd/bench
bin=$work/bin

step "TensorFlow runtime (cmd/tfinfo)"
tfinfo_ok=true
"$bin/tfinfo" >"$work/res/tfinfo.txt" 2>"$work/res/tfinfo.err" || tfinfo_ok=false
cat "$work/res/tfinfo.txt" >&2
if [ "$mode" = gpu ] && ! grep -q '^gpu: yes$' "$work/res/tfinfo.txt"; then
	tfinfo_ok=false
	echo "gpu-check: TensorFlow sees no GPU (cmd/tfinfo above)" >&2
fi

step "synthetic set ($classes classes, $per_class images each, $synth px)"
sets=(-set data.format=synthetic -set "data.root=$work/synth" -set "data.synthetic.classes=$classes"
	-set "data.synthetic.per_class=$per_class" -set "data.synthetic.image_size=$synth" -set data.synthetic.seed=1
	-set "data.image_size=$size" -set data.resize_size=0 -set data.val_fraction=0 -set train.selection=last
	-set "model.depth=$depth" -set "model.width_multiplier=$width" -set "train.batch_size=$batch"
	-set train.epochs=1 -set train.warmup_epochs=0 -set log.tensorboard=false -set log.cam_images=0)
"$bin/train" -config configs/demo.yaml "${sets[@]}" -prepare >&2

for variant in none fcn ca sa csca; do
	for mp in false true; do
		name=$variant-mp-$mp
		step "training $name"
		t0=$(date +%s.%N)
		status=ok
		"$bin/train" -config configs/demo.yaml "${sets[@]}" -set "model.attention=$variant" \
			-set "train.mixed_precision=$mp" -out "$work/runs/$name" -quiet \
			>"$work/res/train-$name.log" 2>&1 || status=failed
		t1=$(date +%s.%N)
		tail -3 "$work/res/train-$name.log" >&2
		python3 - "$work/runs/$name" "$variant" "$mp" "$status" "$t0" "$t1" >"$work/res/train-$name.json" <<'EOF'
import json, math, os, sys
run, variant, mp, status, t0, t1 = sys.argv[1:]
rec = {"variant": variant, "mixed_precision": mp == "true", "seconds": round(float(t1) - float(t0), 1)}
try:
    s = json.load(open(os.path.join(run, "summary.json")))
    rec.update(images_per_second=s.get("images_per_second"), test_top1=s.get("test_top1"))
except (OSError, ValueError) as e:
    rec["error"] = f"summary.json: {e}"
losses = []
try:
    for line in open(os.path.join(run, "metrics.jsonl")):
        m = json.loads(line)
        if isinstance(m.get("train_loss"), (int, float)):
            losses.append(m["train_loss"])
except (OSError, ValueError) as e:
    rec["error"] = f"metrics.jsonl: {e}"
rec["last_loss"] = losses[-1] if losses else None
rec["ok"] = status == "ok" and "error" not in rec and bool(losses) and all(math.isfinite(l) for l in losses)
if status != "ok":
    rec["error"] = "cmd/train failed (see its log)"
print(json.dumps(rec))
EOF
	done
done

step "exporting csca-mp-false; predictions on the GPU and on the CPU"
"$bin/export" -model "$work/runs/csca-mp-false" -out "$work/export" >&2
images=$work/synth/images # every image of the set (the synthetic set has the CUB layout)
"$bin/predict" -model "$work/export" -json -topk "$classes" "$images" >"$work/res/predict-gpu.json"
CUDA_VISIBLE_DEVICES= "$bin/predict" -model "$work/export" -json -topk "$classes" "$images" >"$work/res/predict-cpu.json"

step "ResNet-50 at $bench_size px: training throughput (batch $bench_batch)"
"$bin/bench" -worker train -spec "{\"attention\":\"none\",\"depth\":50,\"image_size\":$bench_size,\"batch\":$bench_batch,\"classes\":200,\"warmup\":$bench_warmup,\"steps\":$bench_steps,\"settings\":{\"inter_op_threads\":2}}" \
	>"$work/res/bench-train.json" || echo '{"error": "cmd/bench -worker train failed"}' >"$work/res/bench-train.json"

step "ResNet-50 at $bench_size px: SavedModel inference latency (batches $infer_batches)"
infer="{\"dir\":\"$work/r50\",\"attention\":\"none\",\"depth\":50,\"image_size\":$bench_size,\"classes\":200,\"batches\":$infer_batches,\"iters\":$infer_iters,\"settings\":{\"inter_op_threads\":2}}"
if "$bin/bench" -worker export -spec "$infer" >/dev/null; then
	"$bin/bench" -worker infer -spec "$infer" >"$work/res/bench-infer.json" ||
		echo '{"error": "cmd/bench -worker infer failed"}' >"$work/res/bench-infer.json"
else
	echo '{"error": "cmd/bench -worker export failed"}' >"$work/res/bench-infer.json"
fi

step "results"
python3 - "$work/res" "$mode" "$tol" "$tfinfo_ok" "$(($(date +%s) - start))" >"$out" <<'EOF'
import glob, json, os, sys
res, mode, tol, tfinfo_ok, elapsed = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4] == "true", int(sys.argv[5])
def load(name):
    try:
        return json.load(open(os.path.join(res, name)))
    except (OSError, ValueError) as e:
        return {"error": f"{name}: {e}"}
def probs(name):
    rows = json.load(open(os.path.join(res, name)))
    return {r["file"]: {c["class_id"]: c["probability"] for c in r.get("top", [])} for r in rows}
out = {"mode": mode, "elapsed_seconds": elapsed,
       "gpus": open(os.path.join(res, "gpus.txt")).read().strip().splitlines(),
       "gpu_name_driver_memory": (open(os.path.join(res, "gpu.csv")).read().strip().splitlines()
                                  if os.path.exists(os.path.join(res, "gpu.csv")) else []),
       "tfinfo": {"ok": tfinfo_ok, "output": open(os.path.join(res, "tfinfo.txt")).read().splitlines()}}
out["train"] = [load(os.path.basename(p)) for p in sorted(glob.glob(os.path.join(res, "train-*.json")))]
try:
    g, c = probs("predict-gpu.json"), probs("predict-cpu.json")
    diff = max(abs(g[f].get(k, 0.0) - p) for f in c for k, p in c[f].items())
    top1 = sum(max(g[f], key=g[f].get) == max(c[f], key=c[f].get) for f in c if c[f] and g.get(f))
    out["gpu_vs_cpu"] = {"images": len(c), "max_abs_probability_diff": diff, "tolerance": tol,
                         "top1_agreement": top1 / max(len(c), 1), "ok": len(c) > 0 and set(g) == set(c) and diff <= tol}
except (OSError, ValueError, KeyError) as e:
    out["gpu_vs_cpu"] = {"ok": False, "error": str(e)}
t = load("bench-train.json")
out["resnet50_train"] = {"image_size": t.get("spec", {}).get("image_size"), "batch": t.get("spec", {}).get("batch"),
                         "images_per_second": t.get("images_per_s"), "error": t.get("error")}
i = load("bench-infer.json")
out["resnet50_inference"] = {"image_size": i.get("spec", {}).get("image_size"), "error": i.get("error"),
                             "median_ms": {str(b["batch"]): b["median_ms"] for b in i.get("batches", [])}}
out["ok"] = (tfinfo_ok and all(r.get("ok") for r in out["train"]) and len(out["train"]) == 10
             and out["gpu_vs_cpu"]["ok"] and out["resnet50_train"]["images_per_second"] is not None
             and len(out["resnet50_inference"]["median_ms"]) == 2)
print(json.dumps(out, indent=2))
EOF
cat "$out"
echo "gpu-check: results in $out ($(($(date +%s) - start)) s)" >&2
python3 -c 'import json, sys; sys.exit(0 if json.load(open(sys.argv[1]))["ok"] else 1)' "$out"
