"""Peer benchmark: inference with Python TensorFlow on the SavedModel that the Go side times
(internal/bench.InferGo), with the same thread settings.

For each batch size, three forms are timed, alternating call by call so that all see the same load
on a shared machine, after two warm-up calls each:
  numpy      the model pruned to the two outputs Go's Model.Predict fetches (logits, probabilities),
             called on a NumPy array (converted each call, as Go copies its []float32), outputs
             converted to NumPy: the like-for-like peer of Model.Predict;
  tensor     the same pruned function on a tf.constant made once: the peer of Model.PredictTensor;
  signature  model.signatures["serving_default"] on the tf.constant, which also computes the class
             activation maps: what a Python user typically calls.
Prints one JSON object. Run by cmd/bench (make bench); a benchmark peer, never product code."""
import argparse
import json
import os
import statistics
import time

p = argparse.ArgumentParser()
p.add_argument("--dir", required=True)
p.add_argument("--batches", type=int, nargs="+", default=[1, 16])
p.add_argument("--iters", type=int, default=20)
p.add_argument("--intra", type=int, default=0)
p.add_argument("--inter", type=int, default=2)
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
for n in a.batches:
    x = rng.uniform(0, 255, (n, size, size, 3)).astype("float32")
    xt = tf.constant(x)
    forms = {
        "numpy": lambda: [o.numpy() for o in pruned(tf.convert_to_tensor(x))],
        "tensor": lambda: [o.numpy() for o in pruned(xt)],
        "signature": lambda: {k: v.numpy() for k, v in sig(images=xt).items()},
    }
    times = {k: [] for k in forms}
    cpu = {k: 0.0 for k in forms}
    for i in range(-2, a.iters):
        for k, f in forms.items():
            c, w = time.process_time(), time.perf_counter()
            f()
            if i >= 0:
                times[k].append(time.perf_counter() - w)
                cpu[k] += time.process_time() - c
    med = statistics.median(times["numpy"])
    result["batches"].append({
        "batch": n, "median_ms": 1000 * med, "images_per_s": n / med,
        **{k: {"seconds": v, "cpu_seconds": cpu[k]} for k, v in times.items()}})
print(json.dumps(result))
