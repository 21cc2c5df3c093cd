"""Report tables: means, intervals, the best value per row in bold, Markdown and HTML from the same blocks."""

from __future__ import annotations

import math

import pytest

from inpaintkit.evaluate.report import ALL, aggregate, best_models, fmt_stat, metric_table, render_html, render_markdown


def _rows():
    rows = []
    for model, psnr, l1, sec in (
        ("a", (30.0, 32.0), (0.02, 0.01), (0.5, 0.7)),
        ("b", (28.0, 29.0), (0.01, 0.005), (0.1, 0.1)),
        ("c", (30.0, 32.0), (0.03, 0.03), (1.0, 2.0)),
    ):
        for i in range(2):
            rows.append(
                {
                    "model": model,
                    "bucket": "0.1-0.2",
                    "image": f"im{i}.png",
                    "mask": "m.png",
                    "psnr": psnr[i],
                    "hole_psnr": psnr[i] - 5,
                    "ssim": 0.9,
                    "l1": l1[i],
                    "seconds": sec[i],
                }
            )
    rows.append(
        {
            "model": "a",
            "bucket": "0.5-0.6",
            "image": "im0.png",
            "mask": "m.png",
            "psnr": 20.0,
            "hole_psnr": 10.0,
            "ssim": 0.5,
            "l1": 0.1,
            "seconds": 1.0,
        }
    )
    return rows


def test_aggregate_and_best_marks_respect_the_metric_direction():
    rows, models, buckets = _rows(), ["a", "b", "c"], ["0.1-0.2", "0.5-0.6"]
    psnr = aggregate(rows, models, buckets, "psnr")
    assert psnr["0.1-0.2"]["a"]["mean"] == pytest.approx(31.0) and psnr["0.1-0.2"]["a"]["n"] == 2
    assert psnr["0.1-0.2"]["a"]["ci95"] == pytest.approx(12.706204736 * 1.0, rel=1e-6)  # t_{.975,1} * s/sqrt(2)
    assert psnr[ALL]["a"]["n"] == 3 and psnr["0.5-0.6"]["b"]["n"] == 0
    assert best_models(psnr, "psnr")["0.1-0.2"] == ["a", "c"]  # a tie: both bold
    assert best_models(aggregate(rows, models, buckets, "l1"), "l1")["0.1-0.2"] == ["b"]  # lower is better
    assert best_models(aggregate(rows, models, buckets, "seconds"), "seconds")["0.1-0.2"] == ["b"]
    assert best_models(psnr, "psnr")["0.5-0.6"] == []  # one model with a value: nothing to compare
    assert fmt_stat(psnr["0.5-0.6"]["a"], "psnr") == "20.00"  # one value: no interval
    assert fmt_stat(psnr["0.5-0.6"]["b"], "psnr") == "–"


def test_rendered_tables_mark_the_best_value_in_bold():
    rows, models, buckets = _rows(), ["a", "b", "c"], ["0.1-0.2", "0.5-0.6"]
    table = aggregate(rows, models, buckets, "l1")
    block = metric_table(
        table, "l1", models, buckets, {"0.1-0.2": 0.15, "0.5-0.6": 0.55, ALL: 0.3}, {"0.1-0.2": 2, "0.5-0.6": 1, ALL: 3}
    )
    md = render_markdown([("h2", "L1"), block])
    lines = md.splitlines()
    assert "| bucket | hole % | pairs | a | b | c |" in lines
    row = next(line for line in lines if line.startswith("| 0.1-0.2 "))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:3] == ["0.1-0.2", "15.0", "2"]
    assert cells[4].startswith("**0.0075 ± ") and not cells[3].startswith("**") and not cells[5].startswith("**")
    html = render_html([("h2", "L1"), block], "t")
    assert "<td><b>0.0075 ± " in html and html.count("<b>") == md.count("**") // 2
    assert math.isnan(table["0.5-0.6"]["a"]["ci95"])
