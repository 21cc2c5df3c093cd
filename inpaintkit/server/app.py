"""The web app: ``create_app(settings)`` builds the FastAPI application (REST API + the page at ``/``).

Routes (IOPaint-compatible where IOPaint has the same route):

- ``POST /api/v1/inpaint``      JSON ``{image, mask, model?, hd_strategy?, ...}`` (base64 / data URLs) or a multipart
  upload (``image``, ``mask`` files + the same fields); answers the filled image's bytes.
- ``POST /api/v1/adjust_mask``  ``{mask, operate: expand|shrink|reverse, kernel_size}`` -> mask PNG (255 = hole).
- ``POST /api/v1/detect``       ``{image}`` or multipart -> ``{score, verdict, heatmap (PNG, base64), width, height}``.
- ``GET /api/v1/models``        every registered inpainter; ``GET|POST /api/v1/model`` the default one.
- ``GET /healthz``; OpenAPI at ``/openapi.json``, docs at ``/docs``.
- The rest of IOPaint's API (server-config, file manager, save_image, plugins, socket.io): ``iopaint_api``.

Every user mistake is a 4xx ``{"detail": "<one line>"}`` (plus IOPaint's ``error``, ``body`` and ``errors`` keys); a
full pool is a 503 with ``Retry-After``; a bug is a 500 that keeps the connection open. All image work runs on the
bounded worker pool, never on the event loop; large images run as heavy jobs (never on every worker at once), a
fill stops when its client disconnects or it runs past ``request_timeout``, and each fill keeps to
``memory_budget``. Only ``iopaint_api``'s file routes open a path from a request: a plain file name inside a
folder given at start.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import InpaintKitError, TooLargeError
from ..inference import DetectorSlot, ModelCache, adjust_mask
from ..inpainters.base import DEFAULT_MEMORY_BUDGET, Cancelled
from ..io import encode_image, peek_size, read_image, read_mask
from . import iopaint_api
from .bodies import as_bytes as _as_bytes
from .bodies import parse as _parse
from .bodies import validation_message as _validation_message
from .iopaint_api import IOPaintSettings, error_body, model_info
from .iopaint_schemas import IOPaintModelInfo
from .pool import Busy, Ticket, WorkerPool
from .schemas import (
    AdjustMaskParams,
    AdjustMaskRequest,
    DetectParams,
    DetectRequest,
    DetectResponse,
    InpaintParams,
    InpaintRequest,
    ModelInfo,
    SwitchModelRequest,
)

log = logging.getLogger("inpaintkit.server")
WEB_DIR = Path(__file__).resolve().parents[1] / "web"
_PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
if hasattr(cv2, "IMWRITE_PNG_FILTER"):  # OpenCV >= 4.11
    _PNG_PARAMS += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB]
_MEDIA = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


@dataclass
class Settings:
    """How the server runs. ``inpaintkit serve`` fills this from its flags."""

    host: str = "127.0.0.1"
    port: int = 8080
    #: ``NAME`` or ``NAME:CHECKPOINT`` specs; the first is the default model (none: the best available).
    models: tuple[str, ...] = ()
    #: Constructor options for the default model.
    model_options: dict[str, Any] = field(default_factory=dict)
    #: Largest request body accepted, in MB (413 above).
    max_upload_mb: float = 50.0
    #: Largest image accepted, in pixels (413 above); checked from the header before decoding.
    max_pixels: int = 40_000_000
    #: Threads running image work, and how many more requests may wait for one (503 beyond).
    workers: int = 2
    queue_size: int = 16
    #: A ready detector object (``detect(rgb)``); ``None`` loads ``inpaintkit.forensics.load_detector(detector_source)``.
    detector: Any = None
    detector_source: str | None = None
    #: Serve the web page at ``/``.
    serve_web: bool = True
    #: IOPaint's UI and folders (``--ui iopaint --iopaint-web DIR``, ``--input``, ``--output-dir``, ``--mask-dir``)
    iopaint: IOPaintSettings = field(default_factory=IOPaintSettings)
    #: Let clients change the server-wide default model with ``POST /api/v1/model`` (off: 403, unless IOPaint's UI
    #: is served, which switches models that way; per-request ``model`` always works).
    allow_model_switch: bool = False
    #: Seconds a fill may run before it stops (checked between model calls); its client gets a 413.
    request_timeout: float = 60.0
    #: Seconds a client may pause while sending a request body before it gets a 408 and the connection closes.
    body_timeout: float = 20.0
    #: Bytes one fill may use (image copies + model working memory); larger fills run the model downscaled.
    memory_budget: int = DEFAULT_MEMORY_BUDGET
    #: Images above this many pixels are heavy jobs: they never hold every worker, so small requests keep flowing.
    heavy_pixels: int = 1_000_000

    @property
    def model_switch_allowed(self) -> bool:
        """``POST /api/v1/model`` works: asked for, or IOPaint's UI is served (it switches models that way)."""
        return self.allow_model_switch or self.iopaint.ui == "iopaint"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


def _png(arr: np.ndarray) -> bytes:
    """uint8 gray (H, W), RGB (H, W, 3) or RGBA (H, W, 4) -> PNG bytes, encoded for speed.

    The encode is the largest part of a request's overhead, so the server does not use ``io.encode_image``'s
    defaults (zlib level 6, adaptive filters): the Sub filter with zlib's run-length strategy is ~2x faster than
    them on photos for files ~12 % larger (512x512: 11 ms / 354 KB vs 20 ms / 310 KB of CPU), and still packs
    flat masks and heatmaps to almost nothing.
    """
    if arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR if arr.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(arr), _PNG_PARAMS)
    if not ok:
        raise RuntimeError(f"PNG encoding failed for an array of shape {arr.shape}")
    return buf.tobytes()


def _encode(rgb: np.ndarray, alpha: np.ndarray | None, fmt: str) -> bytes:
    """The response image: our fast PNG, or ``io.encode_image`` for JPEG / WebP."""
    if fmt != "png":
        return encode_image(rgb, alpha, fmt)
    return _png(np.dstack([rgb, alpha]) if alpha is not None else rgb)


def _request_schema(model: type[BaseModel], files: tuple[str, ...]) -> dict[str, Any]:
    """OpenAPI requestBody for a route that takes the model as JSON or the same fields as a multipart upload."""
    json_schema = model.model_json_schema()
    form_props = {
        k: ({"type": "string", "format": "binary", "description": v.get("description", "")} if k in files else v)
        for k, v in json_schema["properties"].items()
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": json_schema},
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": form_props, "required": list(files)}
                },
            },
        }
    }


class _BugsAre500:
    """ASGI middleware: an unexpected exception becomes a one-line 500 JSON answer on a connection that stays open."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watch(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as e:  # noqa: BLE001 - the last line of defence: log it, answer, keep serving
            log.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if started:  # half a response is out: nothing sane to add, the connection must close
                raise
            await JSONResponse(
                error_body(type(e).__name__, f"internal error ({type(e).__name__}); this is a bug in inpaintkit"),
                status_code=500,
            )(scope, receive, send)


async def _run_watched(
    request: Request, pool: WorkerPool, ticket: Ticket, fn: Any, *args: Any, heavy: bool = False
) -> Any:
    """Run ``fn`` on the pool; cancel it (queued: dropped, running: stops at its next check) if the client leaves."""
    fut = asyncio.ensure_future(pool.run(fn, *args, heavy=heavy, ticket=ticket))
    try:
        while True:
            done, _ = await asyncio.wait({fut}, timeout=0.25)
            if done:
                return fut.result()
            if await request.is_disconnected():
                ticket.cancel()
                fut.cancel()
                raise InpaintKitError("client disconnected; fill cancelled", status_code=499)
    finally:
        if not fut.done():
            ticket.cancel()
            fut.cancel()


# -- the app --------------------------------------------------------------------------------------------------------
def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application. The models load lazily, on the first request that needs each one."""
    settings = settings or Settings()
    settings.iopaint.check()
    models = ModelCache(settings.models, settings.model_options, memory_budget=settings.memory_budget)
    pool = WorkerPool(settings.workers, settings.queue_size)
    detector = DetectorSlot(settings.detector, settings.detector_source)
    limit = settings.max_upload_bytes

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        pool.shutdown()

    app = FastAPI(
        title="inpaintkit",
        version=__version__,
        lifespan=lifespan,
        description="Remove things from photos: inpainting and inpainting detection. "
        "`/api/v1/inpaint` takes the same JSON as IOPaint's.",
    )
    app.state.settings, app.state.models, app.state.pool, app.state.detector = settings, models, pool, detector

    @app.exception_handler(InpaintKitError)
    async def _user_error(request: Request, e: InpaintKitError) -> JSONResponse:
        # 408: the rest of the body may still arrive; closing is the only way to stop reading it
        headers = {"Connection": "close"} if e.status_code == 408 else None
        return JSONResponse(error_body(type(e).__name__, str(e)), status_code=e.status_code, headers=headers)

    @app.exception_handler(Busy)
    async def _busy(request: Request, e: Busy) -> JSONResponse:
        return JSONResponse(error_body("Busy", str(e)), status_code=503, headers={"Retry-After": str(e.retry_after)})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body("RequestValidationError", _validation_message(e)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body("HTTPException", str(e.detail)), status_code=e.status_code, headers=e.headers)

    # A bug answers 500 from a middleware rather than an ``Exception`` handler: Starlette re-raises after such a
    # handler's response, and the server then drops the keep-alive connection (failing the client's next request).
    app.add_middleware(_BugsAre500)

    @app.get("/healthz", tags=["server"])
    async def healthz() -> dict[str, Any]:
        """Liveness and load: the default model and how busy the worker pool is."""
        return {"status": "ok", "version": __version__, "default_model": models.default, "pool": pool.stats()}

    @app.get("/api/v1/models", tags=["models"], response_model=list[ModelInfo])
    async def list_models() -> list[dict[str, Any]]:
        """Every registered inpainter: kind, whether it needs weights and is usable here, options."""
        return models.describe()

    @app.get("/api/v1/model", tags=["models"], response_model=IOPaintModelInfo)
    async def current_model() -> dict[str, Any]:
        """The default model (what ``/api/v1/inpaint`` uses when the request names none), as IOPaint's ModelInfo."""
        return model_info(models, models.default)

    @app.post("/api/v1/model", tags=["models"], response_model=IOPaintModelInfo)
    async def switch_model(req: SwitchModelRequest) -> dict[str, Any]:
        """Change the server-wide default model (IOPaint's model switch); only with ``--allow-model-switch``."""
        if not settings.model_switch_allowed:
            raise InpaintKitError(
                "changing the server's default model is off; name the model per request "
                '("model": ...) or start the server with --allow-model-switch',
                status_code=403,
            )
        models.set_default(req.name)
        return await current_model()

    def inpaint_job(
        image_bytes: bytes, mask_src: bytes | str, params: InpaintParams, ticket: Ticket | None = None
    ) -> tuple[bytes, str, dict]:
        t0 = time.perf_counter()
        pic = read_image(image_bytes, max_pixels=settings.max_pixels, name="image")
        was_jpeg = pic.format == "JPEG"
        mask = read_mask(_as_bytes(mask_src, "mask"), max_pixels=settings.max_pixels, name="mask")
        if mask.shape != pic.rgb.shape[:2]:
            raise InpaintKitError(
                f"mask is {mask.shape[1]}x{mask.shape[0]} but image is "
                f"{pic.rgb.shape[1]}x{pic.rgb.shape[0]}; send a mask of the image's size"
            )
        t1, c1 = time.perf_counter(), time.thread_time()
        fmt = params.output_format or ("jpeg" if was_jpeg else "png")
        outputs, model_s, encode_s = [], 0.0, 0.0
        for i in range(params.samples):  # sample i: seed sd_seed + i
            p = params if i == 0 else params.model_copy(update={"sd_seed": params.sd_seed + i})
            try:
                res, alpha = iopaint_api.fill(
                    models,
                    pic.rgb,
                    pic.alpha,
                    mask,
                    p,
                    max_pixels=settings.max_pixels,
                    cancel=ticket.cancelled if ticket else None,
                )
            except Cancelled:
                if ticket is not None and ticket.timed_out:
                    raise TooLargeError(
                        f"the fill ran past this server's time budget of "
                        f"{settings.request_timeout:g} s; send a smaller image, fewer holes or "
                        "hd_strategy resize"
                    ) from None
                raise
            model_s += res.seconds
            te = time.perf_counter()
            outputs.append((p.sd_seed, _encode(res.image, alpha, fmt)))
            encode_s += time.perf_counter() - te
        c2 = time.thread_time()
        data = outputs[0][1] if params.samples == 1 else outputs
        # model_cpu: CPU time of this thread in the model (a load-independent figure for single-threaded models)
        return data, fmt, {"decode": t1 - t0, "model": model_s, "model_cpu": c2 - c1, "encode": encode_s}

    @app.post(
        "/api/v1/inpaint",
        tags=["inpaint"],
        response_class=Response,
        openapi_extra=_request_schema(InpaintRequest, ("image", "mask")),
        responses={
            200: {
                "content": {m: {} for m in _MEDIA.values()},
                "description": "The filled image (PNG, or JPEG when the input was one).",
            }
        },
    )
    async def inpaint(request: Request) -> Response:
        """Fill the white part of ``mask`` in ``image``. Pixels outside the mask come back unchanged."""
        t0 = time.perf_counter()
        params, blobs = await _parse(request, InpaintParams, ("image", "mask"), limit, settings.body_timeout)
        name = params.model or models.default
        models.check_usable(name)  # unknown or unusable model: answer now, not after queueing
        params.model = name
        image_bytes = _as_bytes(blobs["image"], "image")
        w, h = peek_size(image_bytes, "image")  # the header only: decides the lane before any decoding
        heavy = w * h > settings.heavy_pixels
        ticket = Ticket(budget=settings.request_timeout)
        timed = await _run_watched(
            request, pool, ticket, inpaint_job, image_bytes, blobs["mask"], params, ticket, heavy=heavy
        )
        data, fmt, t = timed.value
        total = time.perf_counter() - t0
        timing = ", ".join(f"{k};dur={v * 1000:.2f}" for k, v in {"queue": timed.queued, **t, "total": total}.items())
        await iopaint_api.notify_finished(app)
        headers = {"Server-Timing": timing, "X-Model": name, **iopaint_api.response_headers(params)}
        if params.samples > 1:  # several fills: JSON with one data URL per seed
            return JSONResponse(
                {
                    "model": name,
                    "samples": [
                        {"seed": seed, "image": f"data:{_MEDIA[fmt]};base64," + base64.b64encode(blob).decode()}
                        for seed, blob in data
                    ],
                },
                headers=headers,
            )
        return Response(data, media_type=_MEDIA[fmt], headers=headers)

    def adjust_job(mask_src: bytes | str, req: AdjustMaskParams) -> bytes:
        mask = read_mask(_as_bytes(mask_src, "mask"), max_pixels=settings.max_pixels, name="mask")
        return _png(adjust_mask(mask, req.operate, req.kernel_size).astype(np.uint8) * 255)

    @app.post(
        "/api/v1/adjust_mask",
        tags=["inpaint"],
        response_class=Response,
        openapi_extra=_request_schema(AdjustMaskRequest, ("mask",)),
        responses={200: {"content": {"image/png": {}}, "description": "The new mask (255 = hole)."}},
    )
    async def adjust(request: Request) -> Response:
        """Grow, thin or invert a mask (IOPaint's adjust_mask); answers a black/white PNG, white = hole."""
        params, blobs = await _parse(request, AdjustMaskParams, ("mask",), limit, settings.body_timeout)
        timed = await pool.run(adjust_job, blobs["mask"], params)
        return Response(timed.value, media_type="image/png")

    def detect_job(image_src: bytes | str) -> dict[str, Any]:
        pic = read_image(_as_bytes(image_src, "image"), max_pixels=settings.max_pixels, name="image")
        det = detector.detect(pic.rgb)
        heat = (det.heatmap * 255.0).round().astype(np.uint8)
        return {
            "score": det.score,
            "verdict": det.verdict,
            "heatmap": base64.b64encode(_png(heat)).decode("ascii"),
            "width": pic.rgb.shape[1],
            "height": pic.rgb.shape[0],
        }

    @app.post(
        "/api/v1/detect",
        tags=["forensics"],
        response_model=DetectResponse,
        openapi_extra=_request_schema(DetectRequest, ("image",)),
        responses={503: {"description": "No detector is available on this server, or it is busy."}},
    )
    async def detect(request: Request) -> dict[str, Any]:
        """Was this photo inpainted? Score, verdict and a heatmap of where."""
        _, blobs = await _parse(request, DetectParams, ("image",), limit, settings.body_timeout)
        timed = await pool.run(detect_job, blobs["image"])
        return timed.value

    iopaint_api.install(app, settings, models, pool)

    @app.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False)
    async def unknown_api(request: Request, rest: str) -> None:
        path = f"/api/{rest}"
        allowed = sorted({m for r in app.routes if getattr(r, "path", None) == path for m in getattr(r, "methods", ())})
        if allowed:
            raise InpaintKitError(
                f"{request.method} is not allowed on {path}; use {' or '.join(allowed)}", status_code=405
            )
        raise InpaintKitError(f"no API route {path}; see /docs for the routes", status_code=404)

    if settings.serve_web:
        web = settings.iopaint.web_dir if settings.iopaint.ui == "iopaint" else WEB_DIR
        app.mount("/", StaticFiles(directory=web, html=True), name="web")
    return app
