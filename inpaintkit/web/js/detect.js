// The Detect tab: send a photo to /api/v1/detect and show the score, the verdict and the heatmap over the photo.

import { detect } from "./api.js";

// Turbo colormap (Mikhailov 2019), polynomial approximation: t in [0, 1] -> [r, g, b] in [0, 255].
function turbo(t) {
  const r = 34.61 + t * (1172.33 - t * (10793.56 - t * (33300.12 - t * (38394.49 - t * 14825.05))));
  const g = 23.31 + t * (557.33 + t * (1225.33 - t * (3574.96 - t * (1073.77 + t * 707.56))));
  const b = 27.2 + t * (3211.1 - t * (15327.97 - t * (27814 - t * (22569.18 - t * 6838.66))));
  return [r, g, b].map((v) => Math.max(0, Math.min(255, v)));
}

export class DetectView {
  constructor(els) {
    Object.assign(this, els); // stage, wrap, dropzone, photoCanvas, heatCanvas, busy, result, verdict, scoreValue, scoreBar, opacity, opacityValue, status
    this.opacity.addEventListener("input", () => this._applyOpacity());
    new ResizeObserver(() => this.fit()).observe(this.stage);
    this._applyOpacity();
  }

  _applyOpacity() {
    this.heatCanvas.style.opacity = String(this.opacity.value / 100);
    this.opacityValue.textContent = `${this.opacity.value}%`;
  }

  fit() {
    const c = this.photoCanvas;
    if (!c.width) return;
    const cs = getComputedStyle(this.stage);
    const availW = this.stage.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    const availH = this.stage.clientHeight - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom);
    const s = Math.min(availW / c.width, availH / c.height, 2);
    this.wrap.style.width = `${Math.floor(c.width * s)}px`;
    this.wrap.style.height = `${Math.floor(c.height * s)}px`;
  }

  async run(blob) {
    const bitmap = await createImageBitmap(blob);
    for (const c of [this.photoCanvas, this.heatCanvas]) {
      c.width = bitmap.width;
      c.height = bitmap.height;
    }
    this.photoCanvas.getContext("2d").drawImage(bitmap, 0, 0);
    this.heatCanvas.getContext("2d").clearRect(0, 0, bitmap.width, bitmap.height);
    this.dropzone.hidden = true;
    this.wrap.hidden = false;
    this.result.hidden = true;
    this.fit();
    this.busy.hidden = false;
    this.status.classList.remove("error");
    this.status.textContent = "Analysing…";
    try {
      const res = await detect(blob);
      await this._show(res);
      this.status.textContent = `${res.width}×${res.height} px analysed.`;
    } catch (e) {
      this.status.classList.add("error");
      this.status.textContent = e.status === 503 && /^no detector available/.test(e.message)
        ? `Detection is not available on this server (${e.message.replace(/^no detector available:?\s*/, "")}).`
        : e.message;
    } finally {
      this.busy.hidden = true;
    }
  }

  async _show(res) {
    const inpainted = res.verdict === "inpainted";
    this.verdict.textContent = inpainted ? "Likely inpainted" : "Looks authentic";
    this.verdict.className = `verdict ${inpainted ? "inpainted" : "authentic"}`;
    this.scoreValue.textContent = `${(res.score * 100).toFixed(1)} %`;
    this.scoreBar.style.width = `${Math.max(2, res.score * 100)}%`;
    this.result.hidden = false;

    const img = new Image();
    img.src = `data:image/png;base64,${res.heatmap}`;
    await img.decode();
    const w = this.heatCanvas.width;
    const h = this.heatCanvas.height;
    const tmp = document.createElement("canvas");
    tmp.width = w;
    tmp.height = h;
    const tctx = tmp.getContext("2d", { willReadFrequently: true });
    tctx.drawImage(img, 0, 0, w, h);
    const data = tctx.getImageData(0, 0, w, h);
    const px = data.data;
    for (let i = 0; i < px.length; i += 4) {
      const v = px[i] / 255;
      const [r, g, b] = turbo(v);
      px[i] = r;
      px[i + 1] = g;
      px[i + 2] = b;
      px[i + 3] = Math.round(255 * Math.min(1, 0.15 + v)); // low values stay see-through
    }
    this.heatCanvas.getContext("2d").putImageData(data, 0, 0);
  }
}
