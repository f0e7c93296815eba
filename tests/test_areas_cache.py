"""The validated boundaries kept between runs (geoveilig.areacache)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from geoveilig import areacache
from geoveilig import areas as areas_mod
from geoveilig.areas import LEVELS, Areas, load_areas
from geoveilig.errors import AreaError


@pytest.fixture
def geo(shared_geo: Path, tmp_path: Path) -> Path:
    """A copy of the Helmond boundaries that a test may change."""
    out = tmp_path / "geo"
    shutil.copytree(shared_geo, out)
    return out


def assert_same(a: Areas, b: Areas) -> None:
    for level in LEVELS:
        x, y = a.layer(level), b.layer(level)
        pd.testing.assert_frame_equal(x, y, check_exact=True)  # dtypes, order, values
        assert x.crs == y.crs
        assert np.array_equal(shapely.to_wkb(x.geometry.values),
                              shapely.to_wkb(y.geometry.values))  # to the last bit
    assert (a.year, a.source, a.warnings) == (b.year, b.source, b.warnings)


def test_a_cached_load_is_the_load_and_reads_no_boundary_file(
        geo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = load_areas(geo, gemeente="GM0794")
    first = areacache.load_cached(geo, "GM0794", tmp_path / "cache")
    assert_same(fresh, first)
    assert len(list((tmp_path / "cache").glob("areas-*.arrow"))) == 1

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the boundary files were read again")

    monkeypatch.setattr(areas_mod, "_read", no_reading)
    again = areacache.load_cached(geo, "GM0794", tmp_path / "cache")
    assert_same(fresh, again)
    assert again.assign(np.array([173603.7]), np.array([387715.3])).equals(
        fresh.assign(np.array([173603.7]), np.array([387715.3])))


def test_a_cached_load_does_not_load_gdal(geo: Path, tmp_path: Path) -> None:
    """What the cache saves a run: reading the files, validating them and loading GDAL."""
    areacache.load_cached(geo, "GM0794", tmp_path / "cache")
    code = ("import sys; from geoveilig import areacache; "
            f"a = areacache.load_cached({str(geo)!r}, 'GM0794', {str(tmp_path / 'cache')!r}); "
            "print(len(a.buurten), 'pyogrio' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == [str(len(load_areas(geo, gemeente="GM0794").buurten)), "False"]


def test_a_changed_file_or_another_choice_of_gemeenten_is_loaded_again(
        geo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    before = areacache.load_cached(geo, "GM0794", cache)
    buurten = next(geo.glob("*buurten*"))
    text = buurten.read_text(encoding="utf-8")
    first = str(before.buurten["name"].iloc[0])
    buurten.write_text(text.replace(first, first + " (nieuw)", 1), encoding="utf-8")
    after = areacache.load_cached(geo, "GM0794", cache)
    assert first + " (nieuw)" in set(after.buurten["name"])
    assert_same(after, load_areas(geo, gemeente="GM0794"))
    # the same content, only a newer modification time: another key, the same result
    st = buurten.stat()
    os.utime(buurten, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert areacache.cache_key(geo, "GM0794") != areacache.cache_key(geo, "*")
    key = areacache.cache_key(geo, "GM0794")
    assert_same(areacache.load_cached(geo, "GM0794", cache), after)
    assert (cache / f"areas-{key}.arrow").exists()
    assert_same(areacache.load_cached(geo, "*", cache), load_areas(geo, gemeente="*"))


def test_an_unreadable_cache_file_is_not_used_and_is_written_again(
        geo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    areacache.load_cached(geo, "GM0794", cache)
    [kept] = cache.glob("areas-*.arrow")
    kept.write_bytes(b"geen arrow")
    assert_same(areacache.load_cached(geo, "GM0794", cache), load_areas(geo, gemeente="GM0794"))
    assert kept.read_bytes()[:6] == b"ARROW1"


def test_invalid_boundaries_raise_every_time_and_nothing_is_kept(
        geo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    next(geo.glob("*wijken*")).unlink()
    for _ in range(2):
        with pytest.raises(AreaError, match="onvolledig"):
            areacache.load_cached(geo, "GM0794", cache)
    assert not list(cache.glob("*")) if cache.exists() else True
    with pytest.raises(AreaError, match="niet gevonden"):
        areacache.load_cached(tmp_path / "nergens", "GM0794", cache)


def test_a_cache_folder_that_cannot_be_written_keeps_nothing(geo: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "bestand"
    blocked.write_text("geen map")  # a file where the folder should be
    assert_same(areacache.load_cached(geo, "GM0794", blocked / "cache"),
                load_areas(geo, gemeente="GM0794"))


def test_only_the_newest_cache_files_stay(geo: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setattr(areacache, "KEEP", 2)
    buurten = next(geo.glob("*buurten*"))
    for k in range(4):
        st = buurten.stat()
        os.utime(buurten, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9 * (k + 1)))
        areacache.load_cached(geo, "GM0794", cache)
    assert len(list(cache.glob("areas-*.arrow"))) == 2
    assert (cache / f"areas-{areacache.cache_key(geo, 'GM0794')}.arrow").exists()


def test_the_import_keeps_the_boundaries_in_the_data_folder(
        shared_geo: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from geoveilig.cli import app, common

    csv = tmp_path / "in.csv"
    csv.write_text("registratienummer;soort;pleegdatum;x;y\n"
                   "A1;woninginbraak;01-03-2017 10:00;173603,7;387715,3\n", encoding="utf-8")
    env = {"GEOVEILIG_GEO_DIR": str(shared_geo), "GEOVEILIG_DATA_DIR": str(tmp_path / "data")}
    common._areas_cached.cache_clear()
    result = CliRunner().invoke(app, ["import", str(csv)], env=env)
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "data" / "cache").glob("areas-*.arrow"))) == 1
