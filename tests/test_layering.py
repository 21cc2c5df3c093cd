"""The package's layering, asserted: no import cycles between modules or sub-packages (every import counted,
lazy and type-checking ones too), and the light paths stay light (classical fills and the GUI's engine import no
torch / no web framework)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "inpaintkit"


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports (a package's ``__init__`` re-exporting its children is left out)."""
    mods: dict[str, tuple[Path, bool]] = {}
    for p in PKG.rglob("*.py"):
        rel = p.relative_to(PKG.parent).with_suffix("").parts
        name = ".".join(rel[:-1] if rel[-1] == "__init__" else rel)
        mods[name] = (p, rel[-1] == "__init__")
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, (p, is_init) in mods.items():
        pkg = m if is_init else m.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                src = node.module or ""
                if node.level:
                    parts = pkg.split(".")
                    src = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
                targets = [src] + [f"{src}.{a.name}" for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in mods:
                    t = t.rsplit(".", 1)[0] if "." in t else ""
                if t and t != m and not t.startswith(m + "."):
                    graph[m].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_module_cycles():
    assert cycles(import_graph()) == []


def test_no_sub_package_cycles():
    top = {m: ".".join(m.split(".")[:2]) for m in import_graph()}
    pg: dict[str, set[str]] = {}
    for m, ts in import_graph().items():
        pg.setdefault(top[m], set()).update(top[t] for t in ts if top[t] != top[m])
    assert cycles(pg) == []


def test_the_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _loaded(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def test_light_paths_stay_light():
    mods = _loaded(
        "from inpaintkit.inpainters import create_inpainter\nimport numpy as np\n"
        "img = np.zeros((16, 16, 3), np.uint8); m = np.zeros((16, 16), bool); m[4:8, 4:8] = True\n"
        "create_inpainter('telea').inpaint(img, m)"
    )
    assert "torch" not in mods  # a classical fill needs no torch
    mods = _loaded("import inpaintkit.cli")  # `inpaintkit --help` and every command's start-up
    assert not mods & {"torch", "matplotlib", "lightgbm", "sklearn", "ray", "fastapi", "inpaintkit.evaluate.report"}
    mods = _loaded("import inpaintkit.inference")
    assert "fastapi" not in mods and "starlette" not in mods  # the GUI's engine needs no web framework
