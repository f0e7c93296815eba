"""GDAL reads the vector tiles from a real ``geoveilig serve``, on both store backends:
``ogrinfo`` (Debian's gdal-bin, installed by ``.ci/run``) through the MVT driver, and the OGC
API - Tiles client of GDAL's OGCAPI driver (pyogrio's bundled GDAL) over whole tilesets in
both tile matrix sets, with the roles of the features."""

from __future__ import annotations

import shutil
import subprocess
import warnings
from collections.abc import Iterator

import pyogrio
import pytest

from geoveilig import tiles as core
from tests.api_support import build_store, running_server
from tests.conftest import BACKENDS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, tmp_path_factory, shared_geo, areas, demo_incidents  # type: ignore[no-untyped-def]
           ) -> Iterator[tuple[str, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp(f"tiles_gdal_{request.param}")
    url = None
    if request.param == "postgis":
        pg = request.getfixturevalue("postgres_server")
        url = pg.create()
    _settings, keys = build_store(tmp, shared_geo, areas, demo_incidents, url=url)
    env = {"GEOVEILIG_DATABASE_URL": url} if url else {}
    try:
        with running_server(tmp, shared_geo, **env) as base:
            yield base, keys
    finally:
        if url is not None:
            pg.drop(url)


def ogrinfo(url: str, *config: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("ogrinfo")
    if exe is None:
        pytest.fail("ogrinfo not found: install gdal-bin (.ci/run does)")
    args = [exe, "-ro", "-al", "-q"]
    for c in config:
        args += ["--config", *c.split("=", 1)]
    return subprocess.run([*args, f"MVT:{url}"], capture_output=True, text=True, timeout=60)


def test_ogrinfo_reads_tiles_with_the_roles_of_the_features(server, areas) -> None:  # type: ignore[no-untyped-def]
    base, keys = server
    lim = core.tile_limits("NetherlandsRDNewQuad", areas.gemeente.total_bounds)[8]
    row, col = lim["minTileRow"] + 1, lim["minTileCol"] + 1
    tile = f"NetherlandsRDNewQuad/8/{row}/{col}?f=mvt"
    wijken = ogrinfo(f"{base}/v1/collections/wijken/tiles/{tile}")
    assert wijken.returncode == 0, wijken.stderr
    assert "Layer name: wijken" in wijken.stdout
    assert wijken.stdout.count("OGRFeature(wijken)") >= 2
    for field in ("code (String) = WK0794", "crime_type (String) = totaal",
                  "count_suppressed ("):
        assert field in wijken.stdout
    incidents = f"{base}/v1/collections/incidents/tiles/{tile}"
    police = ogrinfo(incidents, f"GDAL_HTTP_HEADERS=X-API-Key: {keys['police']}")
    assert police.returncode == 0, police.stderr
    assert police.stdout.count("OGRFeature(incidents)") > 10
    assert "incident_id (String)" in police.stdout and "POINT (" in police.stdout
    # the analyst's key and no key: the collection does not exist
    for config in ((f"GDAL_HTTP_HEADERS=X-API-Key: {keys['analyst']}",), ()):
        refused = ogrinfo(incidents, *config)
        assert refused.returncode != 0 and "OGRFeature" not in refused.stdout


@pytest.mark.parametrize(("tms", "zoom"), [("WebMercatorQuad", 12),
                                           ("NetherlandsRDNewQuad", 8)])
def test_gdal_ogcapi_tiles_client_reads_whole_layers(server, areas, tms: str,  # type: ignore[no-untyped-def]
                                                     zoom: int) -> None:
    base, keys = server
    epsg = core.TILE_MATRIX_SETS[tms].crs.to_epsg()
    b = core._transformer(28992, epsg).transform_bounds(*areas.gemeente.total_bounds)
    # the driver takes the area to read in the tile matrix set's CRS
    opts = {"API": "TILES", "TILEMATRIXSET": tms, "MINX": str(b[0]), "MINY": str(b[1]),
            "MAXX": str(b[2]), "MAXY": str(b[3])}

    def read(layer: str, key: str | None = None):  # type: ignore[no-untyped-def]
        # (the driver sends its own Accept header, which replaces GDAL_HTTP_HEADERS)
        pyogrio.set_gdal_config_options({"GDAL_HTTP_AUTH": "BEARER" if key else None,
                                         "GDAL_HTTP_BEARER": key})
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return pyogrio.read_dataframe(f"OGCAPI:{base}/v1/collections/{layer}",
                                              layer=f"Zoom level {zoom}", **opts)
        finally:
            pyogrio.set_gdal_config_options({"GDAL_HTTP_AUTH": None, "GDAL_HTTP_BEARER": None})

    wijken = read("wijken")
    assert wijken.crs.to_epsg() == epsg
    assert set(wijken["code"]) == set(areas.wijken["code"])
    buurten = read("buurten")
    assert set(buurten["code"]) == set(areas.buurten["code"])
    hotspots = read("hotspots", keys["analyst"])
    assert {"cell_id", "risk", "gi_class"} <= set(hotspots.columns)
    assert hotspots["cell_id"].nunique() > 1000
    with pytest.raises(pyogrio.errors.DataSourceError):
        read("hotspots")  # no key: no such collection
