"""``inpaintkit export``: a learned model's inference graph as an ONNX file for onnxruntime."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from ..errors import InpaintKitError
from ..inpainters import create_inpainter, get_inpainter_entry, parse_model_spec
from . import app

FORMATS = ("onnx",)


@app.command("export")
def export_cmd(
    output: Path = typer.Option(..., "--output", "-o", help="The .onnx file to write."),
    model: str = typer.Option(
        "default", "--model", help="A learned model: default, or NAME:CHECKPOINT / NAME with --checkpoint."
    ),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Run folder or weights of a trained model."),
    fmt: str = typer.Option("onnx", "--format", help=f"Export format: {'|'.join(FORMATS)}."),
    check: bool = typer.Option(
        True, "--check/--no-check", help="Run the export on onnxruntime and compare with torch."
    ),
) -> None:
    """Export a learned model (the bundled default, or a trained checkpoint) to ONNX."""
    if fmt not in FORMATS:
        raise InpaintKitError(f"--format {fmt!r}: choose from {', '.join(FORMATS)}")
    name, options = parse_model_spec(model)
    entry = get_inpainter_entry(name)
    if entry.kind != "learned":
        raise InpaintKitError(f"--model {name}: not a network ({entry.kind}); export takes a learned model")
    if checkpoint is not None:
        options["checkpoint"] = str(checkpoint)
    options.setdefault("runtime", "torch")  # the export traces the torch model (``default`` picks onnx on its own)
    inpainter = create_inpainter(name, device="cpu", **options)

    from ..export import compare_runtimes, export_onnx, file_sha256

    t = time.perf_counter()
    export_onnx(
        inpainter.family, output, metadata={"weights_sha256": file_sha256(inpainter.weights), "inpainter": name}
    )
    print(f"wrote {output} ({name}, {output.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - t:.1f} s)")
    if check:
        err = compare_runtimes(inpainter.family, output)
        print(f"onnxruntime vs torch on a 256x256 test input: max abs error {err:.2e} (images in [0, 1])")
        if err > 1e-3:
            raise InpaintKitError(f"{output}: onnxruntime output differs from torch by {err:.2e} (> 1e-3)")
