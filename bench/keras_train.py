"""Peer benchmark: training throughput of tf.keras.applications.ResNet50 (float32, SGD with momentum,
softmax cross-entropy from logits) on one fixed random batch, with the same batch, image size and
thread settings as the Go measurement (internal/bench.Train). Each step is timed alone after the
first (tracing) step and --warmup more; images/s is the batch over the median step time, and the
process CPU time of the timed steps is reported too (every thread).

Prints one JSON object with the step times, the images/s, the model's parameter count and its forward
multiply-adds per image, counted from the layers' shapes the way nets.Stats counts them (Conv2D and
Dense only). Run by cmd/bench (make bench); a benchmark peer, never product code.

With --profile-steps N, N more steps (or, with --profile-inference, N calls of the forward pass in
inference mode) are traced with TensorFlow's profiler after the timed steps, and the JSON gains a
"profile" key: each traced step's nodes {name, op, start_us, wall_us} and its span, read from the
trace's XSpace, so that internal/bench can set Keras's step beside the Go graph's per op type
(cmd/bench -profile none,keras)."""
import argparse
import json
import os
import statistics
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("--batch", type=int, default=16)
p.add_argument("--size", type=int, default=224)
p.add_argument("--classes", type=int, default=200)
p.add_argument("--steps", type=int, default=5)
p.add_argument("--warmup", type=int, default=1)
p.add_argument("--intra", type=int, default=0)
p.add_argument("--inter", type=int, default=2)
p.add_argument("--xla", action="store_true", help="tf.function(jit_compile=True)")
p.add_argument("--lockstep", action="store_true",
               help="after the warm-up print 'ready'; time each step only after reading 'go' on stdin, then print 'done'"
                    " (cmd/bench alternates these steps with the Go ones, internal/bench.RunPair)")
p.add_argument("--profile-steps", type=int, default=0,
               help="after the timed steps, trace this many more and add their nodes to the JSON (0: no trace)")
p.add_argument("--profile-inference", action="store_true",
               help="trace model(x, training=False) instead of the training step")
a = p.parse_args()
if a.profile_steps < 0:
    p.error("--profile-steps %d: want 0 or more" % a.profile_steps)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(a.intra)
tf.config.threading.set_inter_op_parallelism_threads(a.inter)
tf.keras.utils.set_random_seed(1)
t0 = time.perf_counter()
model = tf.keras.applications.ResNet50(weights=None, input_shape=(a.size, a.size, 3), classes=a.classes,
                                       classifier_activation=None)
opt = tf.keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
opt.build(model.trainable_variables)  # slots made now: the step function is traced once, not twice
loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
x = tf.constant(np.random.default_rng(0).uniform(0, 255, (a.batch, a.size, a.size, 3)).astype("float32"))
y = tf.constant(np.arange(a.batch) % a.classes, dtype=tf.int32)
build_seconds = time.perf_counter() - t0


def forward_macs(m):
    """Multiply-adds of one image's forward pass through the Conv2D and Dense layers."""
    total = 0
    for layer in m.layers:
        if isinstance(layer, tf.keras.layers.Conv2D):
            kh, kw, cin, _ = layer.kernel.shape
            _, h, w, cout = layer.output.shape
            total += h * w * cout * kh * kw * cin
        elif isinstance(layer, tf.keras.layers.Dense):
            cin, cout = layer.kernel.shape
            total += cin * cout
    return int(total)


@tf.function(jit_compile=a.xla)
def step(x, y):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    return loss


t0 = time.perf_counter()
step(x, y).numpy()
first = time.perf_counter() - t0
for _ in range(a.warmup):
    step(x, y).numpy()
if a.lockstep:
    print("ready", flush=True)
times, cpu = [], 0.0
for _ in range(a.steps):
    if a.lockstep and sys.stdin.readline().strip() != "go":
        sys.exit("lockstep: want go")
    c, t0 = time.process_time(), time.perf_counter()
    loss = step(x, y).numpy()
    times.append(time.perf_counter() - t0)
    cpu += time.process_time() - c
    if a.lockstep:
        print("done", flush=True)


def is_op_event(name):
    """Whether a trace event on a compute thread is a TensorFlow node: they are named node:OpType,
    while the runtime's own events (ExecutorState::Process, ThreadpoolListener::Record) are not."""
    node, sep, op = name.rpartition(":")
    return bool(sep) and bool(node) and not node.endswith(":") and op.isidentifier()


def trace(fn, n, window):
    """Traces n calls of fn and returns each call's nodes and span. The calls are the events named
    window on the trace's python line; a node belongs to the call its start lies in."""
    import shutil
    import tempfile
    try:
        from tsl.profiler.protobuf import xplane_pb2
    except ImportError:
        from tensorflow.tsl.profiler.protobuf import xplane_pb2
    tmp = tempfile.mkdtemp(prefix="keras-profile-")
    try:
        tf.profiler.experimental.start(tmp)
        try:
            for _ in range(n):
                fn()
        finally:
            tf.profiler.experimental.stop()
        paths = []
        for d, _, files in os.walk(tmp):
            paths += [os.path.join(d, f) for f in files if f.endswith(".xplane.pb")]
        if len(paths) != 1:
            sys.exit("profile: want one .xplane.pb under %s, found %d" % (tmp, len(paths)))
        space = xplane_pb2.XSpace()
        with open(paths[0], "rb") as f:
            space.ParseFromString(f.read())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    host = [pl for pl in space.planes if pl.name == "/host:CPU"]
    if not host:
        sys.exit("profile: the trace has no /host:CPU plane (planes: %s)" % [pl.name for pl in space.planes])
    plane = host[0]
    meta = plane.event_metadata
    windows, events = [], []  # (start_ps, end_ps); (start_ps, dur_ps, name)
    for line in plane.lines:
        base = line.timestamp_ns * 1000
        for e in line.events:
            name = meta[e.metadata_id].name
            if line.name == "python":
                if name == window:
                    windows.append((base + e.offset_ps, base + e.offset_ps + e.duration_ps))
            elif is_op_event(name):
                events.append((base + e.offset_ps, e.duration_ps, name))
    windows.sort()
    if len(windows) != n:
        sys.exit("profile: the trace's python line has %d %r events, want %d" % (len(windows), window, n))
    steps = [[] for _ in windows]
    for start, dur, name in events:
        for i, (lo, hi) in enumerate(windows):
            if lo <= start < hi:
                steps[i].append((start, dur, name))
                break
    out = []
    for i, evs in enumerate(steps):
        if not evs:
            sys.exit("profile: traced call %d of %r ran no TensorFlow node" % (i + 1, window))
        evs.sort()
        first = evs[0][0]
        last = max(s + d for s, d, _ in evs)
        nodes = []
        for start, dur, name in evs:
            node, _, op = name.rpartition(":")
            nodes.append({"name": node, "op": op, "start_us": (start - first) / 1e6, "wall_us": dur / 1e6})
        out.append({"span_us": (last - first) / 1e6, "nodes": nodes})
    return out


profile = None
if a.profile_steps > 0:
    if a.profile_inference:
        @tf.function(jit_compile=a.xla)
        def infer(x):
            return model(x, training=False)

        for _ in range(2):  # the first (tracing) call and one warm-up call, untraced as in Go's profile
            infer(x).numpy()
        profile = {"inference": True, "steps": trace(lambda: infer(x).numpy(), a.profile_steps, "infer")}
    else:
        profile = {"inference": False, "steps": trace(lambda: step(x, y).numpy(), a.profile_steps, "step")}

med = statistics.median(times)
result = {
    "images_per_s": a.batch / med, "step": {"seconds": times, "cpu_seconds": cpu}, "first_step_seconds": first,
    "build_seconds": build_seconds, "last_loss": float(loss),
    "params": int(sum(np.prod(v.shape) for v in model.trainable_variables)),
    "forward_macs_per_image": forward_macs(model),
    "tensorflow": tf.__version__, "keras": tf.keras.__version__ if hasattr(tf.keras, "__version__") else "",
    "batch": a.batch, "size": a.size, "classes": a.classes, "intra_op_threads": a.intra,
    "inter_op_threads": a.inter, "xla": a.xla}
if profile is not None:
    result["profile"] = profile
print(json.dumps(result))
