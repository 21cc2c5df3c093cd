"""The inpainter registry: ``create_inpainter(name, **options)`` and ``list_inpainters()``.

This registry is the only list of inpainters. Classical fills register below; learned families register from
``inpaintkit.models`` when it is imported (``create_inpainter`` imports it on first use).
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from ..errors import InpaintKitError
from ..registry import Entry, Registry
from .base import HD_STRATEGIES, HDStrategy, Inpainter, as_mask

INPAINTERS: Registry[type[Inpainter]] = Registry("inpainter")


def register_inpainter(
    name: str,
    *,
    description: str,
    kind: str = "classical",
    needs_weights: bool = False,
    priority: int = 0,
    bundled: bool = False,
    text_guided: bool = False,
) -> Callable[[type[Inpainter]], type[Inpainter]]:
    """Class decorator: add an ``Inpainter`` subclass to the registry under ``name``.

    ``bundled=True``: a learned inpainter whose weights ship in the package (available without a checkpoint);
    ``text_guided=True``: a model that takes a caption.
    """

    def deco(cls: type[Inpainter]) -> type[Inpainter]:
        cls.name = name
        return INPAINTERS.register(
            name,
            description=description,
            kind=kind,
            needs_weights=needs_weights,
            priority=priority,
            bundled=bundled,
            text_guided=text_guided,
        )(cls)

    return deco


_PLUGINS = ("inpaintkit.models",)  # packages whose import registers more inpainters (learned families)
_loaded = False


def _load_plugins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in _PLUGINS:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:  # only tolerate the plugin package itself being absent
            if e.name != mod:
                raise


def is_available(entry: Entry) -> bool:
    """Usable with no checkpoint: classical, or learned with weights bundled in the package."""
    return not entry.needs_weights or entry.bundled


def get_inpainter_entry(name: str) -> Entry[type[Inpainter]]:
    if name not in INPAINTERS:  # a classical fill needs no plug-in (learned models import torch)
        _load_plugins()
    return INPAINTERS.get(name)


def default_inpainter_name() -> str:
    """The best inpainter that works without a checkpoint (highest priority)."""
    _load_plugins()
    return INPAINTERS.best(is_available).name


def list_inpainters(pattern: str | None = None) -> list[str]:
    """Registered names, sorted; ``pattern`` is a shell glob such as ``"pconv*"``."""
    _load_plugins()
    return INPAINTERS.names(pattern)


def create_inpainter(name: str | None = None, **options: Any) -> Inpainter:
    """Build an inpainter by registry name (default: the best one available without a checkpoint).

    Unknown names list the valid ones; unknown options list the valid options.
    """
    entry = get_inpainter_entry(name or default_inpainter_name())
    valid = entry.options()
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise InpaintKitError(
            f"inpainter {entry.name!r} has no option(s) {', '.join(unknown)}; choose from: {', '.join(valid)}"
        )
    try:
        return entry.obj(**options)
    except (TypeError, ValueError) as e:
        raise InpaintKitError(f"inpainter {entry.name!r}: bad option value ({e})") from None


def parse_option_pairs(pairs: list[str] | None, flag: str = "--opt") -> dict[str, Any]:
    """``["radius=5", "seed=1"]`` -> ``{"radius": 5, "seed": 1}`` (values parsed as YAML scalars)."""
    import yaml  # only option parsing needs it, not every import of the package

    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InpaintKitError(f"{flag} {pair!r}: expected KEY=VALUE")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError as e:
            reason = " ".join(str(getattr(e, "problem", None) or e).split())
            raise InpaintKitError(
                f"{flag} {pair!r}: the value is not valid YAML ({reason}); quote it, e.g. {flag} 'name=\"text\"'"
            ) from None
    return out


def parse_model_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """A model spec ``NAME[:CHECKPOINT][?KEY=VALUE&KEY=VALUE...]`` -> ``(name, options)``.

    ``"lama:runs/x"`` -> ``("lama", {"checkpoint": "runs/x"})``; ``"telea"`` -> ``("telea", {})``;
    ``"default?texture=auto&tta=false"`` -> ``("default", {"texture": "auto", "tta": False})``. Values are read as
    ``--opt`` reads them (YAML scalars), so a benchmark can score one model at two settings side by side.
    """
    head, qsep, query = spec.partition("?")
    name, sep, ckpt = head.partition(":")
    opts: dict[str, Any] = {"checkpoint": ckpt} if sep else {}
    if qsep:
        if not query:
            raise InpaintKitError(f"model {spec!r}: nothing after '?'; give KEY=VALUE pairs joined by '&'")
        extra = parse_option_pairs(query.split("&"), flag=f"model {spec!r}:")
        if "checkpoint" in extra and sep:
            raise InpaintKitError(f"model {spec!r}: the checkpoint is given twice (after ':' and as checkpoint=)")
        opts.update(extra)
    return name, opts


def create_inpainter_from_spec(spec: str, **options: Any) -> Inpainter:
    """``create_inpainter`` for a CLI-style spec ``NAME`` or ``NAME:CHECKPOINT``."""
    name, opts = parse_model_spec(spec)
    return create_inpainter(name, **{**opts, **options})


from . import biharmonic, opencv, patchmatch, probes  # noqa: E402,F401  (registration)

__all__ = [
    "INPAINTERS",
    "HD_STRATEGIES",
    "HDStrategy",
    "Inpainter",
    "as_mask",
    "create_inpainter",
    "create_inpainter_from_spec",
    "default_inpainter_name",
    "get_inpainter_entry",
    "is_available",
    "list_inpainters",
    "parse_model_spec",
    "parse_option_pairs",
    "register_inpainter",
]
