// Wires the page: tabs, file opening (button, drag and drop, paste), the editor's controls, fill and download.

import { inpaint, listModels } from "./api.js";
import { DetectView } from "./detect.js";
import { Editor } from "./editor.js";

const $ = (id) => document.getElementById(id);
const panel = $("tab-inpaint");

const editor = new Editor({
  stage: $("stage"), wrap: $("canvas-wrap"), imageCanvas: $("image-canvas"), maskCanvas: $("mask-canvas"),
  beforeLayer: $("before-layer"), beforeCanvas: $("before-canvas"), compareHandle: $("compare-handle"),
  rectPreview: $("rect-preview"), cursor: $("brush-cursor"),
});
const detectView = new DetectView({
  stage: $("detect-stage"), wrap: $("detect-wrap"), dropzone: $("detect-dropzone"), photoCanvas: $("detect-canvas"),
  heatCanvas: $("heat-canvas"), busy: $("detect-busy"), result: $("detect-result"), verdict: $("verdict"),
  scoreValue: $("score-value"), scoreBar: $("score-bar"), opacity: $("heat-opacity"),
  opacityValue: $("heat-opacity-value"), status: $("detect-status"),
});

let fileName = "photo";
let models = [];
let busy = false;

// ---- messages ----------------------------------------------------------------------------------------------
let toastTimer = null;
function toast(message, kind = "error") {
  const t = $("toast");
  t.textContent = message;
  t.className = `toast ${kind === "error" ? "" : "info"}`;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, kind === "error" ? 8000 : 3500);
}
function status(message, error = false) {
  const s = $("status-line");
  s.textContent = message;
  s.classList.toggle("error", error);
}

// ---- tabs --------------------------------------------------------------------------------------------------
function showTab(name) {
  document.body.dataset.tab = name;
  for (const b of document.querySelectorAll(".tabs button")) b.setAttribute("aria-selected", String(b.dataset.tab === name));
  $("tab-inpaint").hidden = name !== "inpaint";
  $("tab-detect").hidden = name !== "detect";
  (name === "inpaint" ? editor : detectView).fit();
}
for (const b of document.querySelectorAll(".tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));

// ---- opening photos ----------------------------------------------------------------------------------------
async function openPhoto(file) {
  if (!file) return;
  if (file.type && !file.type.startsWith("image/")) {
    toast(`${file.name}: not an image file`);
    return;
  }
  try {
    await editor.open(file);
  } catch (e) {
    toast(`${file.name || "file"}: this browser cannot open it as an image`);
    return;
  }
  fileName = (file.name || "photo").replace(/\.[^.]+$/, "") || "photo";
  $("file-name").textContent = file.name || "pasted image";
  $("file-size").textContent = `${editor.width} × ${editor.height}`;
  $("dropzone").hidden = true;
  panel.dataset.state = "editing";
  status("Paint over what you want to remove, then press Remove.");
}

function bindDrop(stage, onFile) {
  let depth = 0;
  stage.addEventListener("dragenter", (e) => { e.preventDefault(); depth++; stage.classList.add("dragging"); });
  stage.addEventListener("dragover", (e) => e.preventDefault());
  stage.addEventListener("dragleave", () => { if (--depth <= 0) { depth = 0; stage.classList.remove("dragging"); } });
  stage.addEventListener("drop", (e) => {
    e.preventDefault();
    depth = 0;
    stage.classList.remove("dragging");
    const file = [...(e.dataTransfer?.files || [])].find((f) => f.type.startsWith("image/")) || e.dataTransfer?.files?.[0];
    if (file) onFile(file);
  });
}

const fileInput = $("file-input");
fileInput.addEventListener("change", () => { openPhoto(fileInput.files[0]); fileInput.value = ""; });
$("choose-btn").addEventListener("click", () => fileInput.click());
$("open-btn").addEventListener("click", () => fileInput.click());
bindDrop($("stage"), openPhoto);
document.addEventListener("paste", (e) => {
  const item = [...(e.clipboardData?.items || [])].find((i) => i.type.startsWith("image/"));
  if (!item) return;
  const file = item.getAsFile();
  if (document.body.dataset.tab === "detect") detectView.run(file);
  else openPhoto(file);
});

// ---- tools -------------------------------------------------------------------------------------------------
function setTool(tool) {
  editor.setTool(tool);
  panel.dataset.tool = tool;
  for (const b of document.querySelectorAll("[data-tool]")) {
    const on = b.dataset.tool === tool;
    b.classList.toggle("active", on);
    b.setAttribute("aria-pressed", String(on));
  }
}
for (const b of document.querySelectorAll("[data-tool]")) b.addEventListener("click", () => setTool(b.dataset.tool));

const sizeInput = $("brush-size");
function setSize(px) {
  const v = Math.max(Number(sizeInput.min), Math.min(Number(sizeInput.max), Math.round(px)));
  sizeInput.value = String(v);
  $("brush-size-value").textContent = String(v);
  editor.setSize(v);
}
sizeInput.addEventListener("input", () => setSize(Number(sizeInput.value)));
setSize(Number(sizeInput.value));

$("undo-btn").addEventListener("click", () => editor.undo());
$("redo-btn").addEventListener("click", () => editor.redo());
$("clear-btn").addEventListener("click", () => editor.clear());
$("compare-btn").addEventListener("click", () => editor.setComparing(!editor.comparing));

function refreshButtons() {
  const ready = editor.loaded && !busy;
  $("undo-btn").disabled = !ready || !editor.canUndo;
  $("redo-btn").disabled = !ready || !editor.canRedo;
  $("clear-btn").disabled = !ready || !editor.hasMask;
  $("inpaint-btn").disabled = !ready || !editor.hasMask || !$("model-select").value;
  $("compare-btn").disabled = !ready || !editor.hasResult;
  $("compare-btn").setAttribute("aria-pressed", String(editor.comparing));
  $("download-btn").disabled = !editor.loaded || !editor.hasResult;
  $("detect-current-btn").disabled = !editor.loaded;
  panel.dataset.state = !editor.loaded ? "empty" : editor.hasResult ? "result" : "editing";
}
editor.addEventListener("change", refreshButtons);

// ---- models ------------------------------------------------------------------------------------------------
const modelSelect = $("model-select");
function onModelChange() {
  const m = models.find((x) => x.name === modelSelect.value);
  $("model-desc").textContent = m ? m.description : "";
  $("caption-field").hidden = !(m && m.text_guided);
  $("samples-field").hidden = !(m && m.text_guided);
  refreshButtons();
}
modelSelect.addEventListener("change", onModelChange);

async function loadModels() {
  try {
    models = await listModels();
  } catch (e) {
    modelSelect.innerHTML = "<option value=''>unavailable</option>";
    status(`Cannot list models: ${e.message}`, true);
    return;
  }
  modelSelect.innerHTML = "";
  const usable = models.filter((m) => m.available);
  const others = models.filter((m) => !m.available);
  for (const m of [...usable, ...others]) {
    const o = document.createElement("option");
    o.value = m.name;
    o.textContent = m.available ? `${m.name}${m.default ? " (default)" : ""}` : `${m.name} — needs trained weights`;
    o.disabled = !m.available;
    o.title = m.description;
    o.selected = m.default;
    modelSelect.append(o);
  }
  onModelChange();
}

// ---- fill --------------------------------------------------------------------------------------------------
function setBusy(on) {
  busy = on;
  editor.locked = on;
  document.body.classList.toggle("busy", on);
  $("busy-overlay").hidden = !on;
  $("inpaint-btn").querySelector(".label").textContent = on ? "Removing…" : "Remove";
  refreshButtons();
}

async function runInpaint() {
  if (busy || !editor.loaded) return;
  const mask = await editor.maskBlob();
  if (!mask) {
    toast("Paint over something first: the brush marks what to remove.", "info");
    return;
  }
  editor.setComparing(false);
  setBusy(true);
  status("Removing…");
  const t0 = performance.now();
  try {
    const cur = editor.current();
    const image = cur.blob.name ? cur.blob : new File([cur.blob], `${fileName}.png`, { type: cur.blob.type });
    const samples = $("samples-field").hidden ? 1 : Math.min(8, Math.max(1, Number($("samples-input").value) || 1));
    const res = await inpaint(image, mask, {
      model: modelSelect.value,
      hd_strategy: $("hd-select").value,
      caption: $("caption-field").hidden ? "" : $("caption-input").value.trim(),
      samples: samples > 1 ? samples : 0,
    });
    await editor.addResult(res.blob);
    showSamples(res.samples);
    const total = (performance.now() - t0) / 1000;
    const which = res.samples.length > 1 ? ` ${res.samples.length} samples: click one to use it.` : "";
    status(`Done in ${total.toFixed(1)} s with ${res.model}.${which} Paint again to keep editing, or download.`);
  } catch (e) {
    status(e.message, true);
    toast(e.message);
  } finally {
    setBusy(false);
  }
}
$("inpaint-btn").addEventListener("click", runInpaint);

/** The samples of the last fill side by side; clicking one shows it as the result. */
function showSamples(samples) {
  const strip = $("samples-strip");
  strip.replaceChildren();
  strip.hidden = samples.length < 2;
  samples.forEach((s, i) => {
    const img = document.createElement("img");
    img.src = URL.createObjectURL(s.blob);
    img.alt = `sample ${i + 1} (seed ${s.seed})`;
    img.title = img.alt;
    img.setAttribute("aria-pressed", String(i === 0));
    img.addEventListener("click", async () => {
      await editor.replaceResult(s.blob);
      for (const o of strip.children) o.setAttribute("aria-pressed", String(o === img));
    });
    strip.append(img);
  });
}

$("download-btn").addEventListener("click", () => {
  const cur = editor.current();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(cur.blob);
  a.download = `${fileName}_inpainted.png`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
});

// ---- detect ------------------------------------------------------------------------------------------------
const detectInput = $("detect-file-input");
detectInput.addEventListener("change", () => { if (detectInput.files[0]) detectView.run(detectInput.files[0]); detectInput.value = ""; });
$("detect-open-btn").addEventListener("click", () => detectInput.click());
$("detect-current-btn").addEventListener("click", () => detectView.run(editor.current().blob));
bindDrop($("detect-stage"), (f) => detectView.run(f));

// ---- keyboard ----------------------------------------------------------------------------------------------
document.addEventListener("keydown", (e) => {
  if (e.target.closest && e.target.closest("input[type=text], select")) return;
  if (document.body.dataset.tab !== "inpaint") return;
  const k = e.key.toLowerCase();
  if ((e.ctrlKey || e.metaKey) && k === "z") { e.preventDefault(); e.shiftKey ? editor.redo() : editor.undo(); return; }
  if ((e.ctrlKey || e.metaKey) && k === "y") { e.preventDefault(); editor.redo(); return; }
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (k === "b") setTool("brush");
  else if (k === "r") setTool("rect");
  else if (k === "e") setTool("eraser");
  else if (k === "[") setSize(editor.size * 0.8);
  else if (k === "]") setSize(editor.size * 1.25);
});

refreshButtons();
loadModels();
