"""A trained run as an ``Inpainter``: the glue between the training system's run folder and the registry.

``register_learned_inpainter`` (called by ``register_model``) adds one ``Inpainter`` subclass per family, named like
the family. Its constructor takes ``checkpoint``: a run folder (its ``config.yaml`` plus the ``best`` or ``last``
weights; the EMA generator when the run kept one) or a generator ``.safetensors`` file from such a folder (the
run's ``config.yaml`` is found in a parent folder). The base class does the rest (HD strategy, padding, paste-back).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator

import numpy as np
import torch

from ..device import pick_device
from ..errors import InpaintKitError
from ..inpainters import Inpainter, register_inpainter
from .base import MODELS, Family

#: Where trained runs ship inside the package (``inpaintkit/weights/<name>/``).
BUNDLED_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


def load_family(
    name: str, family_cls: type[Family], checkpoint: str | Path, device: str | torch.device = "cpu"
) -> tuple[Family, Path]:
    """Build family ``name`` from a run folder or generator file and load its generator weights (eval mode).

    Returns the family and the weights file it loaded."""
    from pydantic import ValidationError

    from ..runs import find_generator_weights, load_generator, read_model_groups

    weights, config_path = find_generator_weights(checkpoint)
    family_name, groups = read_model_groups(config_path)
    if family_name != name:
        raise InpaintKitError(f"{checkpoint}: this is a {family_name!r} run, not {name!r}; use --model {family_name}")
    try:
        family = family_cls(
            family_cls.ModelConfig(**groups["model"]),
            family_cls.DiscriminatorConfig(**groups["discriminator"]),
            family_cls.LossConfig(**groups["losses"]),
        )
    except ValidationError as e:
        first = e.errors()[0]
        raise InpaintKitError(
            f"{config_path}: {'.'.join(map(str, first.get('loc', ())))}: {first.get('msg')}; "
            "is this run from another inpaintkit version?"
        ) from None
    load_generator(family.generator, weights, expect_family=name)
    return family.to(device).eval(), weights


RUNTIMES = ("torch", "onnx")
#: Environment variable that sets the intra-op threads of learned inpainters when the ``threads`` option is not given.
THREADS_ENV = "INPAINTKIT_THREADS"


def default_threads(runtime: str) -> int:
    """Threads when neither the option nor the variable is set (docs/default-model.md has the measurements).

    torch: 1. Its OpenMP threads spin while they wait, so with 2 threads a fill beside one busy process took 4x
    (12x on a crowded machine) its 1-thread time. onnxruntime: up to 2, with spinning off (``OnnxGraph``): idle
    it uses both cores, beside a busy process it stays near its 1-thread time.
    """
    if runtime == "onnx":
        n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return max(1, min(2, n))
    return 1


def resolve_threads(threads: Any = None, runtime: str = "torch") -> int:
    """The intra-op thread count: ``threads`` if given, else ``$INPAINTKIT_THREADS``, else ``default_threads``."""
    source = "threads"
    if threads is None:
        env = os.environ.get(THREADS_ENV, "").strip()
        if not env:
            return default_threads(runtime)
        source, threads = THREADS_ENV, env
        try:
            threads = int(env)
        except ValueError:
            raise InpaintKitError(f"{THREADS_ENV}={env!r}: must be a whole number of threads >= 1") from None
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or not 1 <= threads <= 256:
        raise InpaintKitError(f"{source}={threads!r}: must be a whole number of threads in [1, 256]")
    return int(threads)


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with ``n`` torch intra-op threads, then restore the caller's count.

    With torch's OpenMP backend the count is per calling thread, so a server's other worker threads are not
    affected either.
    """
    before = torch.get_num_threads()
    if before == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def safe_min_size(pad_multiple: int, min_size: int) -> int:
    """Smallest input side a network runs on: its deepest feature map must be >= 2 px for reflect padding.

    A network that needs sides divisible by ``pad_multiple`` downsamples that much, so an input of one multiple
    reaches 1 px and reflect padding fails (``Padding size should be less than ...`` on images <= 8 px).
    """
    return max(int(min_size), 2 * max(1, int(pad_multiple)))


class LearnedInpainter(Inpainter):
    """Base of the registered learned inpainters: runs ``family_cls`` from a checkpoint under torch or onnxruntime.

    ``runtime="onnx"`` runs an exported graph instead of torch: ``onnx_file`` when given (``inpaintkit export``),
    else an export of the checkpoint made once and cached (see ``inpaintkit.export``).

    ``threads``: intra-op threads of one call (``None``: ``$INPAINTKIT_THREADS``, else ``default_threads``).
    Under torch the process's own thread count is set for the call and restored after it; under onnxruntime the
    session owns its threads (which sleep rather than spin when idle).
    """

    family_name: ClassVar[str] = ""
    family_cls: ClassVar[type[Family]]
    #: measured for ``default`` (464 B/px, benchmarks/memory_model.py); families without a measurement share it
    bytes_per_pixel: ClassVar[float] = 480.0
    #: Trained weights shipped under ``inpaintkit/weights/<name>/`` (``generator.safetensors`` beside the run's
    #: ``config.yaml``), used when no checkpoint is given (None: none ships).
    bundled_run: ClassVar[Path | None] = None

    def __init__(
        self,
        checkpoint: str | None = None,
        device: str = "auto",
        runtime: str = "torch",
        onnx_file: str | None = None,
        threads: int | None = None,
        **kw: Any,
    ):
        super().__init__(**kw)
        self.min_size = safe_min_size(self.pad_multiple, self.min_size)
        name = self.family_name
        if runtime not in RUNTIMES:
            raise InpaintKitError(f"runtime {runtime!r}: choose from {', '.join(RUNTIMES)}")
        self.threads = resolve_threads(threads, runtime)
        if onnx_file and runtime != "onnx":
            raise InpaintKitError("onnx_file is for runtime onnx; add --runtime onnx")
        self.runtime = runtime
        self.onnx = None
        if runtime == "onnx" and onnx_file:  # the exported file is all it needs
            self.onnx = self._open_onnx(onnx_file)
            return
        if not checkpoint and self.bundled_run is not None and self.bundled_run.is_file():
            checkpoint = str(self.bundled_run)  # the trained weights that ship in the package
        if not checkpoint:
            raise InpaintKitError(
                f"{name}: needs a trained checkpoint; pass --checkpoint RUN_DIR "
                f"(train one with `inpaintkit train --config configs/{name}.yaml`)"
            )
        self.device = pick_device(device)
        if runtime == "onnx" and self.device.type != "cpu":
            raise InpaintKitError(f"runtime onnx runs on the CPU; drop --device {device} or use runtime torch")
        self.family, self.weights = load_family(name, self.family_cls, checkpoint, self.device)
        if runtime == "onnx":
            from ..export.onnx import cached_export

            self.onnx = self._open_onnx(cached_export(self.family, self.weights))

    @property
    def helper_threads(self) -> int:
        """Torch threads for the tensor work around the network (the ``default`` model's full-resolution pre-fill):
        the call's count under torch; 1 under onnxruntime, whose count is for its own pool of sleeping threads.
        torch's OpenMP threads spin: at 2, that 512² pre-fill took 3.7 s beside one busy process instead of 75 ms
        (docs/default-model.md, "Threads")."""
        return self.threads if self.onnx is None else 1

    def _open_onnx(self, path: str | Path) -> Any:
        from ..export.onnx import OnnxGraph

        graph = OnnxGraph(path, threads=self.threads)
        if graph.family != self.family_name:
            raise InpaintKitError(f"{path}: an export of {graph.family!r}, not {self.family_name!r}")
        self.pad_multiple, self.min_size = graph.pad_multiple, safe_min_size(graph.pad_multiple, graph.min_size)
        return graph

    def forward(self, image: np.ndarray, mask: np.ndarray, **call_kw: Any) -> np.ndarray:
        x = image.transpose(2, 0, 1)[None].astype(np.float32) / 255.0  # (1,3,H,W)
        m = mask[None, None].astype(np.float32)  # (1,1,H,W), 1 = hole
        if self.onnx is not None:
            if call_kw:
                raise InpaintKitError(f"runtime onnx takes no per-call options ({', '.join(call_kw)})")
            out = torch.from_numpy(self.onnx(x, m))
        else:
            with torch.inference_mode(), torch_threads(self.threads):
                out = self.family.predict(
                    torch.from_numpy(x).to(self.device), torch.from_numpy(m).to(self.device), **call_kw
                )
        out = (out[0].clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0)
        return np.ascontiguousarray(out.cpu().numpy())


def register_learned_inpainter(
    name: str,
    family_cls: type[Family],
    *,
    description: str,
    text_guided: bool = False,
    call_options: tuple[str, ...] = (),
    bundled: str | None = None,
) -> None:
    """Register an ``Inpainter`` named ``name`` that runs ``family_cls`` from a trained checkpoint (or, with
    ``bundled``, from ``inpaintkit/weights/<bundled>/generator.safetensors`` and the ``config.yaml`` beside it when
    they are installed and no checkpoint is given)."""
    run = BUNDLED_WEIGHTS / bundled / "generator.safetensors" if bundled else None
    attrs = {
        "family_name": name,
        "family_cls": family_cls,
        "pad_multiple": family_cls.pad_multiple,
        "min_size": safe_min_size(family_cls.pad_multiple, family_cls.min_size),
        "call_options": tuple(call_options),
        "bundled_run": run,
        "__doc__": f"Inpainter running a trained {name!r} checkpoint ({description}).",
    }
    cls = type(f"{family_cls.__name__}Inpainter", (LearnedInpainter,), attrs)
    register_inpainter(
        name,
        description=description,
        kind="learned",
        needs_weights=True,
        bundled=run is not None and run.is_file() and (run.parent / "config.yaml").is_file(),
        text_guided=text_guided,
    )(cls)


def register_model(
    name: str,
    *,
    description: str,
    text_guided: bool = False,
    call_options: tuple[str, ...] = (),
    bundled: str | None = None,
) -> Callable[[type[Family]], type[Family]]:
    """Class decorator for a ``Family``: registers it for training (``MODELS``) and as a checkpoint-loading
    inpainter (the one registry of inpainters). ``text_guided``: it takes a caption; ``call_options``: the
    per-call options of its inpainter (``Inpainter.call_options``)."""

    def deco(cls: type[Family]) -> type[Family]:
        cls.name = name
        MODELS.register(name, description=description, kind="learned", text_guided=text_guided)(cls)
        register_learned_inpainter(
            name, cls, description=description, text_guided=text_guided, call_options=call_options, bundled=bundled
        )
        return cls

    return deco
