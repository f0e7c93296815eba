"""The analysis notebooks in ``notebooks/`` run top to bottom on the (synthetic) demo data, and
are committed without outputs.

The notebooks are executed here with nbclient (one test per notebook) rather than by collecting
them with ``--nbmake``: ``python -m pytest`` then runs each notebook exactly once, always in a
kernel of this very interpreter (a stale user-level "python3" kernelspec cannot hijack it), with
the working directory ``notebooks/`` (as in Jupyter) and the CBS boundaries of the
``shared_geo`` fixture. ``pytest --nbmake notebooks/`` works too, for a quick manual run.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
EXPECTED = ("01_gegevens", "02_evaluatie", "03_hotspots", "04_inzet")
#: Generous bound for one notebook on a loaded 2-core machine (they take 15-40 s).
CELL_TIMEOUT = 240


def test_the_notebooks_are_there() -> None:
    assert tuple(p.stem for p in NOTEBOOKS) == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{path.name} has no code"
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{path.name}: outputs in cells {dirty}; strip them before committing"
    assert "widgets" not in nb.metadata, f"{path.name}: widget state in the metadata"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_synthetic_data_is_labelled(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "synthetisch" in prose.lower(), f"{path.name} does not say the data is synthetic"


def _kernel(tmp_path: Path) -> KernelManager:
    """A kernel of the interpreter running the tests."""
    spec_dir = tmp_path / "kernels" / "geoveilig-test"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "geoveilig (tests)", "language": "python",
    }))
    ksm = KernelSpecManager(kernel_dirs=[str(spec_dir.parent)], ensure_native_kernel=False)
    return KernelManager(kernel_name="geoveilig-test", kernel_spec_manager=ksm)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, shared_geo: Path, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOVEILIG_GEO_DIR", str(shared_geo))
    # a notebook must never touch the user's data dir: point it at an empty folder and check
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, km=_kernel(tmp_path), timeout=CELL_TIMEOUT, startup_timeout=180,
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    before = sorted(NOTEBOOK_DIR.rglob("*"))
    started = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - started
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
    ran = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in ran), "not every cell ran"
    assert not any(data_dir.iterdir()), "the notebook wrote into GEOVEILIG_DATA_DIR"
    assert sorted(NOTEBOOK_DIR.rglob("*")) == before, "the notebook left files in notebooks/"
    print(f"{path.name}: {seconds:.1f} s")
