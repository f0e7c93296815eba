"""The layering of docs/architecture.md: the core and the store never import the edges."""
import ast
from pathlib import Path

import geoveilig

PACKAGE = Path(geoveilig.__file__).parent
EDGES = ("api", "cli", "web")


def _imports(source: str, rel: tuple[str, ...]) -> set[str]:
    """Top-level geoveilig subpackages imported by the module at ``rel`` (its path parts inside
    the package, without suffix), absolute and relative imports alike."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "geoveilig" and len(parts) > 1:
                    found.add(parts[1])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] != "geoveilig":
                    continue
                target = parts[1:]
            else:
                base = list(rel[:-1])[: len(rel) - node.level]
                target = base + (node.module.split(".") if node.module else [])
            if target:
                found.add(target[0])
            else:
                found.update(a.name for a in node.names)
    return found


def test_core_and_store_never_import_the_edges():
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        top = path.relative_to(PACKAGE).parts[0]
        if top.removesuffix(".py") in EDGES:
            continue
        rel = path.relative_to(PACKAGE).with_suffix("").parts
        bad = _imports(path.read_text(encoding="utf-8"), rel) & set(EDGES)
        if bad:
            offenders[str(path.relative_to(PACKAGE))] = sorted(bad)
    assert offenders == {}


def test_the_check_sees_an_edge_import():
    """The checker itself finds relative and absolute imports of an edge."""
    source = "from ..api import app\nimport geoveilig.cli\nfrom .. import web\nfrom . import x\n"
    assert _imports(source, ("placement", "service")) >= {"api", "cli", "web"}
    assert "x" not in _imports(source, ("placement", "service"))
