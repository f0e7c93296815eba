"""Shared fixtures. The real Helmond boundaries come from ``GEOVEILIG_GEO_DIR`` or, by
default, ``../shared/geo`` beside the repository (never copied into it)."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import pytest

from geoveilig.areas import Areas, load_areas
from geoveilig.store import Store

ROOT = Path(__file__).resolve().parents[1]


def geo_dir() -> Path:
    env = os.environ.get("GEOVEILIG_GEO_DIR")
    path = Path(env) if env else ROOT.parent / "shared" / "geo"
    if not path.is_absolute():
        path = (ROOT / path).resolve()
    return path


@pytest.fixture(scope="session")
def shared_geo() -> Path:
    path = geo_dir()
    if not (path / "helmond_buurten_2017.geojson").exists():
        pytest.fail(f"CBS boundaries not found in {path}: set GEOVEILIG_GEO_DIR")
    return path


@pytest.fixture(scope="session")
def areas(shared_geo: Path) -> Areas:
    return load_areas(shared_geo)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.sqlite(tmp_path / "test.sqlite")
    yield s
    s.close()


@pytest.fixture(scope="session")
def demo_incidents(areas: Areas) -> gpd.GeoDataFrame:
    from geoveilig.demo import generate_incidents

    return generate_incidents(areas, seed=42)
