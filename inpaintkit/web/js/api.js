// Calls to the inpaintkit REST API. Every failure becomes an Error whose message is the server's one-line detail.

async function failure(res) {
  let detail = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body && body.detail) detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  } catch (_) { /* not JSON: keep the status line */ }
  if (res.status === 503 && res.headers.get("Retry-After")) {
    detail += ` (try again in ${res.headers.get("Retry-After")} s)`;
  }
  const err = new Error(detail);
  err.status = res.status;
  return err;
}

async function call(url, options) {
  let res;
  try {
    res = await fetch(url, options);
  } catch (e) {
    throw new Error("cannot reach the inpaintkit server — is `inpaintkit serve` still running?");
  }
  if (!res.ok) throw await failure(res);
  return res;
}

export async function listModels() {
  return (await call("api/v1/models")).json();
}

/**
 * Fill the white part of `mask` in `image`.
 * @param {Blob} image the photo (any format the server reads)
 * @param {Blob} mask a PNG the size of the photo, white = fill
 * @param {{model?: string, hd_strategy?: string, caption?: string, samples?: number}} params
 * @returns {Promise<{blob: Blob, seconds: number|null, model: string, samples: Array<{seed: number, blob: Blob}>}>}
 *   `samples` holds every fill when more than one was asked for (`blob` is the first).
 */
export async function inpaint(image, mask, params) {
  const form = new FormData();
  form.append("image", image, image.name || "image");
  form.append("mask", mask, "mask.png");
  form.append("output_format", "png"); // lossless, so edits can continue on the result without loss
  for (const [k, v] of Object.entries(params)) if (v) form.append(k, v);
  const res = await call("api/v1/inpaint", { method: "POST", body: form });
  const timing = res.headers.get("Server-Timing") || "";
  const model = /model;dur=([\d.]+)/.exec(timing);
  const info = { seconds: model ? Number(model[1]) / 1000 : null, model: res.headers.get("X-Model") || "" };
  if ((res.headers.get("Content-Type") || "").startsWith("application/json")) {
    const body = await res.json(); // several samples: {model, samples: [{seed, image: data URL}]}
    const samples = await Promise.all(body.samples.map(async (s) => ({ seed: s.seed, blob: await (await fetch(s.image)).blob() })));
    return { ...info, blob: samples[0].blob, samples };
  }
  return { ...info, blob: await res.blob(), samples: [] };
}

/** @returns {Promise<{score: number, verdict: string, heatmap: string, width: number, height: number}>} */
export async function detect(image) {
  const form = new FormData();
  form.append("image", image, image.name || "image");
  return (await call("api/v1/detect", { method: "POST", body: form })).json();
}
