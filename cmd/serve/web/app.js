// The page of cmd/serve: one :cam request per image gives the top classes (X-Top-Classes), the
// version that answered (X-Model-Version) and the class activation map (alpha=1: the map alone, laid
// over the page's own copy of the model's input crop, so the opacity slider needs no new request).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { name: "", imageSize: 0, resizeSize: 0 };

function showError(msg) {
  $("error").textContent = msg;
  $("error").hidden = !msg;
}

async function loadModel() {
  try {
    const health = await (await fetch("/healthz")).json();
    if (!health.model) throw new Error(health.status || "no model loaded");
    state.name = health.model;
    const meta = await (await fetch("/v1/models/" + encodeURIComponent(state.name) + "/metadata")).json();
    const m = (meta.metadata && meta.metadata.finegrain && meta.metadata.finegrain.model) || {};
    state.imageSize = m.image_size || 0;
    state.resizeSize = m.resize_size || Math.floor(state.imageSize * 8 / 7);
    const variant = m.variant ? m.variant + (m.depth ? "-ResNet" + m.depth : "") : "unknown variant";
    $("model").textContent = `model ${state.name} · ${variant} · version ${meta.model_spec.version}` +
      (m.num_classes ? ` · ${m.num_classes} classes` : "");
  } catch (e) {
    $("model").textContent = "the model could not be read: " + e.message;
  }
}

// shellQuote quotes s for a POSIX shell.
const shellQuote = (s) => "'" + s.replace(/'/g, "'\\''") + "'";

// drawCrop draws the centre crop the evaluation pipeline takes: the shorter side resized to
// resize_size, then image_size × image_size from the centre.
function drawCrop(blob) {
  const canvas = $("crop");
  const img = new Image();
  img.onload = () => {
    const side = Math.min(img.naturalWidth, img.naturalHeight) * state.imageSize / state.resizeSize;
    const n = state.imageSize || 224;
    canvas.width = n;
    canvas.height = n;
    canvas.getContext("2d").drawImage(img, (img.naturalWidth - side) / 2, (img.naturalHeight - side) / 2, side, side, 0, 0, n, n);
    URL.revokeObjectURL(img.src);
  };
  img.onerror = () => { // a format the browser cannot show: the map alone
    canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
    URL.revokeObjectURL(img.src);
  };
  img.src = URL.createObjectURL(blob);
}

function showBars(top) {
  const ol = $("bars");
  ol.replaceChildren(...top.map((c) => {
    const pct = (100 * c.probability).toFixed(1) + "%";
    const li = document.createElement("li");
    li.className = "bar";
    li.dataset.classId = c.class_id;
    li.innerHTML = '<span class="label"></span><span class="track"><span class="fill"></span></span><span class="pct"></span>';
    li.querySelector(".label").textContent = c.label;
    li.querySelector(".label").title = `${c.label} (class ${c.class_id})`;
    li.querySelector(".fill").style.width = Math.max(0, Math.min(100, 100 * c.probability)) + "%";
    li.querySelector(".pct").textContent = pct;
    return li;
  }));
}

async function classify(blob, filename) {
  if (!state.name) {
    showError("no model is loaded");
    return;
  }
  showError("");
  const path = "/v1/models/" + encodeURIComponent(state.name) + ":cam?alpha=1";
  const t0 = performance.now();
  let resp, body;
  try {
    resp = await fetch(path, { method: "POST", body: blob, headers: { "Content-Type": blob.type || "application/octet-stream" } });
    body = await resp.blob();
  } catch (e) {
    showError("request failed: " + e.message);
    return;
  }
  const ms = performance.now() - t0;
  if (!resp.ok) {
    let msg = resp.status + " " + resp.statusText;
    try { msg += ": " + JSON.parse(await body.text()).error; } catch (e) { /* not JSON */ }
    showError(msg);
    return;
  }
  const top = JSON.parse(resp.headers.get("X-Top-Classes") || "[]");
  drawCrop(blob);
  const cam = $("cam");
  if (cam.src) URL.revokeObjectURL(cam.src);
  cam.src = URL.createObjectURL(body);
  const shown = top.find((c) => String(c.class_id) === resp.headers.get("X-Class-Id"));
  $("camclass").textContent = "map of " + (shown ? shown.label : "class " + resp.headers.get("X-Class-Id"));
  showBars(top);
  $("latency").textContent = `${ms.toFixed(0)} ms in the browser (upload, decode, prediction, map) · version ${resp.headers.get("X-Model-Version")}`;
  $("curl").textContent = `curl -s -X POST --data-binary @${shellQuote(filename || "image.jpg")} \\\n  ${shellQuote(location.origin + path)} -D - -o cam.png`;
  $("result").hidden = false;
  document.body.dataset.state = "done"; // for tests: a prediction is on the page
}

function pick(files) {
  const f = files && files[0];
  if (f) classify(f, f.name);
}

$("file").addEventListener("change", (e) => {
  pick(e.target.files);
  e.target.value = ""; // picking the same file again is a change too
});
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); pick(e.dataTransfer.files); });
document.addEventListener("paste", (e) => {
  const item = [...e.clipboardData.items].find((i) => i.kind === "file" && i.type.startsWith("image/"));
  if (item) classify(item.getAsFile(), "pasted." + (item.type.split("/")[1] || "png"));
});
for (const b of document.querySelectorAll(".example")) {
  b.addEventListener("click", async () => {
    const src = b.dataset.src;
    try {
      const resp = await fetch(src);
      classify(await resp.blob(), src.split("/").pop());
    } catch (e) {
      showError("example " + src + ": " + e.message);
    }
  });
}
$("opacity").addEventListener("input", (e) => { $("cam").style.opacity = e.target.value / 100; });
$("cam").style.opacity = $("opacity").value / 100;
loadModel();
