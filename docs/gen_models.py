"""Print the README's model table from the inpainter registry (the only list of models).

    python docs/gen_models.py            # print the table
    python docs/gen_models.py --write    # replace the table between the markers in README.md

``tests/docs/test_readme.py`` fails when README.md's table differs from what this prints.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- models:begin (docs/gen_models.py writes this table) -->", "<!-- models:end -->"


def _page(name: str, kind: str, bundled: bool) -> str | None:
    """The docs page of a model: docs/models/<name>.md, else the page of its group."""
    for candidate in (
        f"models/{name}.md",
        "models/classical.md" if kind == "classical" else None,
        "models/lama.md" if bundled else None,
    ):
        if candidate and (ROOT / "docs" / candidate).is_file():
            return candidate
    return None


def model_table() -> str:
    from inpaintkit.inpainters import default_inpainter_name, get_inpainter_entry, is_available, list_inpainters

    default = default_inpainter_name()
    rows = ["| model | kind | weights | what it does |", "|---|---|---|---|"]
    for name in list_inpainters():
        e = get_inpainter_entry(name)
        bundled = e.needs_weights and is_available(e)
        weights = "bundled" if bundled else ("train a run" if e.needs_weights else "none")
        page = _page(name, e.kind, bundled)
        label = f"[`{name}`](docs/{page})" if page else f"`{name}`"
        if name == default:
            label += " (default)"
        rows.append(f"| {label} | {e.kind} | {weights} | {e.description.replace('|', '/')} |")
    return "\n".join(rows) + "\n"


def readme_table(text: str) -> str:
    """The table between the markers of README.md's text."""
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[start:end].strip("\n") + "\n"


def main(argv: list[str]) -> int:
    table = model_table()
    if "--write" in argv:
        readme = ROOT / "README.md"
        text = readme.read_text()
        start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
        readme.write_text(text[:start] + "\n" + table + text[end:])
        print(f"wrote the model table into {readme}")
    else:
        print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
