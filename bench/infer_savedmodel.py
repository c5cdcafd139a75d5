"""Peer benchmark: inference with Python TensorFlow on the SavedModel that the Go side times
(internal/bench.InferGo), with the same thread settings.

Two untimed rounds, then --iters timed rounds of one call of each form for each batch size (so that
all forms see the same load on a shared machine). The forms:
  numpy      the model pruned to the two outputs Go's Model.Predict fetches (logits, probabilities),
             called on a NumPy array (converted each call, as Go copies its []float32), outputs
             converted to NumPy: the like-for-like peer of Model.Predict;
  tensor     the same pruned function on a tf.constant made once: the peer of Model.PredictTensor;
  signature  model.signatures["serving_default"] on the tf.constant, which also computes the class
             activation maps: what a Python user typically calls.
With --lockstep, after the warm-up it prints 'ready' and times a round only after reading 'go' on
stdin, then prints 'done' (cmd/bench alternates these rounds with the Go ones). Prints one JSON
object. Run by cmd/bench (make bench); a benchmark peer, never product code."""
import argparse
import json
import os
import statistics
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("--dir", required=True)
p.add_argument("--batches", type=int, nargs="+", default=[1, 16])
p.add_argument("--iters", type=int, default=20)
p.add_argument("--intra", type=int, default=0)
p.add_argument("--inter", type=int, default=2)
p.add_argument("--lockstep", action="store_true")
a = p.parse_args()

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(a.intra)
tf.config.threading.set_inter_op_parallelism_threads(a.inter)
t0 = time.perf_counter()
model = tf.saved_model.load(a.dir, tags=["serve"])
sig = model.signatures["serving_default"]
load_seconds = time.perf_counter() - t0
size = int(sig.structured_input_signature[1]["images"].shape[1])
outputs = sig.structured_outputs  # graph tensors of the wrapped SavedModel graph
pruned = model.prune(sig.inputs[0].name, [outputs["logits"].name, outputs["probabilities"].name])

rng = np.random.default_rng(2)
result = {"load_seconds": load_seconds, "image_size": size, "intra_op_threads": a.intra,
          "inter_op_threads": a.inter, "tensorflow": tf.__version__, "batches": []}
calls = []  # (batch entry, form name, function)
for n in a.batches:
    x = rng.uniform(0, 255, (n, size, size, 3)).astype("float32")
    xt = tf.constant(x)
    entry = {"batch": n}
    result["batches"].append(entry)
    forms = {
        "numpy": lambda x=x: [o.numpy() for o in pruned(tf.convert_to_tensor(x))],
        "tensor": lambda xt=xt: [o.numpy() for o in pruned(xt)],
        "signature": lambda xt=xt: {k: v.numpy() for k, v in sig(images=xt).items()},
    }
    for k, f in forms.items():
        entry[k] = {"seconds": [], "cpu_seconds": 0.0}
        calls.append((entry[k], f))
for _ in range(2):  # warm-up: tracing and first-run allocations
    for _, f in calls:
        f()
if a.lockstep:
    print("ready", flush=True)
for _ in range(a.iters):
    if a.lockstep and sys.stdin.readline().strip() != "go":
        sys.exit("lockstep: want go")
    for timing, f in calls:
        c, w = time.process_time(), time.perf_counter()
        f()
        timing["seconds"].append(time.perf_counter() - w)
        timing["cpu_seconds"] += time.process_time() - c
    if a.lockstep:
        print("done", flush=True)
for entry in result["batches"]:
    med = statistics.median(entry["numpy"]["seconds"])
    entry["median_ms"], entry["images_per_s"] = 1000 * med, entry["batch"] / med
print(json.dumps(result))
