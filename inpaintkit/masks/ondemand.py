"""On-demand learning's batch schedule (Gao & Grauman, "On-demand learning for deep image restoration", ICCV 2017).

Training masks come in ``n_bands`` difficulty bands (``ondemand`` mask kind: square holes of growing size). After
each validation the trainer reports a PSNR per band; the next batches give band i the share

    B_i = floor(B * (1 / PSNR_i) / sum_j (1 / PSNR_j)),

so bands the model is bad at (low PSNR) get more samples; the remainder goes to the hardest band (lowest PSNR).
PSNR per band is a running value (exponential moving average), so one noisy batch does not swing the shares.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import InpaintKitError
from .generators import ONDEMAND_BANDS, OnDemandMask, as_rng, as_shape


class OnDemandSchedule:
    """Running PSNR per difficulty band -> per-band sample counts for each batch.

    Args:
        n_bands: number of difficulty bands (5 in the paper; the ``ondemand`` mask kind has 5).
        momentum: EMA weight of the old value (0 = keep only the latest PSNR).
        initial_psnr: PSNR assumed for a band not measured yet (equal for all bands: equal shares at start).
        max_psnr: cap for PSNR (a perfect reconstruction is +inf dB).
    """

    def __init__(
        self,
        n_bands: int = len(ONDEMAND_BANDS),
        momentum: float = 0.9,
        initial_psnr: float = 20.0,
        max_psnr: float = 100.0,
    ):
        if int(n_bands) < 1:
            raise InpaintKitError(f"on-demand schedule: n_bands must be >= 1, got {n_bands!r}")
        if not 0.0 <= float(momentum) < 1.0:
            raise InpaintKitError(f"on-demand schedule: momentum must be in [0, 1), got {momentum!r}")
        if not 0.0 < float(initial_psnr) <= float(max_psnr):
            raise InpaintKitError("on-demand schedule: need 0 < initial_psnr <= max_psnr")
        self.n_bands = int(n_bands)
        self.momentum = float(momentum)
        self.initial_psnr = float(initial_psnr)
        self.max_psnr = float(max_psnr)
        self.psnr: list[float | None] = [None] * self.n_bands
        self.counts: list[int] = [0] * self.n_bands
        self.last_shares: list[int] | None = None

    def _check_band(self, band: int) -> int:
        if not isinstance(band, (int, np.integer)) or not 0 <= int(band) < self.n_bands:
            raise InpaintKitError(f"on-demand schedule: band must be 0-{self.n_bands - 1}, got {band!r}")
        return int(band)

    def update(self, band: int, psnr: float) -> float:
        """Fold one PSNR measurement (dB) of ``band`` into its running value; returns the new value."""
        band = self._check_band(band)
        psnr = float(psnr)
        if math.isnan(psnr):
            raise InpaintKitError(f"on-demand schedule: PSNR for band {band} is NaN")
        psnr = min(max(psnr, 1e-3), self.max_psnr)  # +inf (perfect) -> cap; PSNR <= 0 dB -> tiny positive
        old = self.psnr[band]
        self.psnr[band] = psnr if old is None else self.momentum * old + (1.0 - self.momentum) * psnr
        self.counts[band] += 1
        return self.psnr[band]

    def current_psnr(self) -> list[float]:
        """Running PSNR per band (``initial_psnr`` where nothing was measured yet)."""
        return [self.initial_psnr if p is None else p for p in self.psnr]

    def hardest(self) -> int:
        """The band with the lowest running PSNR (ties: the larger holes, i.e. the higher band)."""
        psnr = self.current_psnr()
        low = min(psnr)
        return max(i for i, p in enumerate(psnr) if p == low)

    def shares(self, batch_size: int) -> list[int]:
        """Samples per band for a batch of ``batch_size``; sums to ``batch_size``."""
        if int(batch_size) < 0:
            raise InpaintKitError(f"on-demand schedule: batch size must be >= 0, got {batch_size!r}")
        b = int(batch_size)
        inv = np.array([1.0 / p for p in self.current_psnr()])
        out = np.floor(b * inv / inv.sum()).astype(int)
        out[self.hardest()] += b - int(out.sum())
        self.last_shares = out.tolist()
        return self.last_shares

    def bands_for_batch(self, batch_size: int, rng: Any) -> list[int]:
        """Band index per sample of a batch (shares as above, order shuffled with ``rng``)."""
        bands = np.repeat(np.arange(self.n_bands), self.shares(batch_size))
        as_rng(rng).shuffle(bands)
        return bands.tolist()

    def masks(self, batch_size: int, rng: Any, shape: Any) -> tuple[np.ndarray, list[int]]:
        """A batch of ``ondemand`` masks, bool (B, H, W), drawn with the current shares, plus their bands."""
        if self.n_bands != len(ONDEMAND_BANDS):
            raise InpaintKitError(
                f"on-demand schedule: masks() needs {len(ONDEMAND_BANDS)} bands, this schedule has {self.n_bands}"
            )
        rng, shape = as_rng(rng), as_shape(shape)
        bands = self.bands_for_batch(batch_size, rng)
        gens = [OnDemandMask(band=i) for i in range(self.n_bands)]
        out = np.zeros((len(bands), *shape), bool)
        for k, band in enumerate(bands):
            out[k] = gens[band](rng, shape)
        return out, bands

    def log(self) -> dict[str, float]:
        """Scalars for the training log: running PSNR and the last shares per band."""
        out: dict[str, float] = {}
        for i, p in enumerate(self.current_psnr()):
            out[f"ondemand/psnr_band{i}"] = float(p)
        if self.last_shares is not None:
            total = max(1, sum(self.last_shares))
            for i, s in enumerate(self.last_shares):
                out[f"ondemand/share_band{i}"] = float(s)
                out[f"ondemand/fraction_band{i}"] = s / total
        return out

    def state_dict(self) -> dict[str, Any]:
        """Plain Python values only (loads with ``torch.load(..., weights_only=True)``)."""
        return {
            "n_bands": self.n_bands,
            "momentum": self.momentum,
            "initial_psnr": self.initial_psnr,
            "max_psnr": self.max_psnr,
            "psnr": list(self.psnr),
            "counts": list(self.counts),
            "last_shares": None if self.last_shares is None else list(self.last_shares),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        try:
            n = int(state["n_bands"])
            psnr = [None if p is None else float(p) for p in state["psnr"]]
            counts = [int(c) for c in state["counts"]]
        except (KeyError, TypeError, ValueError) as e:
            raise InpaintKitError(f"on-demand schedule: bad saved state ({e}); was it saved by state_dict()?") from None
        if n != self.n_bands or len(psnr) != n or len(counts) != n:
            raise InpaintKitError(f"on-demand schedule: saved state has {n} bands, this schedule has {self.n_bands}")
        self.momentum = float(state.get("momentum", self.momentum))
        self.initial_psnr = float(state.get("initial_psnr", self.initial_psnr))
        self.max_psnr = float(state.get("max_psnr", self.max_psnr))
        self.psnr, self.counts = psnr, counts
        last = state.get("last_shares")
        self.last_shares = None if last is None else [int(s) for s in last]

    def __repr__(self) -> str:
        return f"OnDemandSchedule(psnr={[round(p, 2) for p in self.current_psnr()]})"
