"""Python TensorFlow side of the exported package's checks (a test oracle, never product code).

  run   DIR [--images RAW N H W] [--files F...]   run serving_default on the images and predict_jpeg
                                                 on the files; print the outputs as JSON
  bench DIR (--images RAW N H W)... --iters K    print timings of serving_default per batch as JSON

RAW is little-endian float32 NHWC. run prints {"SIGNATURE": {"OUTPUT": {"shape": [...], "values": [...]}}}.
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import tensorflow as tf


def load(path):
    return tf.saved_model.load(path, tags=["serve"])


def read_images(raw, n, h, w):
    data = np.fromfile(raw, dtype="<f4")
    return data.reshape(int(n), int(h), int(w), 3)


def as_json(outputs):
    return {k: {"shape": list(v.shape), "values": v.numpy().ravel().astype(float).tolist()}
            for k, v in outputs.items()}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["run", "bench"])
    p.add_argument("dir")
    p.add_argument("--images", nargs=4, action="append")
    p.add_argument("--files", nargs="+")
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args()
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    model = load(args.dir)
    if args.cmd == "run":
        result = {}
        if args.images:
            fn = model.signatures["serving_default"]
            result["serving_default"] = as_json(fn(images=tf.constant(read_images(*args.images[0]))))
        if args.files:
            contents = [open(f, "rb").read() for f in args.files]
            fn = model.signatures["predict_jpeg"]
            result["predict_jpeg"] = as_json(fn(image_bytes=tf.constant(contents, dtype=tf.string)))
        json.dump(result, sys.stdout)
        return
    fn = model.signatures["serving_default"]
    result = []
    for raw, n, h, w in args.images:
        x = tf.constant(read_images(raw, n, h, w))
        fn(images=x)  # warm-up: tracing and first-run allocations
        fn(images=x)
        times = []
        for _ in range(args.iters):
            t0 = time.perf_counter()
            out = fn(images=x)
            out["probabilities"].numpy()
            times.append(time.perf_counter() - t0)
        times.sort()
        result.append({"batch": int(n), "median_seconds": times[len(times) // 2],
                       "images_per_second": int(n) / times[len(times) // 2]})
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
