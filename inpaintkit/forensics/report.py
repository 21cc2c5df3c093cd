"""The evaluation report: ``report.md`` + ``report.html`` with the tables, ROC curves and example heatmaps."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from .evaluate import _fmt, jsonable, roc_curve

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


def _table(rows: list[list[str]], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


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
    ax.set_title("ROC, clean test images")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _examples(results: dict[str, Any], folder: Path, per_inpainter: int = 2) -> list[tuple[str, str]]:
    from ..io import write_image
    from .train import load_sample

    raw, root = results["_raw"], results["_root"]
    folder.mkdir(parents=True, exist_ok=True)
    picks: list[int] = []
    names = ["(real)", *sorted({n for n in raw["inpainters"] if n})]
    for name in names:
        idx = [i for i, n in enumerate(raw["inpainters"]) if (n or "(real)") == name]
        picks += idx[:per_inpainter]
    out = []
    for i in picks:
        rec = raw["records"][i]
        rgb, mask = load_sample(root, rec)
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
    md = [
        f"# {title}",
        "",
        f"Split `{results['split']}`, {results['n']} images, threshold {results['threshold']:.3f}.",
        "",
        f"## Per inpainter ({first})",
        "",
    ]
    rows = [
        [name] + [_fmt(m.get(c, float("nan"))) for c in _IMAGE_COLS]
        for name, m in conds[first].items()
        if name != "branches"
    ]
    md += [_table(rows, ["inpainter", *_IMAGE_COLS]), ""]
    cm = conds[first]["overall"]["confusion"]
    md += [
        f"Confusion matrix (rows: true real / inpainted; columns: predicted real / inpainted): `{cm[0]}` / `{cm[1]}`",
        "",
    ]
    if len(conds) > 1:
        md += ["## Robustness (all inpainters)", ""]
        rows = [
            [c] + [_fmt(conds[c]["overall"][k]) for k in ("roc_auc", "ap", "accuracy", "fpr", "recall", "pixel_f1")]
            for c in conds
        ]
        md += [_table(rows, ["condition", "roc_auc", "ap", "accuracy", "fpr", "recall", "pixel_f1"]), ""]
    if "branches" in conds[first]:
        inps = sorted(k for k in conds[first] if k not in ("overall", "branches"))
        md += [
            "## Each branch on its own",
            "",
            "Image ROC-AUC of each branch's calibrated score (all inpainters, "
            "then per inpainter) and the mean pixel F1 of its map at 0.5, per condition.",
            "",
        ]
        rows = [
            [c, b, _fmt(r["roc_auc"]), _fmt(r["pixel_f1"])] + [_fmt(r.get(n, float("nan"))) for n in inps]
            for c in conds
            for b, r in conds[c].get("branches", {}).items()
        ]
        md += [_table(rows, ["condition", "branch", "roc_auc", "pixel_f1", *inps]), ""]
    if loo:
        md += ["## Leave one inpainter out", "", "Each run was trained without the inpainter in the first column.", ""]
        rows = [
            [r["left_out"], _fmt(r["auc_unseen"]), _fmt(r["recall_unseen"]), _fmt(r["auc_seen"]), _fmt(r["fpr"])]
            for r in loo
        ]
        md += [_table(rows, ["left out", "auc_unseen", "recall_unseen", "auc_seen", "fpr"]), ""]
    _plot_roc(results, out / "roc.png")
    md += ["## ROC curves", "", "![ROC](roc.png)", "", "## Examples (image | mask | heatmap | overlay)", ""]
    ex = _examples(results, out / "examples")
    md += [f"**{cap}**\n\n![{cap}](examples/{name})\n" for cap, name in ex]
    text = "\n".join(md) + "\n"
    (out / "report.md").write_text(text)
    (out / "report.html").write_text(_html(text, title))
    return out / "report.md"


def _html(md: str, title: str) -> str:
    """A small Markdown-to-HTML for the report's own subset (headings, tables, images, paragraphs)."""
    body, table = [], []

    def flush():
        if table:
            cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in table if not set(r) <= set("|-")]
            body.append(
                "<table>"
                + "".join(
                    "<tr>"
                    + "".join(f"<{'th' if i == 0 else 'td'}>{html.escape(c)}</{'th' if i == 0 else 'td'}>" for c in row)
                    + "</tr>"
                    for i, row in enumerate(cells)
                )
                + "</table>"
            )
            table.clear()

    for line in md.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("!["):
            alt, src = line[2:].split("](", 1)
            body.append(f'<p><img src="{html.escape(src.rstrip(")"))}" alt="{html.escape(alt)}"></p>')
        elif line.strip():
            body.append(f"<p>{html.escape(line.replace('**', '').replace('`', ''))}</p>")
    flush()
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}img{max-width:100%}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )
