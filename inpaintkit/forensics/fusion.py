"""The fused detector: noise, duplication and CNN branches, each calibrated, flagged when any one passes.

Each branch gives a raw image score and a map. On validation photos (never trained on) each raw score is turned into
a probability by Platt scaling (a logistic fit on one feature of the raw score), **separately for PNG and JPEG
inputs** — JPEG erases part of the noise evidence, so the same raw score means less there. The false-positive budget
(``fpr_budget``, default 5 %) is split between the branches; each branch's threshold is the calibrated score its own
share of untouched validation crops reaches — in 90 % of bootstrap resamples of the validation photos, so that one
unusually smooth photo does not decide it (``calibrate``). Each branch's margin ``m_b = logit p_b - logit t_b`` is
positive when it passes its own threshold. The image score is the **stacked** score ``sigmoid(sum_b w_b m_b + c -
T)``: a logistic regression on the margins, fitted on the same validation samples per input kind, with ``T`` set
on them for the whole budget as above (``fit_stack``) — branches that agree add up, which "flag when any branch
passes" (``sigmoid(max_b m_b)``, the rule of folders fitted without a stack) cannot do: on the corpus's test split
ROC-AUC 0.975 against 0.962 with the same branches (docs/forensics-history.md). 0.5 is the decision point either way, and
each branch's ``p_b`` is kept for the analyst (``Detection.branches``). The CNN branch's raw score of an image
larger than its tile is its highest tile's logit minus ``alpha * log(tiles)`` (``tile_correction`` per input kind,
chosen on untouched val photos, ``fit_tile_correction``): the thresholds are set on one-tile crops. The heatmap is a per-pixel stack of the
branch maps (``pixel_features``, ``fit_pixel_stack``: a logistic regression per cell of the maps at 64², and of the
image's own edges and texture there, ``image_cells``, fitted on the inpainted validation samples per input kind, its
threshold moved to 0.5); folders fitted before it use the
pixel-wise maximum of the branch maps (the duplication map weighted by its branch's probability), each rescaled so
that its own map threshold, chosen on the validation samples for pixel F1, lands on 0.5 (``rescale_map``,
``fit_map_thresholds``). Each branch's rescaled map is kept for the analyst (``Detection.maps``).

Folder layout (the bundled detector and ``inpaintkit forensics fit-detector`` runs): ``fusion.json`` (calibration,
thresholds, settings), ``noise_lgbm.txt`` and ``noise_lgbm_jpeg.txt`` (the noise branch's trees for PNG and JPEG
inputs) and, for the CNN branch, the CNN detector's own ``model.safetensors`` + ``detector.json``; optionally
``cnn_jpeg/`` (``JPEG_CNN_DIR``), a second CNN detector that the CNN branch runs instead on JPEG inputs — the
noise branch's JPEG trees, for the learned branch (a copy of the CNN fine-tuned on JPEG-compressed samples only:
on the corpus's test split at JPEG q75 the fused ROC-AUC rose from 0.907 to 0.919; docs/forensics-history.md). On a
JPEG input the stack also takes the PNG network's logit (``SECOND_CNN``), not a branch: the second opinion.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InpaintKitError
from .cnn import (
    META_FILE,
    ONNX_FILE,
    WEIGHTS_FILE,
    Detection,
    TiledDetector,
    _check_rgb,
    load_onnx_detector,
    verdict_for,
)
from .duplication import DuplicationBranch, exact_share
from .noise import NoiseBranch, looks_jpeg
from .stacker import Stacker

FUSION_FILE = "fusion.json"
#: the sub-folder of a fused detector holding the CNN detector its CNN branch runs on JPEG inputs (optional)
JPEG_CNN_DIR = "cnn_jpeg"
BRANCHES = ("noise", "duplication", "cnn")
KINDS = ("png", "jpeg")
#: the JPEG stack's extra input: the image logit of the CNN branch's *PNG* network on a JPEG input (on the tile the
#: JPEG network scored highest: one tile's cost whatever the image's size), beside the JPEG network's margin and
#: map (``FusedDetector(second_cnn=True)``; ``fit_detector`` adds it whenever there is a JPEG CNN). The two
#: networks err on different images: on the corpus's test split at JPEG q75 ROC-AUC 0.9668 -> 0.9703 with it, on
#: every val sample out of fold by photo 0.9745 -> 0.9813 (averaged into the JPEG network's logit instead, it gave
#: nothing; docs/forensics-history.md, 2026-12-05: the PNG CNN's second opinion)
SECOND_CNN = "cnn_png"
#: the views (``cnn.TiledDetector.predict``) each CNN is run with: the PNG network on PNG inputs, the JPEG network
#: on JPEG inputs, the PNG network as ``SECOND_CNN`` — there the tile and its mirror image (test q75 0.9685 with
#: one view, 0.9703 with two; val 0.9781 / 0.9813; the JPEG network in two views instead: 0.9694 / 0.9796)
CNN_VIEWS = {"png": 1, "jpeg": 1, SECOND_CNN: 2}
#: the JPEG qualities every validation sample is re-compressed at (``validation_scores``): the JPEG calibration and
#: stack see each sample at all of them (test q75 0.9661 -> 0.9668, val 0.9738 -> 0.9745 against one quality per
#: sample in turn), the heatmap's fits one copy per sample, the qualities in turn
VAL_QUALITIES = (50, 75, 90)
#: how the false-positive budget is shared between the branches' own thresholds (the max rule's decision; under
#: the stacked score they only shift each margin): the CNN branch was the weakest when this was set
DEFAULT_SPLIT = {"noise": 0.6, "duplication": 0.3, "cnn": 0.1}


def _logit(p: np.ndarray | float, eps: float = 1e-6) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), eps, 1 - eps)
    return np.log(p) - np.log1p(-p)


def raw_feature(branch: str, raw: np.ndarray | float) -> np.ndarray:
    """The one number per image each branch's Platt fit sees: logit of the noise quantile, log of the duplicated
    area, the CNN's logit as it is."""
    raw = np.asarray(raw, np.float64)
    if branch == "noise":
        return _logit(raw)
    if branch == "duplication":
        return np.log(raw + 1e-3)
    return raw


def exact_rule(z: float, share: float, tau: float) -> float:
    """The stacked logit ``z`` of an image whose exact-copy share (``duplication.exact_share``) is ``share``: at
    least ``log((share + 0.001) / (tau + 0.001))`` when ``share`` exceeds ``tau``, the largest share of any untouched
    validation crop. Training-free, so it holds for exemplar fills no validation sample showed (the stack gives a
    branch only the weight the validation fills earn it): docs/forensics-history.md, "exact small copies in the duplication
    branch"."""
    return max(z, math.log((share + 1e-3) / (tau + 1e-3))) if share > tau else z


def fit_platt(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(a, b) of P(y = 1 | x) = sigmoid(a x + b), a logistic fit with a weak L2 prior (scikit-learn)."""
    from sklearn.linear_model import LogisticRegression

    x, y = np.asarray(x, np.float64).reshape(-1, 1), np.asarray(y).astype(int)
    if y.min() == y.max():
        raise InpaintKitError("calibration needs both untouched and inpainted validation samples")
    # balanced classes: 0.5 means "as likely inpainted as not", whatever the mix of the validation set
    lr = LogisticRegression(C=10.0, class_weight="balanced").fit(x, y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def platt(ab: tuple[float, float] | list[float], x: np.ndarray | float) -> np.ndarray:
    z = ab[0] * np.asarray(x, np.float64) + ab[1]
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


class FusedDetector:
    """``detect(rgb, jpeg=None) -> Detection`` with ``branches`` = each branch's calibrated probability."""

    def __init__(
        self,
        meta: dict[str, Any],
        *,
        noise: NoiseBranch | None = None,
        duplication: DuplicationBranch | None = None,
        cnn: Any = None,
        cnn_jpeg: Any = None,
        second_cnn: bool = False,
        views: dict[str, int] | None = None,
        name: str = "fused",
    ):
        self.meta = meta
        self.stackers = {kind: stacker_of(st) for kind, st in meta.get("stack", {}).items()}
        self.noise, self.duplication, self.cnn = noise, duplication, cnn
        self.cnn_jpeg = cnn_jpeg  # the CNN branch's network for JPEG inputs (None: ``cnn`` for both kinds)
        # on JPEG inputs, ``cnn``'s logit too (``SECOND_CNN``), for the JPEG stack
        self.second_cnn = bool(second_cnn and cnn is not None and cnn_jpeg is not None)
        self.views = {k: 1 for k in CNN_VIEWS} | (views or {})  # each CNN's views (``CNN_VIEWS``)
        self.pixel_stackers = {kind: stacker_of(ps) for kind, ps in meta.get("pixel_stack", {}).items()}
        self.name = name
        self.threshold = 0.5
        self.folder = Path(meta.get("folder", "."))

    @classmethod
    def load(cls, folder: str | Path, *, name: str = "fused", threads: int = 0) -> "FusedDetector":
        """``threads``: onnxruntime's intra-op threads for the CNN branch (see ``load_cnn``)."""
        folder = Path(folder)
        p = folder / FUSION_FILE
        if not p.is_file():
            raise InpaintKitError(f"{folder}: no {FUSION_FILE}; fit one with `inpaintkit forensics fit-detector`")
        meta = {**json.loads(p.read_text()), "folder": str(folder)}
        use = meta.get("branches", BRANCHES)
        noise = NoiseBranch.load(folder, meta.get("noise_quantile", 0.98)) if "noise" in use else None
        # a folder fitted before the exact-copy test (its weakly textured windows, the dense JPEG test) was
        # calibrated without it
        old = {"exact_win": 0, "flat_win": 0, "jpeg_vote": {}, "jpeg_dense": {}}
        dup = DuplicationBranch(**{**old, **meta.get("duplication", {})}) if "duplication" in use else None
        cnn = load_cnn(folder, threads=threads) if "cnn" in use else None
        jdir = folder / JPEG_CNN_DIR
        cnn_jpeg = LazyCNN(jdir, threads) if cnn is not None and (jdir / WEIGHTS_FILE).is_file() else None
        second = SECOND_CNN in meta.get("stack", {}).get("jpeg", {}).get("extra", [])
        views = meta.get("cnn_views")  # folders fitted before views: one each
        return cls(
            meta, noise=noise, duplication=dup, cnn=cnn, cnn_jpeg=cnn_jpeg, second_cnn=second, views=views, name=name
        )

    @property
    def branches(self) -> list[str]:
        return [b for b, m in (("noise", self.noise), ("duplication", self.duplication), ("cnn", self.cnn)) if m]

    def raw(self, rgb: np.ndarray, jpeg: bool | None = None) -> dict[str, tuple[float, np.ndarray]]:  # noqa: D102
        """Each branch's uncalibrated (score, map); ``jpeg`` picks the noise branch's trees and the CNN branch's
        network (None: ``looks_jpeg``). With ``second_cnn``, a JPEG input's also has ``SECOND_CNN``: the PNG
        network's (logit, map) on the tile the JPEG network scored highest (a 256² image: the image), an input of
        the JPEG stack, not a branch."""
        rgb = _check_rgb(rgb)
        jpeg = looks_jpeg(rgb) if jpeg is None else jpeg
        out = {}
        if self.noise is not None:
            out["noise"] = self.noise.predict(rgb, jpeg=jpeg)
        if self.duplication is not None:
            out["duplication"] = self.duplication.predict(rgb, jpeg=jpeg)
        if self.cnn is not None:
            if jpeg and self.cnn_jpeg is not None:
                logit, heat, (t, l, th, tw) = self.cnn_jpeg.predict_with_box(rgb, self.views["jpeg"])
                out["cnn"] = (logit, heat)
                if self.second_cnn:  # on the tile the JPEG network scored highest: one tile, whatever the size
                    tile = np.ascontiguousarray(rgb[t : t + th, l : l + tw])
                    out[SECOND_CNN] = self.cnn.predict(tile, self.views[SECOND_CNN])
            else:
                out["cnn"] = self.cnn.predict(rgb, self.views["png"])
        return out

    def combine(self, raw: dict[str, tuple[float, np.ndarray]], jpeg: bool, rgb: np.ndarray | None = None) -> Detection:
        """Calibrate each branch's raw output and fuse them (see the module docstring). ``rgb``: the image, which
        the per-pixel stack of folders fitted with image features needs (``image_cells``)."""
        kind = "jpeg" if jpeg else "png"
        raw = self.tile_corrected(raw, kind)
        cal = self.meta["calibration"][kind]
        probs, margin = self._calibrated(raw, kind)
        maps, heat = {}, None
        for b, p in probs.items():
            weighted = rescale_map(weighted_map(b, raw[b][1], p), cal[b].get("map_threshold", 0.5))
            maps[b] = weighted
            heat = weighted if heat is None else np.maximum(heat, weighted)
        pixel = self.meta.get("pixel_stack", {}).get(kind)
        if pixel is not None and all(b in probs for b in pixel["branches"]):
            heat = self._pixel_heat(kind, {b: raw[b][1] for b in pixel["branches"]}, probs, heat.shape, rgb)
        score = self._image_score(raw, kind, margin)
        shown = {b: round(p, 6) for b, p in probs.items()}  # each branch's probability, for the analyst
        return Detection(score, verdict_for(score, self.threshold), heat.astype(np.float32), branches=shown, maps=maps)

    def score(self, raw: dict[str, tuple[float, np.ndarray]], jpeg: bool) -> float:
        """The image score ``combine`` gives ``raw``, without the heatmap."""
        kind = "jpeg" if jpeg else "png"
        raw = self.tile_corrected(raw, kind)
        return self._image_score(raw, kind, self._calibrated(raw, kind)[1])

    def _calibrated(
        self, raw: dict[str, tuple[float, np.ndarray]], kind: str
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Each calibrated branch's probability ``p_b`` and margin ``logit p_b - logit t_b``."""
        cal = self.meta["calibration"][kind]
        probs = {b: float(platt(cal[b]["platt"], raw_feature(b, v))) for b, (v, _) in raw.items() if b in cal}
        if not probs:
            raise InpaintKitError(f"{self.folder}: no calibrated branch among {', '.join(raw) or 'none'}")
        return probs, {b: float(_logit(p) - _logit(cal[b]["threshold"])) for b, p in probs.items()}

    def _image_score(self, raw: dict[str, tuple[float, np.ndarray]], kind: str, margin: dict[str, float]) -> float:
        """The stacked score of the branches' margins and maps (the max rule without a stack), the exact-copy rule
        on top, as a probability (0.5: the decision point)."""
        stack = self.meta.get("stack", {}).get(kind)
        extra = stack.get("extra", []) if stack is not None else []
        if stack is not None and all(b in margin for b in stack["branches"]) and all(e in raw for e in extra):
            x = np.array([[margin[b] for b in stack["branches"]]])
            if stack.get("map_features"):
                use = stack.get("map_branches", stack["branches"])  # folders fitted before it: every branch's maps
                x = np.hstack([x, map_features({b: raw[b][1] for b in use}, use)[None]])
            if extra:
                x = np.hstack([x, [[float(raw[e][0]) for e in extra]]])
            z = float(self.stackers[kind].decision_function(x)[0]) - stack["threshold"]
        else:  # folders fitted without a stack, or a branch missing: flagged when any branch passes
            z = max(margin.values())
        rule = self.meta.get("exact_rule", {}).get(kind)
        if rule is not None and "duplication" in raw:
            z = exact_rule(z, exact_share(raw["duplication"][1]), rule["tau"])
        return 1.0 / (1.0 + math.exp(-min(max(z, -40.0), 40.0)))

    def tile_corrected(
        self, raw: dict[str, tuple[float, np.ndarray]], kind: str
    ) -> dict[str, tuple[float, np.ndarray]]:
        """``raw`` with the CNN branch's logit (and ``SECOND_CNN``'s) lowered by ``alpha * log(tiles)`` (``alpha``:
        the folder's ``tile_correction`` for ``kind``, 0 when it has none). The CNN scores an image larger than its
        tile as the highest logit of its tiles: an untouched photo of 20 tiles has 20 chances to pass a threshold set
        on one tile each — the odds that one of N tiles passes are at most N times one tile's (``alpha`` = 1); the
        validation photos choose ``alpha`` (``fit_tile_correction``)."""
        alpha = float(self.meta.get("tile_correction", {}).get(kind, 0.0))
        if alpha == 0.0 or "cnn" not in raw:
            return raw
        cnn = self.cnn_jpeg if kind == "jpeg" and self.cnn_jpeg is not None else self.cnn
        n = cnn.tile_count(*np.shape(raw["cnn"][1])[:2])
        if n == 1:
            return raw
        # the second opinion is on the tile the JPEG network's maximum picked: discounted as that maximum
        lower = alpha * math.log(n)
        return {**raw, **{k: (float(raw[k][0]) - lower, raw[k][1]) for k in ("cnn", SECOND_CNN) if k in raw}}

    def _pixel_heat(
        self,
        kind: str,
        maps: dict[str, np.ndarray],
        probs: dict[str, float],
        shape: tuple[int, ...],
        rgb: np.ndarray | None,
    ) -> np.ndarray:
        """The heatmap from the per-pixel stack of ``kind`` (``fit_pixel_stack``): its probability at
        ``MAP_SIDE``², the stack's threshold moved to 0.5, resized to the image."""
        import cv2

        pixel = self.meta["pixel_stack"][kind]
        image = None
        if pixel.get("image_features"):
            if rgb is None:
                raise InpaintKitError(f"{self.folder}: this detector's heatmap needs the image (combine(..., rgb=))")
            image = image_cells(rgb)
        side = (MAP_SIDE, MAP_SIDE)
        small = {b: cv2.resize(np.asarray(m, np.float32), side, interpolation=cv2.INTER_AREA) for b, m in maps.items()}
        p = self.pixel_stackers[kind].predict_proba(pixel_features(small, probs, pixel["branches"], image))
        p = rescale_map(p.reshape(side).astype(np.float32), pixel["threshold"])
        return cv2.resize(p, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)

    def detect(self, rgb: np.ndarray, jpeg: bool | None = None) -> Detection:
        rgb = _check_rgb(rgb)
        kind = looks_jpeg(rgb) if jpeg is None else jpeg
        return self.combine(self.raw(rgb, kind), kind, rgb)

    __call__ = detect


def load_cnn(folder: Path, *, name: str = "cnn", threads: int = 0) -> TiledDetector | None:
    """The CNN detector whose ``model.safetensors`` + ``detector.json`` sit in ``folder`` (None when they do not):
    its ``model.onnx`` on onnxruntime (``threads`` intra-op threads, 0: its default) when that file matches the
    weights and onnxruntime is installed — no torch imported — else the network on torch."""
    if not ((folder / WEIGHTS_FILE).is_file() and (folder / META_FILE).is_file()):
        return None
    cmeta = json.loads((folder / META_FILE).read_text())
    det = load_onnx_detector(folder, cmeta, name=name, threads=threads)
    if det is not None:
        return det
    from .detector import Detector, load_detector_net

    net, cmeta = load_detector_net(folder)
    return Detector(net, cmeta.get("threshold", 0.5), name=name, meta=cmeta)


class LazyCNN:
    """The CNN detector in ``folder``, loaded on its first ``predict``: a folder's CNN for JPEG inputs costs a run
    over PNG files nothing (its onnxruntime session: ~0.05 s of start-up and the weights in memory)."""

    def __init__(self, folder: Path, threads: int = 0):
        self.folder, self.threads, self._det = Path(folder), threads, None

    def predict(self, rgb: np.ndarray, views: int = 1) -> tuple[float, np.ndarray]:  # noqa: D102
        return self._loaded().predict(rgb, views)

    def predict_with_box(  # noqa: D102
        self, rgb: np.ndarray, views: int = 1
    ) -> tuple[float, np.ndarray, tuple[int, int, int, int]]:
        return self._loaded().predict_with_box(rgb, views)

    def tile_count(self, h: int, w: int) -> int:  # noqa: D102
        return self._loaded().tile_count(h, w)

    def _loaded(self) -> TiledDetector:
        if self._det is None:
            self._det = load_cnn(self.folder, threads=self.threads)
            if self._det is None:
                raise InpaintKitError(f"{self.folder}: not a CNN detector (needs {WEIGHTS_FILE} and {META_FILE})")
        return self._det


def weighted_map(branch: str, m: np.ndarray, p: np.ndarray | float) -> np.ndarray:
    """A branch's map as the heatmap takes it: the duplication map (which only says "copied") times the branch's
    calibrated probability ``p``; the noise and CNN maps are probabilities already."""
    return m * p if branch == "duplication" else m


def rescale_map(m: np.ndarray, t: float) -> np.ndarray:
    """A branch map with its decision point ``t`` moved to 0.5 (monotone, piecewise linear; 0 and 1 stay), so the
    fused heatmap's 0.5 means "some branch's map passed its own threshold", as the image score's 0.5 does."""
    if t == 0.5:
        return m
    return np.where(m < t, m * (0.5 / t), 0.5 + (m - t) * (0.5 / (1.0 - t))).astype(np.float32)


#: the side the validation maps are shrunk to for choosing the map thresholds, and the thresholds tried
MAP_SIDE = 64
MAP_GRID = tuple(float(t) for t in np.round(np.arange(0.3, 0.951, 0.05), 2))

#: the stacked score's map statistics (``map_features``): quantiles of each branch's map, and the inverse L2
#: strength of its logistic regression on them (chosen by 5-fold cross-validation by photo on the val split:
#: docs/forensics-history.md, "map statistics in the stacked score")
MAP_QUANTILES = (0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
STACK_C = 0.3
#: per input kind, the branches whose map statistics the stacked score takes (``map_features`` over these alone; the
#: margins are every branch's). Chosen on the validation split, out of fold by photo (docs/forensics-history.md,
#: 2026-12-05: the PNG stack on the noise map's statistics): for PNG inputs the noise branch's alone ranked val best
#: (0.9959 against 0.9940 with every branch's; test 0.9965 / 0.9962, `default` 0.9937 / 0.9918) — the CNN's map
#: statistics learn the maps of the fills it was trained on; for JPEG inputs it ranked val as well (0.9739 / 0.9731)
#: but flagged three times the untouched test crops at q90 (6 of 220 against 2), so JPEG keeps every branch's.
STACK_MAP_BRANCHES = {"png": ("noise",), "jpeg": BRANCHES}


def _quantiles(srt: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """``np.quantile(x, qs)`` (linear interpolation) of the sorted ``srt``: one sort serves every statistic."""
    pos = np.asarray(qs) * (len(srt) - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(srt) - 1)
    return (srt[lo] + (srt[hi] - srt[lo]) * (pos - lo)).tolist()


def _map_stats(maps: dict[str, np.ndarray], branches: list[str] | tuple[str, ...]) -> tuple[list[str], list[float]]:
    """(names, values) of ``map_features``: one place for their order."""
    import cv2

    side = (MAP_SIDE, MAP_SIDE)
    small = {b: cv2.resize(np.asarray(maps[b], np.float32), side, interpolation=cv2.INTER_AREA) for b in branches}
    n = MAP_SIDE * MAP_SIDE
    names: list[str] = []
    f: list[float] = []
    for b in branches:
        m = small[b]
        srt = np.sort(m.ravel())
        f += _quantiles(srt, MAP_QUANTILES)
        f.append(float(srt.mean()))
        f += [float(n - k) / n for k in np.searchsorted(srt, (0.3, 0.5, 0.7), side="right")]
        f.append(float(srt[-64:].mean()))
        count, _, stats, _ = cv2.connectedComponentsWithStats((m > 0.5).astype(np.uint8), connectivity=8)
        f.append(float(stats[1:, cv2.CC_STAT_AREA].max()) / n if count > 1 else 0.0)
        names += [f"{b}.q{q:g}" for q in MAP_QUANTILES] + [f"{b}.mean"]
        names += [f"{b}.above{t:g}" for t in (0.3, 0.5, 0.7)] + [f"{b}.top64", f"{b}.largest"]
    if "noise" in small and "cnn" in small:
        a, c = small["noise"].ravel().astype(np.float64), small["cnn"].ravel().astype(np.float64)
        both = np.sort(np.minimum(a, c))
        f += _quantiles(both, (0.9, 0.99, 1.0))
        f.append(float(n - np.searchsorted(both, 0.5, side="right")) / n)
        a, c = a - a.mean(), c - c.mean()
        sa, sc = math.sqrt(float(a @ a) / n), math.sqrt(float(c @ c) / n)
        f.append(float(a @ c) / (n * sa * sc) if min(sa, sc) > 1e-6 else 0.0)  # their correlation
        names += ["noise&cnn.min_q0.9", "noise&cnn.min_q0.99", "noise&cnn.min_q1", "noise&cnn.min_above0.5"]
        names.append("noise&cnn.corr")
    if "noise" in small and "duplication" in small:
        f += _quantiles(np.sort(np.maximum(small["noise"], small["duplication"]).ravel()), (0.95, 0.99))
        names += ["noise|duplication.max_q0.95", "noise|duplication.max_q0.99"]
    return names, f


def map_features(maps: dict[str, np.ndarray], branches: list[str] | tuple[str, ...]) -> np.ndarray:
    """(F,) statistics of the branches' raw maps (values in [0, 1], any size; shrunk to ``MAP_SIDE``²), for the
    stacked score: the image score is one quantile of a map, and these say more about where and how the evidence
    lies — per branch the quantiles ``MAP_QUANTILES``, the mean, the share of cells above 0.3 / 0.5 / 0.7, the mean
    of the top 64 cells and the largest connected area above 0.5; where the noise and CNN branches are both present,
    quantiles (0.9, 0.99, max) and the share above 0.5 of their cell-wise minimum (both branches see the same
    cells) and their correlation; with the noise and duplication branches, quantiles (0.95, 0.99) of their maximum
    (``map_feature_names``: what each is). On the val split (cross-validated by photo) the stack on margins and
    these gave ROC-AUC 0.988 against 0.985 on the margins alone, on the test split 0.984 against 0.978
    (docs/forensics-history.md); the stack now takes the noise branch's alone (``STACK_MAP_BRANCHES``)."""
    return np.asarray(_map_stats(maps, branches)[1], np.float64)


def map_feature_names(branches: list[str] | tuple[str, ...]) -> list[str]:
    """The names of ``map_features(maps, branches)``, in its order (``"noise.q0.9"``, ``"noise&cnn.corr"``, ...)."""
    return _map_stats({b: np.zeros((1, 1), np.float32) for b in branches}, branches)[0]


def mean_f1(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean per-image F1 of N boolean predictions (N, ...) against their truths (an image with neither counts 1):
    what the heatmap's thresholds are chosen for."""
    pred, truth = pred.reshape(len(pred), -1), truth.reshape(len(truth), -1)
    tp, den = (pred & truth).sum(axis=1), pred.sum(axis=1) + truth.sum(axis=1)
    return float(np.mean(np.where(den > 0, 2 * tp / np.maximum(den, 1), 1.0)))


#: the per-pixel stack (``pixel_features``, ``fit_pixel_stack``): the box sizes (cells at ``MAP_SIDE``²) of the local
#: means of each map, the pixels sampled per validation image, the inverse L2 strength and the thresholds tried
PIXEL_BOXES = (3, 9)
PIXEL_SAMPLES = 1024
PIXEL_C = 0.1
PIXEL_GRID = tuple(float(t) for t in np.round(np.arange(0.2, 0.801, 0.05), 2))


def image_cells(rgb: np.ndarray) -> np.ndarray:
    """(``MAP_SIDE``², 14) per-cell features of the image itself, for the per-pixel stack (``pixel_features``):
    what the branch maps cannot say — whether a cell is flat (where a smooth fill looks like the photo and the
    noise map is less sure) or on an edge (where a fill's outline runs). Per cell: mean luma, log local std, log
    mean gradient magnitude and |Laplacian|, Canny edge share, the gradient and |Laplacian| over 9x9 cells and each
    cell against them, the |Laplacian| against the image's median and against its 3x3 and 25x25 cell means,
    saturation, log chroma spread, and the edge share over 5x5 cells. On the corpus's test split
    they raised the heatmap's pixel F1 from 0.775 to 0.779 at 64² (stack fitted on val); the bundled refit with them
    (and a seventh training inpainter) went from 0.774 to 0.782 at full resolution (docs/forensics-history.md)."""
    import cv2

    side = (MAP_SIDE, MAP_SIDE)
    # from the image at 2x the cells' grid (128²), whatever its size: ~2 ms at 256² (3.5-4 from full resolution),
    # 45 ms at 4096x2160 (the resize), and on the val split as good as from full resolution (val pixel F1 at 64²
    # 0.818 against 0.817; test 0.779 against 0.782)
    rgb = cv2.resize(np.asarray(rgb, np.uint8), (2 * MAP_SIDE, 2 * MAP_SIDE), interpolation=cv2.INTER_AREA)

    def shrink(a: np.ndarray) -> np.ndarray:
        return cv2.resize(a, side, interpolation=cv2.INTER_AREA)

    y8 = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    y = y8.astype(np.float32)
    # 3x3 Sobel and the Laplacian on the 8-bit luma, in integers (exact), then float: ~1 ms less than in float
    dx, dy = cv2.spatialGradient(y8)
    g = cv2.magnitude(dx.astype(np.float32), dy.astype(np.float32))
    lap = np.abs(cv2.Laplacian(y8, cv2.CV_16S)).astype(np.float32)
    mu = shrink(y)
    sd = np.sqrt(np.maximum(shrink(y * y) - mu * mu, 0))
    gs, ls = np.log1p(shrink(g)), np.log1p(shrink(lap))
    edges = shrink((cv2.Canny(y8, 50, 150) > 0).astype(np.float32))
    sat = shrink(cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1].astype(np.float32)) / 255
    a = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[..., 1].astype(np.float32)
    chroma = np.sqrt(np.maximum(shrink(a * a) - shrink(a) ** 2, 0))
    g9, l9 = cv2.blur(gs, (9, 9)), cv2.blur(ls, (9, 9))
    cols = (
        mu / 255,
        np.log1p(sd),
        gs,
        ls,
        edges,
        g9,
        l9,
        gs - g9,
        ls - np.median(ls),
        sat,
        np.log1p(chroma),
        ls - cv2.blur(ls, (3, 3)),
        ls - cv2.blur(ls, (25, 25)),
        cv2.blur(edges, (5, 5)),
    )
    return np.stack([c.ravel() for c in cols], axis=1).astype(np.float64)


def pixel_features(
    small: dict[str, np.ndarray], probs: dict[str, float], branches: list[str], image: np.ndarray | None = None
) -> np.ndarray:
    """(``MAP_SIDE``², F) per-cell features of one image for the heatmap's per-pixel stack: per branch its map
    at ``MAP_SIDE``² (as a logit; the duplication map, a covered share, as it is), that map's local means over
    ``PIXEL_BOXES`` cells, and three per-image numbers — the branch's calibrated logit, its map's mean and 90 %
    quantile — which let the stack trust a map more in an image its branch flags; with ``image`` (the image's
    ``image_cells``) those columns after them."""
    import cv2

    cols: list[np.ndarray] = []
    n = MAP_SIDE * MAP_SIDE
    for b in branches:
        m = np.asarray(small[b], np.float32)
        z = m if b == "duplication" else _logit(m, 1e-4).astype(np.float32)
        cols.append(z.ravel())
        cols += [cv2.blur(z, (k, k)).ravel() for k in PIXEL_BOXES]
        flat = np.sort(z.ravel())
        for v in (float(_logit(probs[b])), float(flat.mean()), _quantiles(flat, (0.9,))[0]):
            cols.append(np.full(n, v, np.float32))
    f = np.stack(cols, axis=1).astype(np.float64)
    return f if image is None else np.hstack([f, image])


def fit_pixel_stack(feats: list[np.ndarray], masks: list[np.ndarray], *, seed: int = 0) -> dict[str, Any]:
    """The heatmap's per-pixel stack from validation samples: a logistic regression (``Stacker``) on
    ``pixel_features`` of N inpainted images (``feats``: (``MAP_SIDE``², F) each; ``masks``: their holes at
    ``MAP_SIDE``², bool), fitted on ``PIXEL_SAMPLES`` cells per image, and the probability threshold (from
    ``PIXEL_GRID``) with the best mean per-image F1 on all their cells. On the corpus's test split it raised the
    heatmap's pixel F1 from 0.750 to 0.774 over the maximum of the branch maps (docs/forensics-history.md)."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for f, m in zip(feats, masks):
        pick = rng.choice(len(f), min(PIXEL_SAMPLES, len(f)), replace=False)
        X.append(f[pick])
        y.append(np.asarray(m, bool).ravel()[pick])
    st = Stacker.fit("logistic", np.concatenate(X), np.concatenate(y).astype(int), seed=seed, C=PIXEL_C)
    probs = np.stack([st.predict_proba(f) for f in feats])
    truth = np.stack([np.asarray(m, bool).ravel() for m in masks])
    best = max(PIXEL_GRID, key=lambda t: (mean_f1(probs >= t, truth), -abs(t - 0.5)))
    return {"stacker": st.to_json(), "threshold": best}


def fit_map_thresholds(maps: dict[str, np.ndarray], masks: np.ndarray, passes: int = 3) -> dict[str, float]:
    """Each branch's map threshold (from ``MAP_GRID``) for the best mean per-image F1 of the fused heatmap.

    ``maps``: branch -> (N, S, S) maps of N inpainted validation samples (the duplication map already weighted by
    its probability); ``masks``: (N, S, S) bool holes. The heatmap flags a pixel when any branch's map reaches its
    threshold; coordinate ascent from 0.5 for every branch, ``passes`` rounds."""
    y = masks.astype(bool)
    t = {b: 0.5 for b in maps}
    for _ in range(passes):
        for b in maps:
            rest = np.zeros_like(y)
            for o in maps:
                if o != b:
                    rest |= maps[o] >= t[o]
            t[b] = max(MAP_GRID, key=lambda v: (mean_f1(rest | (maps[b] >= v), y), -abs(v - 0.5)))
    return t


#: ``calibrate`` / ``fit_stack`` with photo groups: the threshold keeps its budget in this share of bootstrap
#: resamples of the validation photos (untouched crops of one photo are alike: a single smooth photo among 22 moves
#: the plain threshold's false-positive rate by several points on other photos; docs/forensics.md, "Calibration and fusion")
CONFIDENCE = 0.95
#: the default false-positive budget on the validation photos. Chosen on val alone, by fitting on half its photos
#: and counting the other half's flagged untouched crops (40 random halves): 3 % at confidence 0.95 flagged 3.4 %
#: of new photos' crops on average (90th percentile 6.1 %), where 5 % at 0.9 flagged 6.4 % — the target is <= 5 %
FPR_BUDGET = 0.03
BOOTSTRAP = 200


def _at_budget(p_real: np.ndarray, budget: float) -> float:
    """The calibrated score of the untouched image that would exceed ``budget`` (-inf: none can be kept out)."""
    p = np.sort(p_real)
    k = int(math.floor(budget * len(p)))
    return float(p[len(p) - k - 1]) if k < len(p) else -math.inf


def _photo_resamples(photos: np.ndarray | None, rng: np.random.Generator) -> list[np.ndarray]:
    """``BOOTSTRAP`` resamples (index arrays) of the samples, drawn by photo; none without photos."""
    if photos is None or len(np.unique(photos)) < 2:
        return []
    uniq = np.unique(photos)
    members = [np.flatnonzero(photos == ph) for ph in uniq]
    return [np.concatenate([members[i] for i in rng.integers(0, len(uniq), len(uniq))]) for _ in range(BOOTSTRAP)]


def _level(s_real: np.ndarray, budget: float, resamples: list[np.ndarray], confidence: float) -> float:
    """The score of untouched samples above which at most ``budget`` of them lie: on these samples, or the
    ``confidence`` quantile of it over the ``resamples`` (so the budget holds on new photos too)."""
    if not resamples:
        return _at_budget(s_real, budget)
    return float(np.quantile([_at_budget(s_real[i], budget) for i in resamples], confidence))


def margins(cal: dict[str, Any], raw: dict[str, np.ndarray]) -> np.ndarray:
    """(N, B) each branch's calibrated margin ``logit p_b - logit t_b`` (> 0: past its own threshold), for the
    branches of ``raw`` in that order."""
    return np.stack(
        [
            _logit(platt(cal[b]["platt"], raw_feature(b, np.asarray(v)))) - _logit(cal[b]["threshold"])
            for b, v in raw.items()
        ],
        axis=-1,
    )


def calibrate(
    raw_scores: dict[str, dict[str, np.ndarray]],
    labels: dict[str, np.ndarray],
    *,
    fpr_budget: float = FPR_BUDGET,
    split: dict[str, float] | None = None,
    groups: dict[str, np.ndarray] | None = None,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> dict[str, Any]:
    """Platt fits and thresholds per input kind ('png', 'jpeg') and branch.

    Args:
        raw_scores: kind -> branch -> raw image scores of the validation samples.
        labels: kind -> 0/1 labels of the same samples.
        fpr_budget: the share of untouched images the fused detector may flag, split between the branches.
        split: branch -> share of the budget (default ``DEFAULT_SPLIT``).
        groups: kind -> the photo of each sample. With them each threshold is the ``confidence`` quantile, over
            ``BOOTSTRAP`` resamples of the photos, of the threshold that meets the branch's budget on the resample
            (the budget then holds on new photos, not only on these); without them, the threshold on these samples.
    """
    share = split or DEFAULT_SPLIT
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for kind, by_branch in raw_scores.items():
        y = np.asarray(labels[kind])
        g = None if groups is None else np.asarray(groups[kind])[y == 0]
        photos = None if g is None else np.unique(g)
        resamples = _photo_resamples(g, rng)
        present = [b for b in by_branch if b in share]
        total = sum(share[b] for b in present)
        out[kind] = {}
        for b in present:
            x = raw_feature(b, by_branch[b])
            ab = fit_platt(x, y)
            p_real = platt(ab, x[y == 0])
            budget = fpr_budget * share[b] / total
            at = _level(p_real, budget, resamples, confidence)
            # just above that score, so at most `budget` of them are flagged; the margin (1e-3 in logit) keeps that
            # image's fused score below 0.5
            thr = float(platt((1.0, float(_logit(at)) + 1e-3), 0.0)) if math.isfinite(at) else 0.0
            out[kind][b] = {
                "platt": [ab[0], ab[1]],
                "threshold": min(max(thr, 1e-6), 1 - 1e-6),
                "budget": budget,
                "n_real": int((y == 0).sum()),
                "n_inpainted": int((y == 1).sum()),
                "n_photos": 0 if photos is None else int(len(photos)),
            }
    return out


def stacker_of(stack: dict[str, Any]) -> Stacker:
    """The logistic stacker of a ``fit_stack`` entry."""
    return Stacker.from_json(stack["stacker"])


def fit_stack(
    raw_scores: dict[str, dict[str, np.ndarray]],
    labels: dict[str, np.ndarray],
    calibration: dict[str, Any],
    *,
    fpr_budget: float = FPR_BUDGET,
    groups: dict[str, np.ndarray] | None = None,
    confidence: float = CONFIDENCE,
    features: dict[str, np.ndarray] | None = None,
    map_branches: dict[str, tuple[str, ...]] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Per input kind, the stacked score: a logistic regression (``stacker.Stacker``, the stacking ensemble's) on
    the branches' calibrated margins (``margins``) and, with ``features`` (kind -> (N, F) ``map_features`` of the
    same samples over every branch of ``raw_scores``, in its order), the map statistics of the branches
    ``map_branches`` gives the kind (default ``STACK_MAP_BRANCHES``; recorded as the entry's ``map_branches``), and
    the raw ``SECOND_CNN`` logits where ``raw_scores`` has them (recorded as ``extra``); and its threshold — the
    stacked score that at most ``fpr_budget`` of the untouched validation samples pass, in ``confidence`` of
    bootstrap resamples of their photos (as ``calibrate``), on out-of-fold scores when there are photo ``groups``
    (``_out_of_fold``).

    Branches that agree add up here, where "any branch passes" only takes the strongest: on the corpus's test split
    the stack gave ROC-AUC 0.975 against 0.962 (docs/forensics-history.md). Kinds with fewer than two calibrated branches
    get none (the max rule)."""
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for kind, by_branch in raw_scores.items():
        cal = calibration.get(kind, {})
        branches = [b for b in BRANCHES if b in by_branch and b in cal]
        y = np.asarray(labels[kind]).astype(int)
        if len(branches) < 2 or y.min() == y.max():
            continue
        z = margins(cal, {b: by_branch[b] for b in branches})
        use = [b for b in branches if b in (map_branches or STACK_MAP_BRANCHES).get(kind, BRANCHES)]
        with_maps = features is not None and kind in features and bool(use)
        if with_maps:  # the columns of ``map_features(maps, use)`` among the rows' (over every branch of raw_scores)
            names = map_feature_names([b for b in by_branch if b in BRANCHES])
            cols = [names.index(n) for n in map_feature_names(use)]
            z = np.hstack([z, np.asarray(features[kind], np.float64)[:, cols]])
        extra = [SECOND_CNN] if SECOND_CNN in by_branch else []
        if extra:
            z = np.hstack([z, np.column_stack([np.asarray(by_branch[e], np.float64) for e in extra])])
        c = STACK_C if with_maps else 1.0
        st = Stacker.fit("logistic", z, y, seed=seed, C=c)
        photos = None if groups is None else np.asarray(groups[kind])
        s = _out_of_fold(z, y, photos, c, seed)
        g = None if photos is None else photos[y == 0]
        at = _level(s[y == 0], fpr_budget, _photo_resamples(g, rng), confidence)
        out[kind] = {
            "branches": branches,
            "map_features": with_maps,
            "map_branches": use if with_maps else [],
            "extra": extra,
            "stacker": st.to_json(),
            # just above that score, as in calibrate, so the image at it is not flagged
            "threshold": float(at) + 1e-3 if math.isfinite(at) else float(s.min()) - 1.0,
        }
    return out


#: folds (by photo) of the out-of-fold stacked scores the stack's threshold is set on
STACK_FOLDS = 5


def _out_of_fold(z: np.ndarray, y: np.ndarray, photos: np.ndarray | None, c: float, seed: int) -> np.ndarray:
    """Each sample's stacked score from a stack fitted without its photo (``STACK_FOLDS`` folds by photo); with
    fewer photos than folds or no photos, the stack fitted on all. A threshold on in-sample scores is too low for
    new photos — the more features the stack has, the more (with the map statistics the JPEG threshold set in
    sample flagged 15 % of the test split's untouched JPEG crops; docs/forensics-history.md)."""
    if photos is None or len(np.unique(photos)) < STACK_FOLDS:
        return Stacker.fit("logistic", z, y, seed=seed, C=c).decision_function(z)
    from sklearn.model_selection import GroupKFold

    s = np.zeros(len(y))
    for tr, te in GroupKFold(STACK_FOLDS).split(z, y, photos):
        if y[tr].min() == y[tr].max():
            return Stacker.fit("logistic", z, y, seed=seed, C=c).decision_function(z)
        s[te] = Stacker.fit("logistic", z[tr], y[tr], seed=seed, C=c).decision_function(z[te])
    return s


def calibrate_fusion(
    raw: dict[str, dict[str, Any]],
    labels: dict[str, Any],
    groups: dict[str, Any] | None,
    *,
    fpr_budget: float,
    split: dict[str, float] | None = None,
    features: dict[str, Any] | None = None,
    seed: int = 0,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``calibrate`` then ``fit_stack`` on validation scores (lists or arrays): (calibration, stack). ``features``:
    kind -> each sample's ``map_features`` (none: the stack sees the margins only)."""
    raw = {k: {b: np.asarray(v) for b, v in d.items()} for k, d in raw.items()}
    labels = {k: np.asarray(v) for k, v in labels.items()}
    groups = None if groups is None else {k: np.asarray(v) for k, v in groups.items()}
    feats = None if features is None else {k: np.asarray(v, np.float64) for k, v in features.items()}
    cal = calibrate(raw, labels, fpr_budget=fpr_budget, split=split, groups=groups, seed=seed)
    return cal, fit_stack(raw, labels, cal, fpr_budget=fpr_budget, groups=groups, features=feats, seed=seed)


# -- fitting ---------------------------------------------------------------------------------------------------------

#: the validation samples' raw branch scores, kept so a folder can be re-calibrated without scoring again
SCORES_FILE = "calibration_scores.json"


def validation_scores(
    det: FusedDetector, recs: list[dict[str, Any]], progress: bool = True
) -> tuple[
    dict[str, dict[str, list[float]]],
    dict[str, list[int]],
    dict[str, dict[str, list[np.ndarray]]],
    dict[str, list[list[float]]],
    dict[str, list[float]],
    dict[str, list[int]],
]:
    """Rows of ``recs`` as stored ('png') and re-compressed as JPEG at each of ``VAL_QUALITIES`` ('jpeg': one row
    per sample and quality): raw branch scores (kind -> branch, and ``SECOND_CNN`` with ``det.second_cnn``), labels,
    the raw maps of the inpainted ones shrunk to ``MAP_SIDE``² (kind -> branch -> maps, kind -> "mask" -> the holes,
    kind -> "image" -> their ``image_cells``, kind -> "row" -> their rows; JPEG: of one copy per sample, the
    qualities in turn), every row's ``map_features`` over all branches, its exact-copy share (kind -> shares; empty
    without the duplication branch) and the index in ``recs`` of each row's sample (kind -> indices)."""
    import sys

    import cv2
    from tqdm import tqdm

    from .train import jpeg, load_sample

    raw: dict[str, dict[str, list[float]]] = {k: {b: [] for b in det.branches} for k in KINDS}
    if det.second_cnn:
        raw["jpeg"][SECOND_CNN] = []
    labels: dict[str, list[int]] = {k: [] for k in KINDS}
    rows: dict[str, list[int]] = {k: [] for k in KINDS}
    maps: dict[str, dict[str, list[Any]]] = {k: {b: [] for b in [*det.branches, "mask", "image", "row"]} for k in KINDS}
    features: dict[str, list[list[float]]] = {k: [] for k in KINDS}
    exact: dict[str, list[float]] = {k: [] for k in KINDS}
    side = (MAP_SIDE, MAP_SIDE)
    for i, r in enumerate(tqdm(recs, desc="calibrate", disable=not progress, file=sys.stderr, leave=False)):
        rgb, mask = load_sample(r)
        mapped = VAL_QUALITIES[i % len(VAL_QUALITIES)]  # the JPEG copy whose maps the heatmap's fits see
        for kind, q in [("png", None)] + [("jpeg", q) for q in VAL_QUALITIES]:
            img = rgb if q is None else jpeg(rgb, q)
            out = det.raw(img, kind == "jpeg")
            keep_maps = bool(r["label"]) and q in (None, mapped)
            for b, (score, m) in out.items():
                raw[kind][b].append(float(score))
                if keep_maps and b in det.branches:
                    maps[kind][b].append(cv2.resize(m.astype(np.float32), side, interpolation=cv2.INTER_AREA))
            branches = [b for b in out if b in det.branches]
            features[kind].append(map_features({b: out[b][1] for b in branches}, branches).tolist())
            if "duplication" in out:
                exact[kind].append(exact_share(out["duplication"][1]))
            if keep_maps:
                small = cv2.resize(mask.astype(np.float32), side, interpolation=cv2.INTER_AREA) > 0.5
                maps[kind]["mask"].append(small)
                maps[kind]["image"].append(image_cells(img))
                maps[kind]["row"].append(len(labels[kind]))
            labels[kind].append(int(r["label"]))
            rows[kind].append(i)
    return raw, labels, maps, features, exact, rows


#: the tile corrections tried (``fit_tile_correction``; above 1.0 since the JPEG stack takes two networks' highest
#: tiles: 1.5 chosen for it, 2026-12-05), the crop sizes (h, w) of the untouched photos it is fitted
#: on (each photo also whole; a size the photo cannot hold is tried transposed, then skipped), how many crops per
#: photo, and the JPEG qualities its JPEG inputs are re-compressed at
TILE_ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
TILE_SIZES = ((384, 384), (512, 512), (512, 768), (768, 1024))
TILE_CROPS = 6
TILE_QUALITIES = (90, 75)


def large_crops(photos: str | Path, seed: int = 26) -> list[tuple[str, str, np.ndarray]]:
    """(photo, size, RGB) of the photos of a folder, each whole (size ``"whole"``) and as ``TILE_CROPS`` seeded crops
    of the ``TILE_SIZES`` (size ``"HxW"``): images larger than the CNN's tile, which the 256² validation crops do not
    show the detector. ``photo`` is the file's stem."""
    from ..io import list_images, read_image

    rng = np.random.default_rng(seed)
    out = []
    for p in list_images(photos):
        im = read_image(p).rgb
        out.append((p.stem, "whole", im))
        for i in range(TILE_CROPS):
            h, w = TILE_SIZES[i % len(TILE_SIZES)]
            if im.shape[0] < h or im.shape[1] < w:
                h, w = w, h
                if im.shape[0] < h or im.shape[1] < w:
                    continue
            y0, x0 = int(rng.integers(0, im.shape[0] - h + 1)), int(rng.integers(0, im.shape[1] - w + 1))
            out.append((p.stem, f"{h}x{w}", np.ascontiguousarray(im[y0 : y0 + h, x0 : x0 + w])))
    if not out:
        raise InpaintKitError(f"{photos}: no images to fit the tile correction on")
    return out


def fit_tile_correction(
    det: "FusedDetector",
    photos: str | Path,
    *,
    fpr_budget: float = FPR_BUDGET,
    progress: bool = True,
) -> dict[str, Any]:
    """Per input kind, the smallest ``alpha`` of ``TILE_ALPHAS`` (``FusedDetector.tile_corrected``) with which at
    most ``fpr_budget`` of the untouched ``large_crops`` of ``photos`` are flagged — PNG inputs as stored, JPEG
    inputs at each of ``TILE_QUALITIES`` — in ``CONFIDENCE`` of ``BOOTSTRAP`` resamples of the photos (as the
    thresholds: a few flagged crops of one photo are a warning, not a share to spend), or the one that flags fewest.
    ``photos``: untouched photos nobody trained on (the corpus's val split). Returns ``{"alpha": {kind: alpha},
    "flagged": {kind: {alpha: share}}, "flagged_at_confidence": ...}`` (the shares at the worst JPEG quality);
    ``det.meta["tile_correction"]`` is left as it was."""
    import sys

    from tqdm import tqdm

    from .train import jpeg as to_jpeg

    crops = large_crops(photos)
    conditions = [("png", None)] + [("jpeg", q) for q in TILE_QUALITIES]
    # per condition and alpha, whether each image is flagged: each image's raw outputs (full-size maps) are scored
    # at every alpha at once and dropped, so the fit holds no maps (the corpus's 127 val images: peak RSS 2.4 GB
    # when it kept them all, 1.1 GB now)
    hits: dict[tuple[str, int | None], dict[float, list[bool]]] = {c: {a: [] for a in TILE_ALPHAS} for c in conditions}
    before = det.meta.get("tile_correction")
    try:
        for _, _, rgb in tqdm(crops, desc="tile correction", disable=not progress, file=sys.stderr, leave=False):
            for kind, q in conditions:
                raw = det.raw(rgb if q is None else to_jpeg(rgb, q), jpeg=kind == "jpeg")
                for a in TILE_ALPHAS:
                    det.meta["tile_correction"] = {kind: a}
                    hits[(kind, q)][a].append(det.score(raw, kind == "jpeg") >= det.threshold)
    finally:
        if before is None:
            det.meta.pop("tile_correction", None)
        else:
            det.meta["tile_correction"] = before
    resamples = _photo_resamples(np.array([photo for photo, _, _ in crops]), np.random.default_rng(0))
    alpha: dict[str, float] = {}
    flagged: dict[str, dict[str, float]] = {}
    at_confidence: dict[str, dict[str, float]] = {}

    def share(hit: np.ndarray) -> float:  # the flagged share in CONFIDENCE of the resamples (all crops: none)
        if not resamples:
            return float(hit.mean())
        return float(np.quantile([hit[i].mean() for i in resamples], CONFIDENCE))

    for kind in KINDS:
        # the share at the worst of the kind's conditions
        cs = [c for c in conditions if c[0] == kind]
        flagged[kind] = {str(a): max(float(np.mean(hits[c][a])) for c in cs) for a in TILE_ALPHAS}
        at_confidence[kind] = {str(a): max(share(np.asarray(hits[c][a])) for c in cs) for a in TILE_ALPHAS}
        ok = [a for a in TILE_ALPHAS if at_confidence[kind][str(a)] <= fpr_budget]
        alpha[kind] = ok[0] if ok else min(TILE_ALPHAS, key=lambda a: (at_confidence[kind][str(a)], a))
    return {"alpha": alpha, "flagged": flagged, "flagged_at_confidence": at_confidence, "n_images": len(crops)}


def set_tile_correction(folder: str | Path, photos: str | Path, *, progress: bool = True) -> dict[str, Any]:
    """``fit_tile_correction`` for the fused detector in ``folder`` (its own false-positive budget), written into
    its ``fusion.json`` (``tile_correction``, and the shares measured as ``tile_correction_fit``)."""
    folder = Path(folder)
    det = FusedDetector.load(folder, threads=1)
    fit = fit_tile_correction(det, photos, fpr_budget=det.meta.get("fpr_budget", FPR_BUDGET), progress=progress)
    meta = json.loads((folder / FUSION_FILE).read_text())
    meta["tile_correction"] = fit["alpha"]
    meta["tile_correction_fit"] = {
        "flagged": fit["flagged"],
        "flagged_at_confidence": fit["flagged_at_confidence"],
        "n_images": fit["n_images"],
        "photos": str(photos),
    }
    (folder / FUSION_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return fit


def recalibrate(
    folder: str | Path, *, fpr_budget: float | None = None, split: dict[str, float] | None = None
) -> dict[str, Any]:
    """Redo the Platt fits and thresholds of a fitted folder from its saved validation scores (new budget or
    split of it between the branches); rewrites ``fusion.json``. Its ``tile_correction`` is kept as it was: refit it
    for the new thresholds with ``set_tile_correction``."""
    folder = Path(folder)
    meta = json.loads((folder / FUSION_FILE).read_text())
    saved = json.loads((folder / SCORES_FILE).read_text())
    budget = meta["fpr_budget"] if fpr_budget is None else fpr_budget
    old = meta["calibration"]
    groups = saved.get("groups")  # the photos of the samples (folders fitted before they were saved: none)
    meta["calibration"], meta["stack"] = calibrate_fusion(
        saved["raw"],
        saved["labels"],
        groups,
        fpr_budget=budget,
        split=split,
        features=saved.get("map_features"),  # folders fitted before they were saved: a stack on the margins only
        seed=meta.get("seed", 0),
    )
    for kind, by_branch in meta["calibration"].items():  # the map thresholds need the maps: kept as they were
        for b, c in by_branch.items():
            if "map_threshold" in old.get(kind, {}).get(b, {}):
                c["map_threshold"] = old[kind][b]["map_threshold"]
    meta["fpr_budget"] = budget
    meta["budget_split"] = split or DEFAULT_SPLIT
    meta["threshold_confidence"] = CONFIDENCE if groups is not None else None
    (folder / FUSION_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def fit_detector(
    index: str | Path,
    out: str | Path,
    *,
    cnn: str | Path | None = None,
    cnn_jpeg: str | Path | None = None,
    exclude: list[str] = (),
    train_split: str = "train",
    val_split: str = "val",
    fpr_budget: float = FPR_BUDGET,
    seed: int = 0,
    val_limit: int | None = None,
    threads: int = 1,
    photos: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train the noise branch on ``train_split``, calibrate every branch on ``val_split`` (PNG as stored, JPEG
    re-compressed at each of ``VAL_QUALITIES``), copy the CNN detector ``cnn`` in (and ``cnn_jpeg``, the one the CNN
    branch runs on JPEG inputs, into ``out/cnn_jpeg``; then the JPEG stack also takes ``cnn``'s logit,
    ``SECOND_CNN``), write ``out``; returns the meta. ``photos``: a folder of untouched
    photos (the val split's, whole) to fit the CNN branch's ``tile_correction`` on (``set_tile_correction``);
    without it the folder has none (an image larger than a tile is scored as its highest tile).

    ``exclude`` drops those inpainters' samples from training *and* calibration (leave-one-inpainter-out runs).
    The noise branch gets two sets of trees: one on the training samples as stored (a fifth of them resized), one on
    the same samples JPEG-compressed at a random quality in 50-95; ``threads``: LightGBM's threads while fitting.
    """
    import shutil
    import sys

    from tqdm import tqdm

    from ..data.dataset import read_index
    from .noise import fit_noise_branch
    from .train import jpeg, load_sample, rescale, select, spread

    out = Path(out)
    if cnn_jpeg is not None and cnn is None:
        raise InpaintKitError("a CNN for JPEG inputs (--cnn-jpeg) needs the CNN branch's own CNN too (--cnn)")
    recs = read_index(index)
    excl = set(exclude)
    train, val = select(recs, train_split, exclude), select(recs, val_split, exclude)
    if not train or not val:
        raise InpaintKitError(f"{index}: needs samples in both the {train_split!r} and {val_split!r} splits")
    if val_limit is not None:
        val = spread(val, val_limit)
    rng = np.random.default_rng(seed)
    samples, jpeg_samples = [], []
    for r in tqdm(train, desc="noise features", disable=not progress, file=sys.stderr, leave=False):
        rgb, mask = load_sample(r)
        if rng.random() < 0.2:  # the resize condition the evaluation applies, seen in training too
            rgb, mask = rescale(rgb, mask, float(rng.uniform(0.5, 1.0)))
        samples.append((rgb, mask if r["label"] else None))
        jpeg_samples.append((jpeg(rgb, int(rng.integers(50, 96))), mask if r["label"] else None))
    noise = fit_noise_branch(samples, jpeg_samples, seed=seed, threads=threads)
    out.mkdir(parents=True, exist_ok=True)
    noise.save(out)

    def copy_cnn(src: str | Path, dest: Path) -> Any:
        src = Path(src)
        dest.mkdir(parents=True, exist_ok=True)
        for f in (WEIGHTS_FILE, META_FILE, "config.yaml", ONNX_FILE):
            if (src / f).is_file() and (src / f).resolve() != (dest / f).resolve():
                shutil.copyfile(src / f, dest / f)
        det = load_cnn(dest)
        if det is None:
            raise InpaintKitError(f"{src}: not a CNN detector run folder (needs {WEIGHTS_FILE} and {META_FILE})")
        return det

    cnn_det = None if cnn is None else copy_cnn(cnn, out)
    old = out / JPEG_CNN_DIR
    if old.is_dir() and (cnn_jpeg is None or Path(cnn_jpeg).resolve() != old.resolve()):
        shutil.rmtree(old)  # a refit into an old folder keeps only this fit's CNNs
    jpeg_det = None if cnn_jpeg is None else copy_cnn(cnn_jpeg, out / JPEG_CNN_DIR)
    det = FusedDetector(
        {},
        noise=noise,
        duplication=DuplicationBranch(),
        cnn=cnn_det,
        cnn_jpeg=jpeg_det,
        second_cnn=True,
        views=CNN_VIEWS,
    )
    raw, labels, val_maps, feats, exact, rows = validation_scores(det, val, progress=progress)
    photo_of = [r.get("source_id") or r["path"] for r in val]  # each validation sample's photo
    groups = {k: [photo_of[i] for i in rows[k]] for k in raw}
    saved = {"raw": raw, "labels": labels, "groups": groups, "map_features": feats, "exact": exact}
    # the exact-copy rule's tau per input kind: the largest share of any untouched validation crop
    rule = {k: {"tau": max((e for e, y in zip(exact[k], labels[k]) if not y), default=0.0)} for k in exact if exact[k]}
    (out / SCORES_FILE).write_text(json.dumps(saved) + "\n")
    cal, stack = calibrate_fusion(raw, labels, groups, fpr_budget=fpr_budget, features=feats, seed=seed)
    pixel_stack: dict[str, Any] = {}
    for kind, by_branch in cal.items():  # each branch map's threshold, and the per-pixel stack, for the heatmap
        m = val_maps[kind]
        if not m["mask"]:
            continue
        inpainted = np.zeros(len(labels[kind]), bool)  # the rows whose maps were kept (inpainted, one JPEG copy)
        inpainted[m["row"]] = True
        stacked = {}
        for b, c in by_branch.items():
            p = platt(c["platt"], raw_feature(b, np.asarray(raw[kind][b])[inpainted]))
            stacked[b] = weighted_map(b, np.stack(m[b]), p[:, None, None])
        for b, t in fit_map_thresholds(stacked, np.stack(m["mask"])).items():
            by_branch[b]["map_threshold"] = t
        branches = list(by_branch)
        probs = {b: platt(by_branch[b]["platt"], raw_feature(b, np.asarray(raw[kind][b])[inpainted])) for b in branches}
        cells = [
            pixel_features(
                {b: m[b][i] for b in branches}, {b: float(probs[b][i]) for b in branches}, branches, m["image"][i]
            )
            for i in range(len(m["mask"]))
        ]
        pixel_stack[kind] = {
            "branches": branches,
            "image_features": True,
            **fit_pixel_stack(cells, m["mask"], seed=seed),
        }
    meta = {
        "branches": det.branches,
        "noise_quantile": noise.quantile,
        "duplication": {
            "exact_win": det.duplication.exact_win if det.duplication else 0,
            "flat_win": det.duplication.flat_win if det.duplication else 0,
            "jpeg_vote": det.duplication.jpeg_vote if det.duplication else {},
            "jpeg_dense": det.duplication.jpeg_dense if det.duplication else {},
        },
        "exact_rule": rule,
        "cnn_jpeg": jpeg_det is not None,
        "cnn_views": det.views,
        "val_jpeg_qualities": list(VAL_QUALITIES),
        "calibration": cal,
        "stack": stack,
        "pixel_stack": pixel_stack,
        "fpr_budget": fpr_budget,
        "budget_split": DEFAULT_SPLIT,
        "threshold_confidence": CONFIDENCE,
        "exclude_inpainters": sorted(excl),
        "trained_on": sorted({r["inpainter"] for r in train if r.get("inpainter")}),
        "calibrated_on": sorted({r["inpainter"] for r in val if r.get("inpainter")}),
        "n_train": len(train),
        "n_val": len(val),
        "seed": seed,
    }
    (out / FUSION_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    if photos is not None and cnn_det is not None:
        set_tile_correction(out, photos, progress=progress)
        meta = json.loads((out / FUSION_FILE).read_text())
    return meta
