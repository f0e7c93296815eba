"""Remove outputs and execution counts from the notebooks before committing them:
``.venv/bin/python notebooks/strip_outputs.py`` (or ``make strip-notebooks``)."""

from __future__ import annotations

from pathlib import Path

import nbformat


def strip(path: Path) -> bool:
    """Strip one notebook in place; True when it changed."""
    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None):
            cell.outputs = []
            cell.execution_count = None
            changed = True
        if "execution" in cell.metadata:
            del cell.metadata["execution"]
            changed = True
    if "widgets" in nb.metadata:
        del nb.metadata["widgets"]
        changed = True
    if changed:
        nbformat.write(nb, path)
    return changed


if __name__ == "__main__":
    for notebook in sorted(Path(__file__).resolve().parent.glob("*.ipynb")):
        print(f"{notebook.name}: {'opgeschoond' if strip(notebook) else 'al schoon'}")
