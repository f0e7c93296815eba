"""The app's typed services (``api/services.py``): the grid follows GEOVEILIG_GRID_SIZE, and
every cache is keyed by what its layer depends on (``Layer.depends_on``): a change of plans,
of the prevention registry or of the published counts changes the layers that depend on it
and leaves the others cached (the old ETag still answers 304)."""

from __future__ import annotations

from collections.abc import Iterator

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient

from geoveilig import RD_NEW
from geoveilig.api import create_app
from geoveilig.api.services import AppServices
from geoveilig.store.counts import write_counts
from geoveilig.store.plans import Requester, save_plan
from geoveilig.store.prevention import list_groups, set_status
from tests.api_support import build_store

RD = "http://www.opengis.net/def/crs/EPSG/0/28992"


@pytest.fixture(scope="module")
def setup(tmp_path_factory, shared_geo, areas, demo_incidents):  # type: ignore[no-untyped-def]
    return build_store(tmp_path_factory.mktemp("services"), shared_geo, areas, demo_incidents)


@pytest.fixture
def client(setup) -> Iterator[tuple[TestClient, dict[str, str]]]:  # type: ignore[no-untyped-def]
    settings, keys = setup
    with TestClient(create_app(settings.model_copy(update={"grid_size": 500.0}))) as c:
        c.app.state.services.version_ttl = 0.0  # type: ignore[attr-defined]
        yield c, {"Authorization": f"Bearer {keys['analyst']}"}


def _services(c: TestClient) -> AppServices:
    return c.app.state.services  # type: ignore[attr-defined, no-any-return]


def test_the_api_uses_the_grid_size_setting(client) -> None:  # type: ignore[no-untyped-def]
    c, analyst = client
    svc = _services(c)
    assert svc.grid.cell_size == 500.0
    r = c.get(f"/v1/collections/hotspots/items?limit=3&crs={RD}&crimeType=woninginbraak"
              "&method=kde", headers=analyst)
    assert r.status_code == 200, r.text
    for feature in r.json()["features"]:
        minx, miny, maxx, maxy = shapely.geometry.shape(feature["geometry"]).bounds
        assert (maxx - minx, maxy - miny) == pytest.approx((500.0, 500.0))


#: layer -> (URL, needs a key)
WATCHED = {
    "wijken": "/v1/collections/wijken/items?year=2017&limit=5",
    "prevention-coverage": "/v1/collections/prevention-coverage/items?limit=5",
    "recommendations": "/v1/collections/recommendations/items?limit=5",
    "published-wijken": "/v1/collections/published-wijken/items?year=2017&limit=5",
}


def _tags(c: TestClient, headers: dict[str, str]) -> dict[str, str]:
    out = {}
    for name, url in WATCHED.items():
        r = c.get(url, headers=headers)
        assert r.status_code == 200, (name, r.text)
        out[name] = r.headers["etag"]
    return out


def _changed(c: TestClient, headers: dict[str, str], tags: dict[str, str]) -> set[str]:
    """The watched layers whose cached page no longer answers the old ETag with 304."""
    out = set()
    for name, url in WATCHED.items():
        r = c.get(url, headers={**headers, "If-None-Match": tags[name]})
        assert r.status_code in (200, 304), (name, r.text)
        if r.status_code == 200:
            out.add(name)
    return out


def _plan(svc: AppServices) -> int:
    sites = gpd.GeoDataFrame({
        "rank": [1, 2], "status": ["nieuw", "nieuw"], "expected_covered": [1.0, 0.5],
        "buurt_code": ["BU07941006"] * 2, "buurt_name": ["Annabuurt"] * 2,
        "radius_m": 150.0, "start": "2018-03-01", "until": "2018-04-12",
        "backtest_score": float("nan")},
        geometry=[shapely.Point(173650.0 + 50 * k, 388300.0) for k in range(2)], crs=RD_NEW)
    return save_plan(
        svc.store, kind="alarms", sites=sites, params={"count": 2}, objective=1.5,
        objective_unit="verwacht aantal inbraken", bound=None, gap=None, proven=False,
        solver="greedy", status="ok", total_risk=2.0, summary="2 plaatsen", notes=[],
        requester=Requester("analyst", "key:test", "test"), data_version=None)


def test_a_new_plan_changes_only_the_recommendations(client) -> None:  # type: ignore[no-untyped-def]
    c, analyst = client
    tags = _tags(c, analyst)
    before = c.get(WATCHED["recommendations"], headers=analyst).json()["numberMatched"]
    _plan(_services(c))
    assert _changed(c, analyst, tags) == {"recommendations"}
    after = c.get(WATCHED["recommendations"], headers=analyst).json()["numberMatched"]
    assert after != before or after == 2  # the newest alarms plan is now the one just saved


def test_a_prevention_change_changes_only_the_prevention_layers(client) -> None:  # type: ignore[no-untyped-def]
    c, analyst = client
    tags = _tags(c, analyst)
    svc = _services(c)
    group = str(list_groups(svc.store)["group_id"].iloc[0])
    set_status(svc.store, group, "gestopt", "2001-01-01")
    assert _changed(c, analyst, tags) == {"prevention-coverage"}


def test_published_counts_change_only_the_layers_that_show_them(client, areas) -> None:  # type: ignore[no-untyped-def]
    c, analyst = client
    tags = _tags(c, analyst)
    code = str(areas.wijken["code"].iloc[0])
    write_counts(_services(c).store, pd.DataFrame({
        "source": ["politie"], "table_id": ["47022NED"], "area_code": [code],
        "area_level": ["wijk"], "year": [2017], "month": [0], "crime_class": ["1.1.1"],
        "crime_label": ["Diefstal/inbraak woning"], "count": [12],
        "retrieved_at": [pd.Timestamp("2026-01-01", tz="UTC")]}))
    # wijken also depends on them (its counts come from them when no incidents are loaded)
    assert _changed(c, analyst, tags) == {"published-wijken", "wijken"}


def test_a_default_of_today_is_part_of_the_key(client) -> None:  # type: ignore[no-untyped-def]
    """The prevention layers' date is filled in (from the data) before the cache key is
    made: asking without a date and with that date explicitly is the same cached layer."""
    c, _analyst = client
    svc = _services(c)
    implicit = c.get(WATCHED["prevention-coverage"]).json()
    used = implicit["features"][0]["properties"]["date"]
    explicit = c.get(WATCHED["prevention-coverage"] + f"&date={used}").json()
    assert implicit["features"] == explicit["features"]
    keys = [k for k in svc.layer_cache._items if k[0] == "prevention-coverage"]
    assert len(keys) == 1 and "date" in dict(keys[0][1])
