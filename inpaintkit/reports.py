"""Reports as one list of blocks, rendered to Markdown and to HTML by the same code, so both always say the same
thing: the evaluation report (``evaluate/report.py``) and the detector evaluation (``forensics/report.py``).

Blocks: ``("h1"|"h2"|"h3", text)``, ``("p", text)``, ``("ul", [text])``, ``("table", header, rows)`` with rows of
``(cell text, bold)`` pairs, ``("img", src, alt)``. Text may hold ``**bold**`` and ```code```; the first table
column is left-aligned, the others right-aligned (numbers).
"""

from __future__ import annotations

import html
import re

Block = tuple  # ("h1"|"h2"|"h3", text) | ("p", text) | ("ul", [text]) | ("table", header, rows) | ("img", src, alt)


def table_block(header: list[str], rows: list[list[str]]) -> Block:
    """A table of plain (not bold) cells."""
    return ("table", list(header), [[(str(c), False) for c in row] for row in rows])


def _inline_html(text: str) -> str:
    t = html.escape(text, quote=False)
    t = re.sub(r"`([^`]+)`", r"<code>\1</code>", t)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", t)


def render_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        kind = b[0]
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + b[1])
        elif kind == "p":
            out.append(b[1])
        elif kind == "ul":
            out.append("\n".join(f"- {item}" for item in b[1]))
        elif kind == "table":
            header, rows = b[1], b[2]
            lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["--:"] * (len(header) - 1)) + "|"]
            for row in rows:
                lines.append("| " + " | ".join(f"**{t}**" if bold and t else t for t, bold in row) + " |")
            out.append("\n".join(lines))
        elif kind == "img":
            out.append(f"![{b[2]}]({b[1]})")
    return "\n\n".join(out) + "\n"


_CSS = """body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}table{border-collapse:collapse;margin:.6em 0 1.4em;font-size:.9em;
font-variant-numeric:tabular-nums}th,td{padding:.25em .7em;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{border-bottom:2px solid #444}tr:last-child td{
border-top:1.5px solid #888}b{color:#000}img{max-width:100%;border:1px solid #eee;margin:.4em 0}
code{background:#f4f4f4;padding:0 .25em;border-radius:3px}h2{border-bottom:1px solid #ddd;padding-bottom:.2em}"""


def render_html(blocks: list[Block], title: str) -> str:
    out = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body>"
    ]
    for b in blocks:
        kind = b[0]
        if kind in ("h1", "h2", "h3"):
            out.append(f"<{kind}>{_inline_html(b[1])}</{kind}>")
        elif kind == "p":
            out.append(f"<p>{_inline_html(b[1])}</p>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in b[1]) + "</ul>")
        elif kind == "table":
            head = "".join(f"<th>{html.escape(h)}</th>" for h in b[1])
            body = "".join(
                "<tr>"
                + "".join(
                    f"<td>{'<b>' if bold else ''}{html.escape(t)}{'</b>' if bold else ''}</td>" for t, bold in row
                )
                + "</tr>"
                for row in b[2]
            )
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif kind == "img":
            out.append(f"<figure><img src='{html.escape(b[1])}' alt='{html.escape(b[2])}'></figure>")
    out.append("</body></html>")
    return "\n".join(out)
