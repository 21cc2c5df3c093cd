"""The one report renderer (``inpaintkit.reports``): Markdown and HTML from the same blocks, for the evaluation
report and the detector evaluation alike."""

from __future__ import annotations

from inpaintkit.reports import render_html, render_markdown, table_block


def _blocks():
    return [
        ("h1", "Detector <evaluation>"),
        ("p", "Split `test`, **12** images & more."),
        ("ul", ["one `a`", "two"]),
        table_block(["inpainter", "roc_auc"], [["telea", 0.75], ["overall", "nan"]]),
        ("table", ["model", "psnr"], [[("a", False), ("30.0", True)]]),
        ("img", "examples/x.png", "a <caption>"),
    ]


def test_markdown_and_html_say_the_same_thing():
    md = render_markdown(_blocks())
    assert md.splitlines()[:3] == ["# Detector <evaluation>", "", "Split `test`, **12** images & more."]
    assert "| inpainter | roc_auc |\n|---|--:|\n| telea | 0.75 |\n| overall | nan |" in md
    assert "| a | **30.0** |" in md and "- one `a`\n- two" in md and "![a <caption>](examples/x.png)" in md
    html = render_html(_blocks(), "t & t")
    assert html.startswith("<!doctype html>") and "<title>t &amp; t</title>" in html
    assert "<h1>Detector &lt;evaluation&gt;</h1>" in html  # text is escaped, inline marks become tags
    assert "<p>Split <code>test</code>, <b>12</b> images &amp; more.</p>" in html
    assert "<thead><tr><th>inpainter</th><th>roc_auc</th></tr></thead>" in html
    assert "<tr><td>telea</td><td>0.75</td></tr>" in html and "<td><b>30.0</b></td>" in html
    assert "<figure><img src='examples/x.png' alt='a &lt;caption&gt;'></figure>" in html
    assert html.count("<table>") == md.count("|---|") == 2


def test_both_reports_use_it():
    import inpaintkit.evaluate.report as ev
    import inpaintkit.forensics.report as fx
    import inpaintkit.reports as rp

    assert ev.render_html is rp.render_html and ev.render_markdown is rp.render_markdown
    assert fx.render_html is rp.render_html and fx.render_markdown is rp.render_markdown
    assert not hasattr(fx, "_html") and not hasattr(fx, "_table")  # no second renderer left behind
