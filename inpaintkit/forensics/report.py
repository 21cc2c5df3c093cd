"""The evaluation report: ``report.md`` + ``report.html`` with the tables, ROC curves and example heatmaps, rendered
from one list of blocks by ``inpaintkit.reports`` (the renderer of ``inpaintkit evaluate``'s report too)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..reports import Block, render_html, render_markdown, table_block
from .evaluate import CONDITIONS, _fmt, jsonable, roc_curve

_IMAGE_COLS = ("roc_auc", "ap", "accuracy", "precision", "recall", "f1", "fpr", "pixel_f1", "pixel_iou", "pixel_auc")


def overlay(rgb: np.ndarray, heat: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """RGB uint8 with the heatmap (0..1) blended in as a red-yellow colour map."""
    from matplotlib import colormaps

    colour = (colormaps["inferno"](np.clip(heat, 0, 1))[..., :3] * 255).astype(np.float32)
    a = alpha * np.clip(heat, 0, 1)[..., None]
    return (rgb.astype(np.float32) * (1 - a) + colour * a).round().astype(np.uint8)


def heat_png(heat: np.ndarray) -> np.ndarray:
    """A heatmap as a grayscale uint8 image (255 = surely inpainted)."""
    return (np.clip(heat, 0, 1) * 255).round().astype(np.uint8)


def _plot_roc(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    raw = results["_raw"]
    y, s, inps = raw["y"], raw["scores"], raw["inpainters"]
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    real = y == 0
    for name in ["all", *sorted({n for n in inps if n})]:
        sel = np.ones(len(y), bool) if name == "all" else (real | np.array([n == name for n in inps]))
        fpr, tpr, _ = roc_curve(y[sel], s[sel])
        auc = results["conditions"][next(iter(results["conditions"]))]["overall" if name == "all" else name]["roc_auc"]
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(f"ROC, {raw.get('condition', 'clean')} test images")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _examples(results: dict[str, Any], folder: Path, per_inpainter: int = 2) -> list[tuple[str, str]]:
    from ..io import write_image
    from .train import load_sample

    raw = results["_raw"]
    folder.mkdir(parents=True, exist_ok=True)
    picks: list[int] = []
    names = ["(real)", *sorted({n for n in raw["inpainters"] if n})]
    for name in names:
        idx = [i for i, n in enumerate(raw["inpainters"]) if (n or "(real)") == name]
        picks += idx[:per_inpainter]
    out = []
    transform = CONDITIONS[raw.get("condition", "clean")]
    for i in picks:
        rec = raw["records"][i]
        rgb, mask = load_sample(rec)
        if transform is not None:  # the image as the detector saw it (a resize changes its size)
            rgb, mask = transform(rgb, mask)
        heat = raw["heats"][i]
        strip = np.concatenate(
            [
                rgb,
                np.repeat((mask * 255).astype(np.uint8)[..., None], 3, 2),
                np.repeat(heat_png(heat)[..., None], 3, 2),
                overlay(rgb, heat),
            ],
            axis=1,
        )
        p = folder / f"example_{i:04d}.png"
        write_image(p, strip)
        out.append((f"{rec.get('inpainter') or 'real'} — score {raw['scores'][i]:.3f}", p.name))
    return out


def write_report(
    results: dict[str, Any],
    out: str | Path,
    loo: list[dict[str, Any]] | None = None,
    title: str = "Detector evaluation",
) -> Path:
    """Write ``metrics.json``, ``report.md``, ``report.html``, ``roc.png`` and ``examples/`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps({**jsonable(results), "leave_one_out": loo or []}, indent=1) + "\n")
    conds = results["conditions"]
    first = next(iter(conds))
    blocks: list[Block] = [
        ("h1", title),
        ("p", f"Split `{results['split']}`, {results['n']} images, threshold {results['threshold']:.3f}."),
        ("h2", f"Per inpainter ({first})"),
    ]
    rows = [
        [name] + [_fmt(m.get(c, float("nan"))) for c in _IMAGE_COLS]
        for name, m in conds[first].items()
        if name != "branches"
    ]
    blocks.append(table_block(["inpainter", *_IMAGE_COLS], rows))
    cm = conds[first]["overall"]["confusion"]
    blocks.append(
        (
            "p",
            "Confusion matrix (rows: true real / inpainted; columns: predicted real / inpainted): "
            f"`{cm[0]}` / `{cm[1]}`",
        )
    )
    if len(conds) > 1:
        keys = ["roc_auc", "ap", "accuracy", "fpr", "recall", "pixel_f1"]
        blocks.append(("h2", "Robustness (all inpainters)"))
        blocks.append(
            table_block(["condition", *keys], [[c] + [_fmt(conds[c]["overall"][k]) for k in keys] for c in conds])
        )
    if "branches" in conds[first]:
        inps = sorted(k for k in conds[first] if k not in ("overall", "branches"))
        blocks += [
            ("h2", "Each branch on its own"),
            (
                "p",
                "Image ROC-AUC of each branch's calibrated score (all inpainters, "
                "then per inpainter) and the mean pixel F1 of its map at 0.5, per condition.",
            ),
        ]
        rows = [
            [c, b, _fmt(r["roc_auc"]), _fmt(r["pixel_f1"])] + [_fmt(r.get(n, float("nan"))) for n in inps]
            for c in conds
            for b, r in conds[c].get("branches", {}).items()
        ]
        blocks.append(table_block(["condition", "branch", "roc_auc", "pixel_f1", *inps], rows))
    if loo:
        blocks += [
            ("h2", "Leave one inpainter out"),
            ("p", "Each run was trained without the inpainter in the first column."),
        ]
        rows = [
            [r["left_out"], _fmt(r["auc_unseen"]), _fmt(r["recall_unseen"]), _fmt(r["auc_seen"]), _fmt(r["fpr"])]
            for r in loo
        ]
        blocks.append(table_block(["left out", "auc_unseen", "recall_unseen", "auc_seen", "fpr"], rows))
    _plot_roc(results, out / "roc.png")
    blocks += [("h2", "ROC curves"), ("img", "roc.png", "ROC"), ("h2", "Examples (image | mask | heatmap | overlay)")]
    for cap, name in _examples(results, out / "examples"):
        blocks += [("p", f"**{cap}**"), ("img", f"examples/{name}", cap)]
    (out / "report.md").write_text(render_markdown(blocks))
    (out / "report.html").write_text(render_html(blocks, title))
    return out / "report.md"
