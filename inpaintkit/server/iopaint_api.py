"""IOPaint's REST API and socket.io events on top of inpaintkit's server, so IOPaint's own web app, its scripts and
tools built on it work against ``inpaintkit serve`` unchanged. Written from IOPaint 1.6.0's ``api.py`` and
``schema.py`` (read, not copied); docs/iopaint.md lists every endpoint and field and what we do with it.

``install(app, ...)`` adds, beside the routes ``app.py`` already has (``/api/v1/inpaint``, ``adjust_mask``,
``model``):

- ``GET  /api/v1/server-config``  IOPaint's ``ServerConfigResponse``; ``modelInfos`` = our usable models.
- ``GET  /api/v1/inputimage``     the ``--input`` file, or IOPaint's "No input image configured" answer.
- ``POST /api/v1/gen-info``       prompt / negative prompt from a PNG's ``parameters`` text chunk.
- ``POST /api/v1/save_image``     writes the upload into ``--output-dir`` (never outside it).
- ``GET  /api/v1/medias``, ``/media_file``, ``/media_thumbnail_file``  IOPaint's file manager over the read-only
  ``--input`` folder (and ``--output-dir``, ``--mask-dir``); path traversal is refused.
- ``GET  /api/v1/samplers``       diffusion samplers: none here.
- ``POST /api/v1/switch_plugin_model``, ``/run_plugin_gen_mask``, ``/run_plugin_gen_image``  a 422 naming the
  plugin that is not available (inpaintkit ships none of IOPaint's plugin models).
- socket.io at ``/socket.io/``: ``diffusion_finish`` after each fill, as IOPaint emits it.

``fill`` runs one ``/api/v1/inpaint`` request with IOPaint's croper / extender / seed fields.
"""

from __future__ import annotations

import io
import logging
import os
import re
import stat
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from PIL import Image, ImageOps, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from .. import __version__
from ..errors import InpaintKitError, TooLargeError
from ..inference import FillResult, ModelCache, is_text_guided
from ..io import atomic_write_bytes
from .bodies import decode_base64, parse, read_body
from .iopaint_schemas import (
    IMPLEMENTED_FIELDS,
    GenInfoResponse,
    IOPaintInpaintFields,
    IOPaintModelInfo,
    MediasResponse,
    MediaTab,
    RunPluginRequest,
    ServerConfigResponse,
    SwitchPluginModelRequest,
    ignored_fields,
)

log = logging.getLogger("inpaintkit.server")
UIS = ("inpaintkit", "iopaint")
#: What the file manager lists and serves (IOPaint lists .jpg/.jpeg/.png; we add .webp).
MEDIA_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
_MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
#: IOPaint's plugins; none is available here (their models are not ours to ship).
IOPAINT_PLUGINS = ("RemoveBG", "AnimeSeg", "RealESRGAN", "GFPGAN", "RestoreFormer", "InteractiveSeg")
_THUMB_MAX_SIDE = 2048


@dataclass
class IOPaintSettings:
    """The ``inpaintkit serve`` flags that only matter to IOPaint's clients."""

    #: ``iopaint``: serve IOPaint's web app (from ``web_dir``) at ``/`` instead of ours.
    ui: str = "inpaintkit"
    #: IOPaint's built frontend: a folder holding ``index.html`` (IOPaint's ``iopaint/web_app``).
    web_dir: Path | None = None
    #: IOPaint's ``--input``: an image file (served by ``/api/v1/inputimage``) or a folder (its file manager),
    #: only ever read.
    input: Path | None = None
    #: Where ``/api/v1/save_image`` writes (IOPaint's ``--output-dir``); also the file manager's "output" tab.
    output_dir: Path | None = None
    #: The file manager's "mask" tab (IOPaint's ``--mask-dir``), only ever read.
    mask_dir: Path | None = None

    def check(self) -> None:
        """Refuse a bad configuration at start, naming the flag."""
        if self.ui not in UIS:
            raise InpaintKitError(f"--ui {self.ui!r}: choose from {', '.join(UIS)}")
        if self.ui == "iopaint":
            if self.web_dir is None:
                raise InpaintKitError(
                    "--ui iopaint needs --iopaint-web DIR: the folder of IOPaint's built web app "
                    "(iopaint/web_app inside its wheel: pip download --no-deps iopaint==1.6.0)"
                )
            self.web_dir = find_web_dir(self.web_dir)
        if self.input is not None and not self.input.exists():
            raise InpaintKitError(f"--input {self.input}: no such file or folder")
        if self.mask_dir is not None and not self.mask_dir.is_dir():
            raise InpaintKitError(f"--mask-dir {self.mask_dir}: not a folder")
        if self.output_dir is not None:
            if self.output_dir.exists() and not self.output_dir.is_dir():
                raise InpaintKitError(f"--output-dir {self.output_dir}: exists and is not a folder")
            try:
                self.output_dir.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise InpaintKitError(f"--output-dir {self.output_dir}: cannot create it ({e.strerror})") from None

    @property
    def input_dir(self) -> Path | None:
        return self.input if self.input is not None and self.input.is_dir() else None

    @property
    def input_file(self) -> Path | None:
        return self.input if self.input is not None and self.input.is_file() else None


def find_web_dir(path: Path) -> Path:
    """The folder with IOPaint's ``index.html``: ``path`` itself, or its ``web_app`` / ``iopaint/web_app``."""
    path = Path(path)
    for cand in (path, path / "web_app", path / "iopaint" / "web_app"):
        if (cand / "index.html").is_file() and (cand / "assets").is_dir():
            return cand
    raise InpaintKitError(
        f"--iopaint-web {path}: no IOPaint web app there (looked for index.html and assets/ in it, "
        "in web_app/ and in iopaint/web_app/); unzip IOPaint's wheel and point to iopaint/web_app"
    )


# -- bodies ---------------------------------------------------------------------------------------------------------
def error_body(error: str, detail: str) -> dict[str, str]:
    """An error as both inpaintkit (``detail``) and IOPaint (``error``, ``detail``, ``body``, ``errors``) read it.

    IOPaint's web app shows ``errors`` in its error toast.
    """
    return {"detail": detail, "error": error, "body": "", "errors": detail}


def model_info(models: ModelCache, name: str) -> dict[str, Any]:
    """IOPaint's ``ModelInfo`` for one of our models, with our own description of it (``GET /api/v1/models``)."""
    ours = next(m for m in models.describe() if m["name"] == name)
    ckpt = models._configured.get(name, {}).get("checkpoint")
    return IOPaintModelInfo(
        path=f"{name}:{ckpt}" if ckpt else name, need_prompt=is_text_guided(name), **ours
    ).model_dump()


def response_headers(params: IOPaintInpaintFields) -> dict[str, str]:
    """``X-Seed`` (IOPaint's) and ``X-Inpaintkit-Ignored``: the fields this request set that had no effect."""
    defaults = IOPaintInpaintFields.model_fields
    ignored = [
        k
        for k in sorted(params.model_fields_set)
        if k in defaults and k not in IMPLEMENTED_FIELDS and getattr(params, k) != defaults[k].default
    ]
    headers = {"X-Seed": str(params.sd_seed)}
    if ignored:
        headers["X-Inpaintkit-Ignored"] = ", ".join(ignored)
    return headers


# -- the fill -------------------------------------------------------------------------------------------------------
def _box(x: int, y: int, w: int, h: int, W: int, H: int, what: str) -> tuple[int, int, int, int]:
    if w <= 0 or h <= 0:
        raise InpaintKitError(f"{what}_width and {what}_height must be positive, got {w}x{h}")
    l, t, r, b = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if l >= r or t >= b:
        raise InpaintKitError(f"the {what} rectangle ({x}, {y}, {w}x{h}) does not overlap the {W}x{H} image")
    return l, t, r, b


def fill(
    models: ModelCache,
    rgb: np.ndarray,
    alpha: np.ndarray | None,
    mask: np.ndarray,
    params: Any,
    *,
    max_pixels: int,
    cancel: Callable[[], bool] | None = None,
) -> tuple[FillResult, np.ndarray | None]:
    """One ``/api/v1/inpaint`` request: plain fill, IOPaint's croper (fill only inside a rectangle, seeing only
    it) or extender (outpaint to a rectangle). Returns the result and the alpha to write with it.

    ``params`` is ``schemas.InpaintParams`` (our fields plus ``IOPaintInpaintFields``); ``model`` is resolved.
    """
    if not params.sd_keep_unmasked_area:
        raise InpaintKitError(
            "sd_keep_unmasked_area=false is not supported: inpaintkit always keeps the pixels "
            "outside the hole; send true or leave the field out"
        )
    name = params.model
    kw: dict[str, Any] = dict(params.hd_options())
    if "seed" in models.get(name).call_options:
        kw["seed"] = params.sd_seed % 2**32

    def run(img: np.ndarray, hole: np.ndarray) -> FillResult:
        return models.fill(img, hole, name, caption=params.text, cancel=cancel, **kw)

    H, W = rgb.shape[:2]
    if params.use_croper:  # IOPaint checks the croper before the extender
        l, t, r, b = _box(params.croper_x, params.croper_y, params.croper_width, params.croper_height, W, H, "croper")
        res = run(np.ascontiguousarray(rgb[t:b, l:r]), np.ascontiguousarray(mask[t:b, l:r]))
        out = rgb.copy()
        out[t:b, l:r] = res.image
        return FillResult(out, res.model, res.seconds), alpha
    if params.use_extender:
        x, y, w, h = params.extender_x, params.extender_y, params.extender_width, params.extender_height
        _box(x, y, w, h, W, H, "extender")
        pl, pt, pr, pb = max(0, -x), max(0, -y), max(0, x + w - W), max(0, y + h - H)
        oh, ow = H + pt + pb, W + pl + pr
        if oh * ow > max_pixels:
            raise TooLargeError(
                f"the extended image would be {ow}x{oh} = {ow * oh / 1e6:.1f} MP, above the limit of "
                f"{max_pixels / 1e6:.1f} MP; extend less or start the server with a larger "
                "--max-pixels"
            )
        canvas = np.zeros((oh, ow, 3), np.uint8)
        canvas[pt : pt + H, pl : pl + W] = rgb
        known = np.zeros((oh, ow), bool)
        known[pt : pt + H, pl : pl + W] = True
        ex, ey = x + pl, y + pt  # the extender rectangle on the canvas; the model sees only it, as in IOPaint
        res = run(np.ascontiguousarray(canvas[ey : ey + h, ex : ex + w]), ~known[ey : ey + h, ex : ex + w])
        canvas[ey : ey + h, ex : ex + w] = res.image
        if alpha is not None:
            grown = np.full((oh, ow), 255, np.uint8)
            grown[pt : pt + H, pl : pl + W] = alpha
            alpha = grown
        return FillResult(canvas, res.model, res.seconds), alpha
    return run(rgb, mask), alpha


# -- socket.io ------------------------------------------------------------------------------------------------------
def mount_socketio(app: FastAPI) -> None:
    """socket.io (Engine.IO 4, polling and WebSocket) at ``/socket.io/``, where IOPaint's web app connects."""
    try:
        import socketio
    except ImportError:  # an install without the serve extra's python-socketio: the REST API still works
        log.warning(
            "python-socketio is not installed: IOPaint's web app will retry /socket.io/ "
            "(pip install 'inpaintkit[serve]')"
        )
        app.state.sio = None
        return
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=None, logger=False, engineio_logger=False)
    app.state.sio = sio
    app.mount("/socket.io", socketio.ASGIApp(sio, socketio_path=None), name="socket.io")


async def notify_finished(app: FastAPI) -> None:
    """IOPaint's ``diffusion_finish`` event: its web app resets its progress bar on it."""
    sio = getattr(app.state, "sio", None)
    if sio is not None:
        await sio.emit("diffusion_finish")


# -- files ----------------------------------------------------------------------------------------------------------
def _plain_name(filename: str, what: str) -> str:
    if (
        not filename
        or filename in (".", "..")
        or Path(filename).name != filename
        or any(c in filename for c in "/\\\0")
    ):
        raise InpaintKitError(f"{what} {filename!r}: give a file name inside the folder, not a path", status_code=400)
    return filename


def _media_path(folder: Path, filename: str) -> Path:
    """``folder/filename`` if it is an image file really inside ``folder`` (links out of it are refused)."""
    _plain_name(filename, "filename")
    root = folder.resolve()
    try:
        real = (root / filename).resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError, OSError):
        real = None
    if (
        real is None
        or real.parent != root
        or not real.is_file()
        or real.suffix.lower() not in MEDIA_SUFFIXES
        or filename.startswith(".")
    ):
        raise InpaintKitError(f"no image {filename!r} in that folder", status_code=404)
    return real


class _Thumbs:
    """A few recent thumbnails, in memory (IOPaint writes them to disk; we write nothing but save_image)."""

    def __init__(self, size: int = 256):
        self.size = size
        self._d: OrderedDict[tuple, tuple[bytes, int, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, make: Callable[[], tuple[bytes, int, int]]) -> tuple[bytes, int, int]:
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                return self._d[key]
        value = make()
        with self._lock:
            self._d[key] = value
            while len(self._d) > self.size:
                self._d.popitem(last=False)
        return value


# -- the routes -----------------------------------------------------------------------------------------------------
class _NoFields(BaseModel):
    model_config = ConfigDict(extra="ignore")


def install(app: FastAPI, settings: Any, models: ModelCache, pool: Any) -> None:
    """Add IOPaint's routes and socket.io to ``app`` (call before the catch-all ``/api`` route and the page).

    Bodies are read by ``bodies``' parsers, so uploads obey the server's limits like every other route.
    """
    io_cfg: IOPaintSettings = settings.iopaint
    limit = settings.max_upload_bytes
    thumbs = _Thumbs()
    router = APIRouter(prefix="/api/v1", tags=["IOPaint"])

    def folder(tab: str) -> Path | None:
        return {"input": io_cfg.input_dir, "output": io_cfg.output_dir, "mask": io_cfg.mask_dir}[tab]

    def need_folder(tab: str) -> Path:
        d = folder(tab)
        if d is None:
            flag = {"input": "--input DIR", "output": "--output-dir DIR", "mask": "--mask-dir DIR"}[tab]
            raise InpaintKitError(f"no {tab} folder on this server; start it with {flag}", status_code=404)
        return d

    @router.get("/server-config", response_model=ServerConfigResponse)
    async def server_config() -> dict[str, Any]:
        """IOPaint's server configuration: the models usable here, what is on, what IOPaint fields do nothing."""
        usable = [m["name"] for m in models.describe() if m["available"]]
        return {
            "plugins": [],
            "modelInfos": [model_info(models, n) for n in usable],
            "enableFileManager": io_cfg.input_dir is not None,
            "enableAutoSaving": io_cfg.output_dir is not None,
            "disableModelSwitch": not settings.model_switch_allowed,
            "samplers": [],
            "inpaintkit": {
                "version": __version__,
                "implemented_fields": list(IMPLEMENTED_FIELDS),
                "ignored_fields": ignored_fields(),
                "plugins_available": [],
            },
        }

    @router.get("/samplers", response_model=list[str])
    async def samplers() -> list[str]:
        """Diffusion samplers: none, inpaintkit has no diffusion model (``sd_sampler`` is ignored)."""
        return []

    @router.get("/inputimage", responses={200: {"content": {m: {} for m in set(_MEDIA_TYPES.values())}}})
    async def input_image() -> Response:
        """The image given with ``--input FILE``; without one, IOPaint's answer (200, "No input image configured")."""
        path = io_cfg.input_file
        if path is None:
            return JSONResponse(error_body("HTTPException", "No input image configured"), status_code=200)
        data = await pool.run(path.read_bytes)
        headers = {}
        if re.fullmatch(r"[\w.\- ]+", path.name):  # IOPaint's web app takes the file name from this header
            headers["Content-Disposition"] = f"inline; filename={path.name}"
        return Response(
            data.value, media_type=_MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream"), headers=headers
        )

    def gen_info_job(data: bytes) -> dict[str, str]:
        try:
            with Image.open(io.BytesIO(data)) as img:
                text = img.info.get("parameters", "")
        except (UnidentifiedImageError, OSError, ValueError) as e:
            raise InpaintKitError(f"file: not an image ({type(e).__name__})") from None
        parts = str(text).split("Negative prompt: ")
        negative = parts[1].split("\n")[0].strip() if len(parts) > 1 else ""
        return {"prompt": parts[0].strip(), "negative_prompt": negative}

    @router.post("/gen-info", response_model=GenInfoResponse)
    async def gen_info(request: Request) -> dict[str, str]:
        """Prompt and negative prompt from an image's ``parameters`` metadata (as Stable Diffusion web UIs write
        it); empty strings when it has none."""
        _, blobs = await parse(request, _NoFields, ("file",), limit)
        data = blobs["file"]
        return (await pool.run(gen_info_job, data if isinstance(data, bytes) else decode_base64(data, "file"))).value

    def save_job(data: bytes, filename: str) -> dict[str, str]:
        out_dir = need_folder("output")
        name = _plain_name(Path(filename.replace("\\", "/")).name, "file name")
        if name.startswith(".") or Path(name).suffix.lower() not in MEDIA_SUFFIXES:
            raise InpaintKitError(f"file name {name!r}: save images as .png, .jpg, .jpeg or .webp, not hidden files")
        try:
            with Image.open(io.BytesIO(data)) as img:
                w, h = img.size
                img.verify()
        except Exception as e:  # noqa: BLE001 - any decoder failure means "not an image"
            raise InpaintKitError(f"file: not an image ({type(e).__name__})") from None
        if w * h > settings.max_pixels:
            raise TooLargeError(f"file: {w}x{h} is above the limit of {settings.max_pixels / 1e6:.1f} MP")
        target = out_dir.resolve() / name
        try:
            st = os.lstat(target)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISREG(st.st_mode):  # never write through a link or over a folder
            raise InpaintKitError(
                f"{name!r} in the output folder is not a regular file; not overwriting it", status_code=409
            )
        try:
            atomic_write_bytes(target, data)
        except OSError as e:
            raise InpaintKitError(
                f"cannot write {name!r} in the output folder ({e.strerror})", status_code=500
            ) from None
        return {"filename": name}

    @router.post("/save_image")
    async def save_image(request: Request) -> dict[str, str]:
        """Write the uploaded image (multipart field ``file``) into ``--output-dir`` under its own base name,
        replacing a file of that name, as IOPaint does. Nothing is ever written outside that folder."""
        need_folder("output")
        body = await _read_multipart(request, read_body, limit)
        return (await pool.run(save_job, body["data"], body["filename"])).value

    def medias_job(tab: str) -> list[dict[str, Any]]:
        d = folder(tab)
        if d is None:
            return []
        root, out = d.resolve(), []
        for p in sorted(root.iterdir()):
            if p.name.startswith(".") or p.suffix.lower() not in MEDIA_SUFFIXES:
                continue
            try:
                real = p.resolve(strict=True)
                if real.parent != root or not real.is_file():
                    continue
                with Image.open(real) as img:
                    w, h = img.size
                st = real.stat()
            except (OSError, UnidentifiedImageError, ValueError):
                continue  # unreadable or not an image: not listed
            out.append({"name": p.name, "width": w, "height": h, "ctime": st.st_ctime, "mtime": st.st_mtime})
        return out

    @router.get("/medias", response_model=list[MediasResponse])
    async def medias(tab: MediaTab) -> list[dict[str, Any]]:
        """The images of the ``--input`` folder (``tab=input``), ``--output-dir`` or ``--mask-dir``."""
        if tab == "input":
            need_folder("input")
        return (await pool.run(medias_job, tab)).value

    @router.get("/media_file", responses={200: {"content": {m: {} for m in set(_MEDIA_TYPES.values())}}})
    async def media_file(tab: MediaTab, filename: str) -> Response:
        """One image of a file-manager folder, as it is on disk."""
        path = _media_path(need_folder(tab), filename)
        data = await pool.run(path.read_bytes)
        return Response(data.value, media_type=_MEDIA_TYPES[path.suffix.lower()])

    def thumb_job(path: Path, width: int, height: int) -> tuple[bytes, int, int]:
        with Image.open(path) as img:
            if img.width * img.height > settings.max_pixels:
                raise TooLargeError(f"{path.name}: {img.width}x{img.height} is above the server's pixel limit")
            if not width and not height:
                width = 256
            if width:
                height = max(1, int(img.height * width / img.width))
            else:
                width = max(1, int(img.width * height / img.height))
            if width > _THUMB_MAX_SIDE or height > _THUMB_MAX_SIDE:
                raise InpaintKitError(f"thumbnail {width}x{height}: at most {_THUMB_MAX_SIDE} px a side")
            small = ImageOps.fit(img, (width, height), Image.Resampling.LANCZOS).convert("RGB")
        buf = io.BytesIO()
        small.save(buf, format="JPEG", quality=90)
        return buf.getvalue(), width, height

    @router.get("/media_thumbnail_file", responses={200: {"content": {"image/jpeg": {}}}})
    async def media_thumbnail_file(
        tab: MediaTab, filename: str, width: int = Query(0, ge=0), height: int = Query(0, ge=0)
    ) -> Response:
        """A JPEG thumbnail ``width`` wide (the height follows the aspect ratio), with IOPaint's X-Width/X-Height."""
        path = _media_path(need_folder(tab), filename)
        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size, width, height)
        data, w, h = (await pool.run(thumbs.get, key, lambda: thumb_job(path, width, height))).value
        return Response(data, media_type="image/jpeg", headers={"X-Width": str(w), "X-Height": str(h)})

    def no_plugin(name: str) -> InpaintKitError:
        return InpaintKitError(
            f"plugin {name!r} is not available: inpaintkit has none of IOPaint's plugins "
            f"({', '.join(IOPAINT_PLUGINS)}), their models are not part of it; GET /api/v1/server-config lists the "
            "plugins (none)",
            status_code=422,
        )

    @router.post("/switch_plugin_model")
    async def switch_plugin_model(req: SwitchPluginModelRequest) -> None:
        """IOPaint's plugin model switch: no plugin is available here (422 naming it)."""
        raise no_plugin(req.plugin_name)

    async def run_plugin(request: Request) -> Response:
        params, _ = await parse(request, RunPluginRequest, (), limit)
        raise no_plugin(params.name)

    router.add_api_route(
        "/run_plugin_gen_mask",
        run_plugin,
        methods=["POST"],
        summary="IOPaint's plugin mask (interactive segmentation ...): not available here (422).",
    )
    router.add_api_route(
        "/run_plugin_gen_image",
        run_plugin,
        methods=["POST"],
        summary="IOPaint's plugin image (remove background, upscale ...): not available (422).",
    )

    app.include_router(router)
    mount_socketio(app)


async def _read_multipart(request: Request, read_body: Callable, limit: int) -> dict[str, Any]:
    """The ``file`` upload of a multipart body with its file name (``parse`` keeps only the bytes)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "multipart/form-data":
        raise InpaintKitError("send the image as a multipart/form-data upload in the field 'file'", status_code=415)
    body = await read_body(request, limit)

    async def stream():
        yield body

    parser = MultiPartParser(request.headers, stream(), max_files=1, max_fields=8, max_part_size=limit)
    parser.spool_max_size = limit + 1
    try:
        form = await parser.parse()
    except MultiPartException as e:
        raise InpaintKitError(f"malformed multipart upload: {e.message}") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        await form.close()
        raise InpaintKitError("file: missing; send the image as the multipart field 'file'", status_code=422)
    data = await upload.read()
    filename = upload.filename or ""
    await form.close()
    return {"data": data, "filename": filename}
