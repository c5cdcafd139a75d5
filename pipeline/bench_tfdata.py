"""Peer benchmark: the train transforms of package pipeline, written with tf.data.

Reads JPEG paths (one per line) from --files and runs, per image: read_file, decode_jpeg,
Resize(512) of the shorter side (bilinear, antialias), random 448x448 crop, random horizontal flip,
rotation by an angle uniform in [-15, 15] degrees (ImageProjectiveTransformV3, nearest, constant
fill), ColorJitter(0.4, 0.4, 0.4, 0.1) in a random order of the four operations with PIL's
definitions (brightness and saturation as blends with black and with the grayscale image, contrast
as a blend with the grayscale mean, hue with tf.image.adjust_hue), then batches of 16 (remainder
dropped) and prefetch(2). The map runs with num_parallel_calls=--workers.

Prints one JSON object: {"workers", "images", "seconds", "images_per_s", "cpu_seconds",
"images_per_cpu_s", "intra_op", "tf_version"}; CPU time is the process's user + system time over the
timed part, all threads included.
Run with the project's .venv python; cmd/benchpipe runs it next to the Go pipeline.
"""

import argparse
import json
import math
import os
import resource
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import tensorflow as tf  # noqa: E402


def train_map(size, resize, degrees, jitter):
    b, c, s, h = jitter

    def blend(degenerate, img, factor):
        return tf.clip_by_value(degenerate + factor * (img - degenerate), 0.0, 255.0)

    def gray(img):
        return tf.image.rgb_to_grayscale(img)

    def load(path):
        img = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
        shape = tf.shape(img)
        height, width = shape[0], shape[1]
        short = tf.minimum(height, width)
        scale = tf.cast(resize, tf.float64) / tf.cast(short, tf.float64)
        new_h = tf.where(height <= width, resize, tf.cast(tf.cast(height, tf.float64) * scale, tf.int32))
        new_w = tf.where(width <= height, resize, tf.cast(tf.cast(width, tf.float64) * scale, tf.int32))
        # PIL antialiases when shrinking; when enlarging both kernels agree and the plain one is faster.
        img = tf.cond(short > resize,
                      lambda: tf.image.resize(img, [new_h, new_w], method="bilinear", antialias=True),
                      lambda: tf.image.resize(img, [new_h, new_w], method="bilinear"))
        img = tf.image.random_crop(img, [size, size, 3])
        img = tf.image.random_flip_left_right(img)

        angle = tf.random.uniform([], -degrees, degrees) * (math.pi / 180.0)
        cos, sin = tf.cos(angle), tf.sin(angle)
        cx = cy = (size - 1) / 2.0
        # Output (x, y) samples input (a0 x + a1 y + a2, b0 x + b1 y + b2): rotation about the centre.
        transform = tf.stack([cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy, 0.0, 0.0])
        img = tf.raw_ops.ImageProjectiveTransformV3(
            images=img[None], transforms=transform[None], output_shape=[size, size],
            fill_value=0.0, interpolation="NEAREST", fill_mode="CONSTANT")[0]

        bf = tf.random.uniform([], max(0.0, 1 - b), 1 + b)
        cf = tf.random.uniform([], max(0.0, 1 - c), 1 + c)
        sf = tf.random.uniform([], max(0.0, 1 - s), 1 + s)
        hf = tf.random.uniform([], -h, h)
        ops = [
            lambda x: blend(tf.zeros_like(x), x, bf),
            lambda x: blend(tf.reduce_mean(gray(x)), x, cf),
            lambda x: blend(gray(x), x, sf),
            lambda x: tf.image.adjust_hue(x / 255.0, hf) * 255.0,
        ]
        order = tf.random.shuffle(tf.range(4))
        for k in range(4):
            img = tf.switch_case(order[k], [lambda f=f: f(img) for f in ops])
        img.set_shape([size, size, 3])
        return img

    return load


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", required=True, help="text file with one JPEG path per line")
    ap.add_argument("--images", type=int, default=512, help="images to time (after one warm-up batch)")
    ap.add_argument("--workers", type=int, default=1, help="num_parallel_calls of the map")
    ap.add_argument("--intra-op", type=int, default=0,
                    help="tf.data threading.max_intra_op_parallelism (0: TensorFlow's default)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=448)
    ap.add_argument("--resize", type=int, default=512)
    args = ap.parse_args()

    with open(args.files) as f:
        files = [line.strip() for line in f if line.strip()]
    tf.random.set_seed(0)
    ds = tf.data.Dataset.from_tensor_slices(files).repeat()
    ds = ds.shuffle(len(files), seed=0)
    ds = ds.map(train_map(args.size, args.resize, 15.0, (0.4, 0.4, 0.4, 0.1)),
                num_parallel_calls=args.workers, deterministic=True)
    ds = ds.batch(args.batch, drop_remainder=True).prefetch(2)
    opts = tf.data.Options()
    if args.intra_op > 0:
        opts.threading.max_intra_op_parallelism = args.intra_op
    ds = ds.with_options(opts)

    it = iter(ds)
    next(it)  # warm-up: tracing and the first batch
    batches = max(1, args.images // args.batch)

    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    start, cpu0 = time.perf_counter(), cpu()
    for _ in range(batches):
        batch = next(it)
    _ = batch.numpy()
    seconds, cpu_seconds = time.perf_counter() - start, cpu() - cpu0
    n = batches * args.batch
    print(json.dumps({"workers": args.workers, "images": n, "seconds": seconds,
                      "images_per_s": n / seconds, "cpu_seconds": cpu_seconds,
                      "images_per_cpu_s": n / cpu_seconds, "intra_op": args.intra_op,
                      "tf_version": tf.__version__}))


if __name__ == "__main__":
    main()
