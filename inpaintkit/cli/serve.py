"""``inpaintkit serve`` (the web app and REST API) and ``inpaintkit gui`` (the desktop app)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import InpaintKitError
from . import app
from .run import parse_options

_LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def _check_port(port: int) -> None:
    if not 0 < port < 65536:
        raise InpaintKitError(f"--port {port}: choose a port between 1 and 65535")


@app.command("serve")
def serve_cmd(
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to bind; 0.0.0.0 exposes the server to your network."
    ),
    port: int = typer.Option(8080, "--port", help="TCP port."),
    model: Optional[list[str]] = typer.Option(
        None,
        "--model",
        help="Inpainter NAME or NAME:CHECKPOINT (repeatable; the first is the default). Default: the best available.",
    ),
    opt: Optional[list[str]] = typer.Option(None, "--opt", help="Option KEY=VALUE for the default model (repeatable)."),
    max_upload_mb: float = typer.Option(50.0, "--max-upload-mb", help="Largest request body accepted (413 above)."),
    max_pixels: int = typer.Option(40_000_000, "--max-pixels", help="Largest image accepted, in pixels (413 above)."),
    workers: int = typer.Option(2, "--workers", min=1, help="Threads running image work."),
    queue: int = typer.Option(
        16, "--queue", min=0, help="Requests that may wait for a worker; more get 503 + Retry-After."
    ),
    detector: Optional[str] = typer.Option(
        None, "--detector", help="Detector for /api/v1/detect (default: the bundled one)."
    ),
    log_level: str = typer.Option("info", "--log-level", help="Server log level: critical|error|warning|info|debug."),
    ui: str = typer.Option(
        "inpaintkit", "--ui", help="Web app at /: inpaintkit (ours) or iopaint (IOPaint's, from --iopaint-web)."
    ),
    iopaint_web: Optional[Path] = typer.Option(
        None, "--iopaint-web", help="IOPaint's built web app: its wheel's iopaint/web_app folder (for --ui iopaint)."
    ),
    input_path: Optional[Path] = typer.Option(
        None,
        "--input",
        help="IOPaint's --input: an image opened at start, or a folder browsed by its file manager (read only).",
    ),
    output_dir: Optional[Path] = typer.Option(
        None,
        "--output-dir",
        help="Folder where IOPaint's save button writes (POST /api/v1/save_image); nothing is written outside it.",
    ),
    mask_dir: Optional[Path] = typer.Option(
        None, "--mask-dir", help="Folder of masks for IOPaint's file manager (read only)."
    ),
    allow_model_switch: bool = typer.Option(
        False,
        "--allow-model-switch",
        help="Let clients change the server-wide default model (POST /api/v1/model); off: per-request model only.",
    ),
    request_timeout: float = typer.Option(
        60.0, "--request-timeout", help="Seconds a fill may run before it stops (413)."
    ),
    memory_budget_gb: float = typer.Option(
        1.5, "--memory-budget-gb", help="Memory one fill may use; larger fills run the model downscaled."
    ),
) -> None:
    """Serve the web app at http://HOST:PORT/ and the REST API under /api/v1 (docs at /docs)."""
    import uvicorn

    from ..server import Settings, create_app
    from ..server.iopaint_api import IOPaintSettings

    _check_port(port)
    if log_level not in _LOG_LEVELS:
        raise InpaintKitError(f"--log-level {log_level!r}: choose from {', '.join(_LOG_LEVELS)}")
    if max_upload_mb <= 0 or max_pixels <= 0:
        raise InpaintKitError("--max-upload-mb and --max-pixels must be positive")
    if request_timeout <= 0 or memory_budget_gb <= 0:
        raise InpaintKitError("--request-timeout and --memory-budget-gb must be positive")
    settings = Settings(
        host=host,
        port=port,
        models=tuple(model or ()),
        model_options=parse_options(opt),
        max_upload_mb=max_upload_mb,
        max_pixels=max_pixels,
        workers=workers,
        queue_size=queue,
        detector_source=detector,
        allow_model_switch=allow_model_switch,
        request_timeout=request_timeout,
        memory_budget=int(memory_budget_gb * 1e9),
        iopaint=IOPaintSettings(ui=ui, web_dir=iopaint_web, input=input_path, output_dir=output_dir, mask_dir=mask_dir),
    )
    application = create_app(settings)
    models = application.state.models
    models.get()  # build the default model now: a bad checkpoint fails here, not at the first request
    page = "IOPaint's web app" if ui == "iopaint" else "web app"
    print(
        f"inpaintkit: serving the {page} on http://{host}:{port}/ (default model: {models.default}; API docs at /docs)",
        flush=True,
    )
    uvicorn.run(application, host=host, port=port, log_level=log_level, timeout_keep_alive=30)


@app.command("gui")
def gui_cmd(
    image: Optional[Path] = typer.Argument(None, help="Image to open at start."),
    model: Optional[str] = typer.Option(None, "--model", help="Inpainter NAME or NAME:CHECKPOINT selected at start."),
) -> None:
    """The desktop app: paint over what should go, press Fill."""
    from ..gui import run_gui

    if image is not None and not image.is_file():
        raise InpaintKitError(f"{image}: no such file")
    return run_gui(image, model)
