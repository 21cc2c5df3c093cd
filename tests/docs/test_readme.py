"""README.md: the two commands first, short, its links resolve, its model table is the registry's."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def _gen_models():
    spec = importlib.util.spec_from_file_location("gen_models", ROOT / "docs" / "gen_models.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_readme_starts_with_the_two_commands_and_is_short():
    lines = README.read_text().splitlines()
    assert lines[2] == "```" and lines[5] == "```"
    assert lines[3].startswith("make demo    # ") and lines[4].startswith("make test    # ")
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; the manual lives in docs/"


def test_readme_model_table_matches_the_registry():
    gen = _gen_models()
    table = gen.model_table()
    assert gen.readme_table(README.read_text()) == table, (
        "README.md's model table is stale: run `python docs/gen_models.py --write`"
    )
    # one row per registered inpainter, each name once
    from inpaintkit import list_inpainters

    names = re.findall(r"^\| \[?`([a-z0-9_]+)`", table, flags=re.M)
    assert names == list_inpainters()


def test_readme_relative_links_resolve():
    text = README.read_text()
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if not re.match(r"[a-z]+://", t)]
    assert local, "no relative links found"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, f"README.md links to missing files: {missing}"
