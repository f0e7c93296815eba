"""A fresh clone has no boundaries: ``geoveilig demo`` (and so ``make demo``) fetches them
from PDOK into ``GEOVEILIG_GEO_DIR`` when online, and otherwise says in one Dutch line what to
do. PDOK is played by a local server (``tests/pdok_fake.py``); offline is a closed port."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from geoveilig.areas import holds_boundaries, load_or_fetch_areas
from geoveilig.cli import app
from geoveilig.errors import AreaError
from tests.pdok_fake import FakePdok, closed_url

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _fresh_geo_dir(tmp_path: Path) -> Path:
    """What a clone has in data/geo: the README and no boundary file."""
    geo = tmp_path / "geo"
    geo.mkdir()
    shutil.copy(ROOT / "data" / "geo" / "README.md", geo / "README.md")
    return geo


def test_an_empty_folder_is_filled_from_pdok_once(areas, tmp_path):
    geo = _fresh_geo_dir(tmp_path)
    assert not holds_boundaries(geo) and not holds_boundaries(tmp_path / "absent")
    with FakePdok(areas) as pdok:
        got, paths = load_or_fetch_areas(geo, "GM0794", 2017, pdok.url)
        assert len(pdok.requests) == 3
        assert [p.name for p in paths] == ["gm0794_gemeente_2017.geojson",
                                           "gm0794_wijken_2017.geojson",
                                           "gm0794_buurten_2017.geojson"]
        assert list(got.buurten["code"]) == list(areas.buurten["code"])
        assert list(got.wijken["name"]) == list(areas.wijken["name"])
        assert got.year == 2017 and holds_boundaries(geo)
        again, written = load_or_fetch_areas(geo, "GM0794", 2017, pdok.url)
        assert written == [] and len(pdok.requests) == 3  # read from the folder, not fetched
    assert list(again.buurten["code"]) == list(areas.buurten["code"])


def test_fetched_files_are_git_ignored_in_data_geo():
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    names = [f"data/geo/gm0794_{lvl}_2017.geojson" for lvl in ("gemeente", "wijken", "buurten")]
    ignored = subprocess.run(["git", "check-ignore", *names], cwd=ROOT, capture_output=True,
                             text=True)
    assert ignored.stdout.split() == names
    assert subprocess.run(["git", "check-ignore", "-q", "data/geo/README.md"],
                          cwd=ROOT).returncode == 1  # the README is committed


def test_a_partial_folder_is_reported_not_overwritten(areas, tmp_path):
    geo = _fresh_geo_dir(tmp_path)
    areas.wijken.to_file(geo / "helmond_wijken_2017.geojson", driver="GeoJSON")
    with FakePdok(areas) as pdok, pytest.raises(AreaError, match="onvolledig"):
        load_or_fetch_areas(geo, "GM0794", 2017, pdok.url)
    assert pdok.requests == []
    assert sorted(p.name for p in geo.iterdir()) == ["README.md", "helmond_wijken_2017.geojson"]


def test_offline_is_one_dutch_line_with_what_to_do(tmp_path, monkeypatch):
    geo = _fresh_geo_dir(tmp_path)
    monkeypatch.setenv("GEOVEILIG_GEO_DIR", str(geo))
    monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GEOVEILIG_PDOK_URL", closed_url())
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    line = lines[0]
    assert line.startswith("Fout: geen gebiedsindeling in " + str(geo))
    assert "PDOK niet bereikbaar" in line
    assert "GEOVEILIG_GEO_DIR" in line and "'geoveilig areas fetch'" in line
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, not an exception
    assert sorted(p.name for p in geo.iterdir()) == ["README.md"]  # nothing half-written
    assert not (tmp_path / "data" / "geoveilig.sqlite").exists()


@pytest.mark.slow  # the whole demo through the CLI
def test_demo_on_a_fresh_clone_fetches_the_boundaries_then_loads(areas, tmp_path, monkeypatch):
    geo = _fresh_geo_dir(tmp_path)
    monkeypatch.setenv("GEOVEILIG_GEO_DIR", str(geo))
    monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(tmp_path / "data"))
    with FakePdok(areas) as pdok:
        monkeypatch.setenv("GEOVEILIG_PDOK_URL", pdok.url)
        result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"Grenzen van Helmond opgeslagen in {geo}: 12 wijken, 44 buurten" in text
    assert "incidenten ingelezen" in text
    assert len(pdok.requests) == 3
    shown = runner.invoke(app, ["areas", "show", "--level", "buurt"])
    assert shown.exit_code == 0 and "BU07942105" in shown.output
