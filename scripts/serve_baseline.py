"""Python baseline of cmd/serve for the load test (cmd/serveload, scripts/bench-serve.sh): the minimal
server a Python user writes over the same SavedModel with TensorFlow's Python API and the standard
library's http.server (one thread per connection, no batching). It answers the subset of TensorFlow
Serving's REST API the load test sends:

  POST /v1/models/NAME:predict  {"signature_name", "instances" | "inputs", "output_filter"}
  GET  /healthz

serving_default takes float images [N, S, S, 3]; predict_jpeg takes {"b64": ...} images. When the
output filter leaves out "cam", the model is pruned to logits and probabilities, as Go's
Model.Predict fetches only those, so both sides compute the same. Prints "listening HOST:PORT" once
it serves. A benchmark peer, never product code."""
import argparse
import base64
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

p = argparse.ArgumentParser()
p.add_argument("--dir", required=True, help="SavedModel folder")
p.add_argument("--name", default="default", help="the model's name in /v1/models/NAME")
p.add_argument("--host", default="127.0.0.1")
p.add_argument("--port", type=int, default=0, help="0: any free port")
p.add_argument("--intra", type=int, default=0)
p.add_argument("--inter", type=int, default=2)
a = p.parse_args()

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(a.intra)
tf.config.threading.set_inter_op_parallelism_threads(a.inter)
model = tf.saved_model.load(a.dir, tags=["serve"])
sigs = {k: model.signatures[k] for k in ("serving_default", "predict_jpeg")}
pruned = {}
for k, sig in sigs.items():
    outs = sig.structured_outputs
    pruned[k] = model.prune(sig.inputs[0].name, [outs["logits"].name, outs["probabilities"].name])
INPUT = {"serving_default": "images", "predict_jpeg": "image_bytes"}
ORDER = ["logits", "probabilities", "cam"]


class BadRequest(Exception):
    pass


def predict(req):
    sig_name = req.get("signature_name") or "serving_default"
    if sig_name not in sigs:
        raise BadRequest(f"Serving signature key {sig_name!r} not found.")
    columnar = "inputs" in req
    values = req["inputs"] if columnar else req.get("instances")
    if values is None:
        raise BadRequest('missing "instances" or "inputs" key')
    if isinstance(values, dict):
        values = values[INPUT[sig_name]]
    if sig_name == "predict_jpeg":
        x = tf.constant([base64.b64decode(v["b64"] if isinstance(v, dict) else v) for v in values])
    else:
        x = tf.convert_to_tensor(np.asarray(values, dtype=np.float32))
    outputs = [o for o in ORDER if o in (req.get("output_filter") or ORDER)]
    if "cam" in outputs:
        got = sigs[sig_name](**{INPUT[sig_name]: x})
    else:
        logits, probs = pruned[sig_name](x)
        got = {"logits": logits, "probabilities": probs}
    got = {k: got[k].numpy().tolist() for k in outputs}
    if columnar:
        return {"outputs": got[outputs[0]] if len(outputs) == 1 else got}
    n = len(got[outputs[0]])
    if len(outputs) == 1:
        return {"predictions": got[outputs[0]]}
    return {"predictions": [{k: got[k][i] for k in outputs} for i in range(n)]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the Go server and its clients use

    def log_message(self, *args):
        pass

    def answer(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/healthz":
            self.answer(200, {"status": "ok", "model": a.name})
        else:
            self.answer(404, {"error": "no such endpoint: " + self.path})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        if self.path != f"/v1/models/{a.name}:predict":
            self.answer(404, {"error": "no such endpoint: " + self.path})
            return
        try:
            self.answer(200, predict(json.loads(body)))
        except (BadRequest, ValueError, KeyError, TypeError) as e:
            self.answer(400, {"error": str(e)})
        except tf.errors.InvalidArgumentError as e:
            self.answer(400, {"error": e.message})


server = ThreadingHTTPServer((a.host, a.port), Handler)
server.daemon_threads = True
print(f"listening {a.host}:{server.server_address[1]}", flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
sys.exit(0)
