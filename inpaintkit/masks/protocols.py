"""Fixed, seeded evaluation mask sets ("protocols"), one bucket per row group of a report.

- ``pconv``: irregular masks in the hole-ratio buckets of the partial-convolution evaluation
  (Liu et al. 2018): 0.01-0.1, 0.1-0.2, 0.2-0.3, 0.3-0.4, 0.4-0.5, 0.5-0.6.
- ``lama``: LaMa's thin, medium and thick evaluation masks (Suvorov et al. 2022) at the requested size.
- ``box-half``: one square of half the image side at a random place.

Mask ``i`` of bucket ``b`` is drawn from its own seed (``mask_seed(seed, b, i)``, recorded in its metadata), so any
single mask can be regenerated with ``create_mask_generator(meta["kind"], **meta["params"])(meta["seed"], shape)``
and adding masks to a bucket does not change the earlier ones.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import InpaintKitError
from .generators import as_shape, create_mask_generator, mask_ratio

PCONV_BUCKETS: tuple[tuple[float, float], ...] = (
    (0.01, 0.1),
    (0.1, 0.2),
    (0.2, 0.3),
    (0.3, 0.4),
    (0.4, 0.5),
    (0.5, 0.6),
)


def bucket_name(lo: float, hi: float) -> str:
    """``(0.01, 0.1)`` -> ``"0.01-0.1"`` (usable as a folder name)."""
    return f"{lo:g}-{hi:g}"


def mask_seed(seed: int, *keys: int) -> int:
    """A 32-bit seed derived from ``seed`` and ``keys`` (independent streams per bucket and mask index)."""
    return int(np.random.SeedSequence([int(seed), *(int(k) for k in keys)]).generate_state(1)[0])


def _pconv() -> list[tuple[str, str, dict[str, Any]]]:
    return [(bucket_name(lo, hi), "irregular", {"ratio": [lo, hi]}) for lo, hi in PCONV_BUCKETS]


def _lama() -> list[tuple[str, str, dict[str, Any]]]:
    return [(v, f"lama-{v}", {}) for v in ("thin", "medium", "thick")]


def _box_half() -> list[tuple[str, str, dict[str, Any]]]:
    # side 128 at a 256 reference: half the side at any size
    return [("box-half", "square", {"side": 128, "reference": 256})]


#: protocol name -> function giving its buckets as (bucket name, mask kind, options).
PROTOCOLS: dict[str, Callable[[], list[tuple[str, str, dict[str, Any]]]]] = {
    "pconv": _pconv,
    "lama": _lama,
    "box-half": _box_half,
}

PROTOCOL_DESCRIPTIONS = {
    "pconv": "irregular masks in 6 hole-ratio buckets 0.01-0.1 ... 0.5-0.6 (partial-conv evaluation)",
    "lama": "LaMa thin / medium / thick evaluation masks (256 or 512 configuration by size)",
    "box-half": "one square of half the side at a random place",
}


def protocol_buckets(name: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The buckets of protocol ``name``: ``[(bucket, kind, options), ...]``."""
    try:
        return PROTOCOLS[name]()
    except KeyError:
        raise InpaintKitError(f"unknown mask protocol {name!r}; choose from: {', '.join(PROTOCOLS)}") from None


def generate_protocol(
    name: str,
    size: Any = 256,
    per_bucket: int = 100,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> dict[str, list[tuple[np.ndarray, dict[str, Any]]]]:
    """All masks of protocol ``name``: ``{bucket: [(mask bool (H, W), meta), ...]}``.

    ``meta`` has ``kind``, ``params`` (options to rebuild the generator, ``ratio`` included), ``seed`` (of this
    mask), ``ratio`` (its hole ratio), ``bucket``, ``protocol`` and ``index``. ``progress(n)`` is called after
    each mask.
    """
    buckets = protocol_buckets(name)
    shape = as_shape(size)
    if int(per_bucket) < 1:
        raise InpaintKitError(f"per-bucket count must be at least 1, got {per_bucket!r}")
    out: dict[str, list[tuple[np.ndarray, dict[str, Any]]]] = {}
    for b, (bucket, kind, options) in enumerate(buckets):
        gen = create_mask_generator(kind, **options)
        params = gen.params()
        items = []
        for i in range(int(per_bucket)):
            s = mask_seed(seed, b, i)
            m = gen(s, shape)
            items.append(
                (
                    m,
                    {
                        "kind": kind,
                        "params": params,
                        "seed": s,
                        "ratio": round(mask_ratio(m), 6),
                        "bucket": bucket,
                        "protocol": name,
                        "index": i,
                    },
                )
            )
            if progress is not None:
                progress(1)
        out[bucket] = items
    return out
