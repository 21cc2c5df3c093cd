// The mask editor: a photo, a mask painted over it at the photo's own resolution, and one linear history.
//
// History entries are either a mask operation ({kind: "mask", op}) or a new photo ({kind: "image"}: a fill's
// result). The state after `pos` entries is: the last photo at or before `pos` (or the opened one), with the mask
// operations that follow it replayed. So undo after a fill brings back the previous photo *and* its mask, and
// painting on a result just continues editing it.

const MASK_COLOR = "#ff3d7f";
const MAX_UPSCALE = 2;

export class Editor extends EventTarget {
  constructor(els) {
    super();
    Object.assign(this, els); // stage, wrap, imageCanvas, maskCanvas, beforeLayer, beforeCanvas, compareHandle, rectPreview, cursor
    this.imageCtx = this.imageCanvas.getContext("2d");
    this.maskCtx = this.maskCanvas.getContext("2d", { willReadFrequently: true });
    this.tool = "brush";
    this.size = 40; // brush diameter in screen pixels
    this.locked = false;
    this.comparing = false;
    this.original = null; // {bitmap, blob}
    this.history = [];
    this.pos = 0;
    this._stroke = null;
    this._bindPointer();
    new ResizeObserver(() => this.fit()).observe(this.stage);
  }

  // ---- state -------------------------------------------------------------------------------------------------
  get loaded() { return this.original !== null; }
  get width() { return this.maskCanvas.width; }
  get height() { return this.maskCanvas.height; }

  /** Index in `history` of the photo shown at `pos` (-1: the opened photo). */
  _imageIndex(pos = this.pos) {
    for (let i = pos - 1; i >= 0; i--) if (this.history[i].kind === "image") return i;
    return -1;
  }
  current() {
    const i = this._imageIndex();
    return i < 0 ? this.original : this.history[i];
  }
  /** The photo before the current one (what a fill started from), or null. */
  previous() {
    const i = this._imageIndex();
    if (i < 0) return null;
    const j = this._imageIndex(i);
    return j < 0 ? this.original : this.history[j];
  }
  get hasResult() { return this._imageIndex() >= 0; }
  _maskOps() {
    return this.history.slice(this._imageIndex() + 1, this.pos).map((e) => e.op);
  }
  /** Something is painted (approximately: a paint operation since the last clear). */
  get hasMask() {
    const ops = this._maskOps();
    const lastClear = ops.map((o) => o.type).lastIndexOf("clear");
    return ops.slice(lastClear + 1).some((o) => o.type === "brush" || o.type === "rect");
  }
  get canUndo() { return this.pos > 0; }
  get canRedo() { return this.pos < this.history.length; }

  _changed() { this.dispatchEvent(new Event("change")); }
  _push(entry) {
    this.history.splice(this.pos);
    this.history.push(entry);
    this.pos = this.history.length;
    this._changed();
  }

  // ---- actions -----------------------------------------------------------------------------------------------
  async open(blob) {
    const bitmap = await createImageBitmap(blob);
    this.original = { bitmap, blob };
    this.history = [];
    this.pos = 0;
    for (const c of [this.imageCanvas, this.maskCanvas, this.beforeCanvas]) {
      c.width = bitmap.width;
      c.height = bitmap.height;
    }
    this.setComparing(false);
    this.wrap.hidden = false;
    this.render();
    this.fit();
    this._changed();
  }

  async addResult(blob) {
    const bitmap = await createImageBitmap(blob);
    if (bitmap.width !== this.width || bitmap.height !== this.height) {
      throw new Error(`the result is ${bitmap.width}x${bitmap.height}, the photo ${this.width}x${this.height}`);
    }
    this._push({ kind: "image", bitmap, blob });
    this.render();
  }

  /** Show another of the last fill's samples in place of the one shown (the same history step). */
  async replaceResult(blob) {
    const i = this.pos - 1;
    if (i < 0 || this.history[i].kind !== "image") return this.addResult(blob);
    const bitmap = await createImageBitmap(blob);
    this.history[i] = { kind: "image", bitmap, blob };
    this.render();
    this._changed();
  }

  undo() { if (this.canUndo) { this.pos--; this.render(); this._changed(); } }
  redo() { if (this.canRedo) { this.pos++; this.render(); this._changed(); } }
  clear() {
    if (!this.hasMask) return;
    this._push({ kind: "mask", op: { type: "clear" } });
    this.render();
  }
  setTool(tool) { this.tool = tool; this._updateCursor(); }
  setSize(px) { this.size = px; this._updateCursor(); }

  render() {
    if (!this.loaded) return;
    this.imageCtx.drawImage(this.current().bitmap, 0, 0);
    this.maskCtx.clearRect(0, 0, this.width, this.height);
    for (const op of this._maskOps()) this._draw(op);
    if (this.comparing) this._drawBefore();
  }

  /** The mask as a black/white PNG at the photo's resolution (white = fill), or null when nothing is painted. */
  async maskBlob() {
    const { width: w, height: h } = this;
    const src = this.maskCtx.getImageData(0, 0, w, h).data;
    const out = new ImageData(w, h);
    const dst = out.data;
    let any = false;
    for (let i = 0; i < w * h; i++) {
      const v = src[4 * i + 3] > 0 ? 255 : 0; // anti-aliased edges count as hole: better a little too much
      any ||= v > 0;
      dst[4 * i] = dst[4 * i + 1] = dst[4 * i + 2] = v;
      dst[4 * i + 3] = 255;
    }
    if (!any) return null;
    const c = document.createElement("canvas");
    c.width = w;
    c.height = h;
    c.getContext("2d").putImageData(out, 0, 0);
    return new Promise((resolve) => c.toBlob(resolve, "image/png"));
  }

  // ---- drawing -----------------------------------------------------------------------------------------------
  _draw(op, ctx = this.maskCtx) {
    ctx.save();
    ctx.globalCompositeOperation = op.type === "eraser" ? "destination-out" : "source-over";
    ctx.fillStyle = ctx.strokeStyle = MASK_COLOR;
    if (op.type === "clear") {
      ctx.clearRect(0, 0, this.width, this.height);
    } else if (op.type === "rect") {
      ctx.fillRect(op.x, op.y, op.w, op.h);
    } else {
      this._segment(ctx, op, 0);
    }
    ctx.restore();
  }

  /** Stroke `op.points` from index `from` (a lone point is a dot). */
  _segment(ctx, op, from) {
    const p = op.points;
    ctx.lineWidth = op.width;
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    const start = p[Math.max(0, from - 1)];
    ctx.moveTo(start[0], start[1]);
    if (p.length === 1) ctx.lineTo(start[0] + 0.01, start[1]);
    for (let i = Math.max(1, from); i < p.length; i++) ctx.lineTo(p[i][0], p[i][1]);
    ctx.stroke();
  }

  // ---- layout ------------------------------------------------------------------------------------------------
  /** Scale the photo to fit the stage (the canvases keep the photo's own resolution). */
  fit() {
    if (!this.loaded) return;
    const cs = getComputedStyle(this.stage);
    const availW = this.stage.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    const availH = this.stage.clientHeight - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom);
    const scale = Math.min(availW / this.width, availH / this.height, MAX_UPSCALE);
    this.wrap.style.width = `${Math.max(1, Math.floor(this.width * scale))}px`;
    this.wrap.style.height = `${Math.max(1, Math.floor(this.height * scale))}px`;
  }

  /** Photo pixels per screen pixel. */
  _ratio() { return this.width / this.maskCanvas.getBoundingClientRect().width; }

  _toImage(e) {
    const r = this.maskCanvas.getBoundingClientRect();
    return [(e.clientX - r.left) * (this.width / r.width), (e.clientY - r.top) * (this.height / r.height)];
  }

  // ---- pointer -----------------------------------------------------------------------------------------------
  _bindPointer() {
    const c = this.maskCanvas;
    c.addEventListener("pointerdown", (e) => {
      if (this.locked || this.comparing || e.button !== 0) return;
      c.setPointerCapture(e.pointerId);
      const pt = this._toImage(e);
      if (this.tool === "rect") {
        this._stroke = { type: "rect", start: pt, end: pt };
        this._showRect();
      } else {
        this._stroke = { type: this.tool, width: this.size * this._ratio(), points: [pt] };
        this._draw(this._stroke);
      }
      e.preventDefault();
    });
    c.addEventListener("pointermove", (e) => {
      this._moveCursor(e);
      const s = this._stroke;
      if (!s) return;
      const pt = this._toImage(e);
      if (s.type === "rect") {
        s.end = pt;
        this._showRect();
      } else {
        s.points.push(pt);
        const ctx = this.maskCtx;
        ctx.save();
        ctx.globalCompositeOperation = s.type === "eraser" ? "destination-out" : "source-over";
        ctx.strokeStyle = MASK_COLOR;
        this._segment(ctx, s, s.points.length - 1);
        ctx.restore();
      }
    });
    const finish = (e) => {
      const s = this._stroke;
      if (!s) return;
      this._stroke = null;
      if (s.type === "rect") {
        this.rectPreview.hidden = true;
        const [x0, y0] = s.start;
        const [x1, y1] = s.end;
        const op = { type: "rect", x: Math.min(x0, x1), y: Math.min(y0, y1), w: Math.abs(x1 - x0), h: Math.abs(y1 - y0) };
        if (op.w < 1 || op.h < 1) return;
        this._draw(op);
        this._push({ kind: "mask", op });
      } else {
        this._push({ kind: "mask", op: s });
      }
    };
    c.addEventListener("pointerup", finish);
    c.addEventListener("pointercancel", finish);
    c.addEventListener("pointerenter", (e) => { this._hover = true; this._moveCursor(e); });
    c.addEventListener("pointerleave", () => { this._hover = false; this._updateCursor(); });

    // before/after divider
    const h = this.compareHandle;
    h.addEventListener("pointerdown", (e) => { h.setPointerCapture(e.pointerId); this._dragSplit = true; e.preventDefault(); });
    h.addEventListener("pointermove", (e) => {
      if (!this._dragSplit) return;
      const r = this.wrap.getBoundingClientRect();
      this._setSplit(((e.clientX - r.left) / r.width) * 100);
    });
    h.addEventListener("pointerup", () => { this._dragSplit = false; });
  }

  _showRect() {
    const s = this._stroke;
    const k = 1 / this._ratio();
    const x = Math.min(s.start[0], s.end[0]) * k;
    const y = Math.min(s.start[1], s.end[1]) * k;
    Object.assign(this.rectPreview.style, {
      left: `${x}px`, top: `${y}px`,
      width: `${Math.abs(s.end[0] - s.start[0]) * k}px`, height: `${Math.abs(s.end[1] - s.start[1]) * k}px`,
    });
    this.rectPreview.hidden = false;
  }

  _moveCursor(e) {
    const r = this.stage.getBoundingClientRect();
    this.cursor.style.left = `${e.clientX - r.left}px`;
    this.cursor.style.top = `${e.clientY - r.top}px`;
    this._updateCursor();
  }

  _updateCursor() {
    const show = this._hover && this.tool !== "rect" && !this.comparing && !this.locked;
    this.cursor.hidden = !show;
    this.cursor.style.width = this.cursor.style.height = `${this.size}px`;
    this.cursor.classList.toggle("eraser", this.tool === "eraser");
  }

  // ---- before / after ----------------------------------------------------------------------------------------
  setComparing(on) {
    this.comparing = on && this.previous() !== null;
    this.beforeLayer.hidden = this.compareHandle.hidden = !this.comparing;
    this.wrap.classList.toggle("comparing", this.comparing);
    if (this.comparing) {
      this._drawBefore();
      this._setSplit(50);
    }
    this._updateCursor();
    this._changed();
  }

  _drawBefore() {
    const prev = this.previous();
    if (!prev) return this.setComparing(false);
    this.beforeCanvas.getContext("2d").drawImage(prev.bitmap, 0, 0);
  }

  _setSplit(pct) {
    const p = Math.min(100, Math.max(0, pct));
    this.compareHandle.style.left = `${p}%`;
    this.beforeLayer.style.clipPath = `inset(0 ${100 - p}% 0 0)`;
  }
}
