"""Layers, tiles, reports, hotspots and planning per gemeente, with Helmond and Buurdorp
configured together (``GEOVEILIG_GEMEENTE=GM0794,GM9901``) on SQLite and PostGIS; and the
same store served with Helmond alone answers as before."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient

from geoveilig.api import create_app
from geoveilig.areas import load_areas
from geoveilig.incidents import parse_incidents
from geoveilig.scope import GemeenteStore, for_gemeente
from geoveilig.settings import Settings
from geoveilig.store import Store
from geoveilig.store.keys import create_key
from tests.conftest import BACKENDS
from tests.multi_support import BORDER_X, incidents_csv, two_gemeenten_dir


@pytest.fixture(scope="module", params=BACKENDS)
def served(request, tmp_path_factory, shared_geo):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("multi")
    geo = two_gemeenten_dir(shared_geo, tmp / "geo")
    two = load_areas(geo)
    if request.param == "postgis":
        pg = request.getfixturevalue("postgres_server")
        url = pg.create()
    else:
        url = f"sqlite:///{tmp / 'geoveilig.sqlite'}"
    path = incidents_csv(two, tmp / "incidents.csv")
    data = path.read_bytes()
    store = Store(url)
    try:
        summary = store.import_incidents(parse_incidents(data, filename=path.name, areas=two),
                                         source_name=path.name,
                                         content_sha256=hashlib.sha256(data).hexdigest())
        keys = {role: create_key(store, f"test-{role}", role)[1]
                for role in ("analyst", "police")}
        for role in ("analyst", "police"):  # keys of Helmond only (migration 0014)
            record, keys[f"helmond-{role}"] = create_key(store, f"helmond-{role}", role,
                                                         "GM0794")
            assert record.gemeenten == ("GM0794",)
    finally:
        store.close()
    assert dict(summary.per_gemeente) == {"GM0794": 400, "GM9901": 120}
    both = Settings(data_dir=tmp, geo_dir=geo, database_url=url, rate_limit="",
                    gemeente="GM0794,GM9901")
    helmond = Settings(data_dir=tmp, geo_dir=geo, database_url=url, rate_limit="",
                       gemeente="GM0794")
    with TestClient(create_app(both)) as c2, TestClient(create_app(helmond)) as c1:
        yield {"two": c2, "one": c1, "keys": keys, "areas": two, "url": url}


def _h(served, role):  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {served['keys'][role]}"}


def _codes(resp) -> list[str]:  # type: ignore[no-untyped-def]
    assert resp.status_code == 200, resp.text
    return sorted(f["properties"]["code"] for f in resp.json()["features"])


def test_store_view_filters_in_the_query(served):
    store = Store(served["url"])
    try:
        areas, view = for_gemeente(served["areas"], store, "GM9901")
        assert isinstance(view, GemeenteStore) and areas.gemeente_codes == ("GM9901",)
        got = view.incidents()
        assert len(got) == 120 and set(got["buurt_code"].str[:6]) == {"BU9901"}
        assert view.count_incidents() == 120
        assert view.count_incidents(area_codes=["WK079410"]) == 0  # Helmond's: not seen
        assert view.count_incidents(area_codes=["GM9901"]) == 120
        assert for_gemeente(served["areas"], store, "GM0794,GM9901")[1] is store
    finally:
        store.close()


def test_wijken_cover_every_gemeente_or_one(served):
    c = served["two"]
    every = _codes(c.get("/v1/collections/wijken/items", params={"year": 2016, "limit": 100}))
    assert len(every) == 14 and "WK990101" in every and "WK079410" in every
    one = _codes(c.get("/v1/collections/wijken/items",
                       params={"year": 2016, "gemeente": "GM9901"}))
    assert one == ["WK990101", "WK990102"]
    buurten = _codes(c.get("/v1/collections/buurten/items",
                           params={"year": 2016, "gemeente": "GM9901"}))
    assert buurten == ["BU99010101", "BU99010102", "BU99010201", "BU99010202"]


def test_helmond_counts_are_the_same_as_with_helmond_alone(served):
    q = {"year": 2016, "crimeType": "woninginbraak", "limit": 100}
    h = _h(served, "analyst")  # exact counts (no cell-key noise for the municipality)
    two = served["two"].get("/v1/collections/wijken/items", params={**q, "gemeente": "GM0794"},
                            headers=h).json()
    one = served["one"].get("/v1/collections/wijken/items", params=q, headers=h).json()
    counts = {f["properties"]["code"]: f["properties"]["count"] for f in two["features"]}
    assert counts == {f["properties"]["code"]: f["properties"]["count"]
                      for f in one["features"]}
    assert sum(counts.values()) > 0
    # Helmond alone: no gemeente needed and Buurdorp is unknown there (404)
    assert served["one"].get("/v1/collections/wijken/items",
                             params={"gemeente": "GM9901"}).status_code == 404


def test_unknown_or_malformed_gemeente(served):
    c = served["two"]
    r = c.get("/v1/collections/wijken/items", params={"gemeente": "GM0772"})
    assert r.status_code == 404
    assert "kies uit GM0794 (Helmond), GM9901 (Buurdorp)" in r.json()["detail"]
    r = c.get("/v1/collections/wijken/items", params={"gemeente": "Helmond"})
    assert r.status_code == 400 and r.json()["parameter"] == "gemeente"


def test_hotspots_need_a_gemeente_with_several(served):
    c, h = served["two"], _h(served, "analyst")
    r = c.get("/v1/collections/hotspots/items", params={"crimeType": "woninginbraak"},
              headers=h)
    assert r.status_code == 400, r.text
    problem = r.json()
    assert problem["parameter"] == "gemeente"
    assert "GM0794 (Helmond), GM9901 (Buurdorp)" in problem["detail"]
    r = c.get("/v1/collections/hotspots/items", headers=h,
              params={"crimeType": "woninginbraak", "gemeente": "GM9901", "limit": 10000,
                      "method": "kde"})
    assert r.status_code == 200, r.text
    cells = r.json()["features"]
    assert cells and {f["properties"]["buurt_code"][:6] for f in cells
                      if f["properties"]["buurt_code"]} == {"BU9901"}
    # Helmond alone: as before, no gemeente needed
    assert served["one"].get("/v1/collections/hotspots/items", headers=h,
                             params={"crimeType": "woninginbraak", "limit": 1}).status_code == 200


def test_incidents_and_tiles_per_gemeente(served):
    c, h = served["two"], _h(served, "police")
    got = c.get("/v1/collections/incidents/items", headers=h,
                params={"gemeente": "GM9901", "limit": 1000}).json()
    assert got["numberMatched"] == 120
    assert {f["properties"]["buurt_code"][:6] for f in got["features"]} == {"BU9901"}
    # a tile over Buurdorp: with Helmond chosen it holds nothing of Buurdorp
    tile = "/v1/collections/incidents/tiles/WebMercatorQuad/12/1362/2113"  # Buurdorp
    a = c.get(tile, headers=h, params={"gemeente": "GM9901"})
    b = c.get(tile, headers=h, params={"gemeente": "GM0794"})
    assert a.status_code == 200 and b.status_code == 200
    assert a.headers["etag"] != b.headers["etag"]
    assert len(a.content) > len(b.content)


def test_reports_per_gemeente(served):
    c = served["two"]
    r = c.get("/v1/reports/evaluation", params={"year": 2016})
    assert r.status_code == 400 and r.json()["parameter"] == "gemeente"
    r = c.get("/v1/reports/evaluation", params={"year": 2016, "gemeente": "GM9901",
                                                "level": "wijk"},
              headers=_h(served, "analyst"))
    assert r.status_code == 200, r.text
    areas = {row.get("area_code") or row.get("code") for row in r.json()["rows"]}
    assert {"WK990101", "WK990102"} <= areas and not any(
        str(a).startswith("WK0794") for a in areas)
    # the gemeente's total counts its own incidents only (the store holds both)
    store = Store(served["url"])
    try:
        for code in ("GM0794", "GM9901"):
            rows = c.get("/v1/reports/evaluation", headers=_h(served, "analyst"),
                         params={"year": 2016, "gemeente": code}).json()["rows"]
            total = next(r["count"] for r in rows
                         if r["area_code"] == code and r["crime_type"] == "totaal")
            view = for_gemeente(served["areas"], store, code)[1]
            assert total == view.count_incidents(start="2016-01-01", end="2017-01-01") > 0
    finally:
        store.close()


def test_openapi_declares_gemeente_once_everywhere(served):
    doc = served["two"].get("/v1/api", headers=_h(served, "analyst")).json()
    for path, ops in doc["paths"].items():
        for op in ops.values():
            names = [p.get("name") for p in op.get("parameters", [])]
            if ("/items" in path and "{featureId}" not in path) or path.endswith(
                    "/reports/evaluation"):
                assert "gemeente" in names, path


def test_planning_and_backtest_need_a_gemeente_with_several(served):
    c, h = served["two"], _h(served, "analyst")
    r = c.post("/v1/recommendations/alarms", json={"count": 2}, headers=h)
    assert r.status_code == 400 and r.json()["parameter"] == "gemeente"
    r = c.post("/v1/recommendations/alarms", params={"gemeente": "GM0772"}, json={"count": 2},
               headers=h)
    assert r.status_code == 404
    r = c.get("/v1/backtest", params={"crimeType": "woninginbraak", "origins": 2}, headers=h)
    assert r.status_code == 400 and r.json()["parameter"] == "gemeente"
    r = c.post("/v1/recommendations/alarms", params={"gemeente": "GM9901"},
               json={"count": 2}, headers=h)
    assert r.status_code in (200, 202), r.text
    if r.status_code == 202:  # a job: poll it
        import time

        for _ in range(100):
            r = c.get(r.headers["location"], headers=h)
            if r.status_code != 202 and "features" in r.text:
                break
            time.sleep(0.2)
    sites = r.json()["features"]
    from pyproj import Transformer

    to_rd = Transformer.from_crs("OGC:CRS84", "EPSG:28992", always_xy=True)
    assert sites and all(to_rd.transform(*f["geometry"]["coordinates"])[0] > BORDER_X
                         for f in sites)


# --- keys per gemeente -------------------------------------------------------------------------

def test_a_helmond_key_sees_helmond_only(served):
    c = served["two"]
    analyst, police = _h(served, "helmond-analyst"), _h(served, "helmond-police")
    q = {"crimeType": "woninginbraak", "method": "kde", "limit": 5}
    assert c.get("/v1/collections/hotspots/items", headers=analyst,
                 params={**q, "gemeente": "GM0794"}).status_code == 200
    other = c.get("/v1/collections/hotspots/items", headers=analyst,
                  params={**q, "gemeente": "GM9901"})
    missing = c.get("/v1/collections/no-such-layer/items", headers=analyst)
    assert other.status_code == missing.status_code == 404
    assert other.json()["type"] == missing.json()["type"]
    # the unrestricted analyst key sees Buurdorp
    assert c.get("/v1/collections/hotspots/items", headers=_h(served, "analyst"),
                 params={**q, "gemeente": "GM9901"}).status_code == 200
    # police layers likewise: Helmond's incidents, not Buurdorp's
    assert c.get("/v1/collections/incidents/items", headers=police,
                 params={"gemeente": "GM0794", "limit": 1}).status_code == 200
    assert c.get("/v1/collections/incidents/items", headers=police,
                 params={"gemeente": "GM9901", "limit": 1}).status_code == 404
    assert c.get("/v1/collections/incidents/tiles/WebMercatorQuad/12/1362/2113",
                 headers=police, params={"gemeente": "GM9901"}).status_code == 404
    # without gemeente the request covers both gemeenten: the key is as no key
    assert c.get("/v1/collections/incidents/items", headers=police,
                 params={"limit": 1}).status_code == 404
    # planning for Buurdorp: as for a caller without key (404)
    assert c.post("/v1/recommendations/alarms", params={"gemeente": "GM9901"},
                  json={"count": 1}, headers=analyst).status_code == 404


def test_public_layers_stay_public_for_other_gemeenten(served):
    c = served["two"]
    q = {"year": 2016, "crimeType": "woninginbraak", "gemeente": "GM9901"}
    public = c.get("/v1/collections/wijken/items", params=q)
    helmond = c.get("/v1/collections/wijken/items", params=q,
                    headers=_h(served, "helmond-analyst"))
    assert public.status_code == helmond.status_code == 200
    assert helmond.json()["features"] == public.json()["features"]  # the public view
    own = c.get("/v1/collections/wijken/items", headers=_h(served, "helmond-analyst"),
                params={**q, "gemeente": "GM0794", "year": 2016})
    exact = c.get("/v1/collections/wijken/items", headers=_h(served, "analyst"),
                  params={**q, "gemeente": "GM0794"})
    assert own.json()["features"] == exact.json()["features"]  # exact counts for its own
    # reports: the public's report for Buurdorp (buurt level is not public)
    r = c.get("/v1/reports/evaluation", headers=_h(served, "helmond-analyst"),
              params={"year": 2016, "gemeente": "GM9901", "level": "buurt"})
    assert r.status_code == 400 and r.json()["parameter"] == "level"
    r = c.get("/v1/reports/evaluation", headers=_h(served, "helmond-analyst"),
              params={"year": 2016, "gemeente": "GM0794", "level": "buurt"})
    assert r.status_code == 200


def test_a_helmond_key_records_and_changes_helmond_deployments_only(served):
    """Deployments and their effect (routes without a gemeente parameter) are scoped by
    where the deployment lies: Buurdorp's answer as missing ones for a Helmond key."""
    c = served["two"]
    helmond, anyone = _h(served, "helmond-analyst"), _h(served, "analyst")
    areas = served["areas"]
    inside = {g: areas.buurten.loc[areas.buurten["code"].str[2:6] == g[2:]].geometry
              .representative_point().iloc[0] for g in ("GM0794", "GM9901")}

    def body(g: str) -> dict[str, object]:
        return {"kind": "alarm", "x": inside[g].x, "y": inside[g].y, "start": "2016-06-01"}

    own = c.post("/v1/deployments", json=body("GM0794"), headers=helmond)
    assert own.status_code == 201, own.text
    refused = c.post("/v1/deployments", json=body("GM9901"), headers=helmond)
    assert refused.status_code == 400 and "GM0794" in refused.json()["detail"]
    theirs = c.post("/v1/deployments", json=body("GM9901"), headers=anyone)
    assert theirs.status_code == 201
    dep = theirs.json()["deployments"][0]["id"]
    missing = c.patch("/v1/deployments/999999", json={"status": "geannuleerd"},
                      headers=helmond)
    for method in ("patch", "delete"):
        kw = {"json": {"status": "geannuleerd"}} if method == "patch" else {}
        r = getattr(c, method)(f"/v1/deployments/{dep}", headers=helmond, **kw)
        assert r.status_code == 404 and r.json()["type"] == missing.json()["type"]
    r = c.get(f"/v1/deployments/{dep}/effect", headers=helmond)
    assert r.status_code == 404
    mine = own.json()["deployments"][0]["id"]
    ended = c.patch(f"/v1/deployments/{mine}", json={"status": "beëindigd", "at": "2016-07-01"},
                    headers=helmond)
    assert ended.status_code == 200, ended.text
    assert c.patch(f"/v1/deployments/{dep}", json={"status": "beëindigd", "at": "2016-07-01"},
                   headers=anyone).status_code == 200


def test_keys_create_with_gemeente_cli(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from geoveilig.cli import app

    monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    ok = runner.invoke(app, ["keys", "create", "--role", "analyst", "--name", "helmond",
                             "--gemeente", "GM0794"])
    assert ok.exit_code == 0, ok.output
    assert "(rol analyst, alleen GM0794) gemaakt" in " ".join(ok.output.split())
    bad = runner.invoke(app, ["keys", "create", "--role", "analyst", "--name", "x",
                              "--gemeente", "Helmond"])
    assert bad.exit_code == 1 and "geen CBS-gemeentecode" in bad.output
    store = Store(f"sqlite:///{tmp_path / 'data' / 'geoveilig.sqlite'}")
    try:
        from geoveilig.store.keys import list_keys

        keys = list_keys(store)
        assert list(keys["name"]) == ["helmond"] and list(keys["gemeente"]) == ["GM0794"]
    finally:
        store.close()
    listed = runner.invoke(app, ["keys", "list"])
    assert listed.exit_code == 0 and "helmond  (alleen GM0794)" in listed.output


def test_a_job_is_read_only_by_keys_of_its_gemeente(served):
    """``/v1/jobs/{id}`` (status and result) answers 404 to a key of another gemeente, as for
    an unknown job; the identical request for another gemeente is another job."""
    store = Store(served["url"])
    try:
        _rec, buurdorp_key = create_key(store, "buurdorp-analyst", "analyst", "GM9901")
    finally:
        store.close()
    c = served["two"]
    buurdorp = {"Authorization": f"Bearer {buurdorp_key}"}
    helmond = _h(served, "helmond-analyst")
    body = {"count": 3}

    def submit(headers, gemeente):  # type: ignore[no-untyped-def]
        r = c.post("/v1/recommendations/alarms", params={"gemeente": gemeente}, json=body,
                   headers=headers)
        assert r.status_code in (200, 202), r.text
        return r.headers.get("x-job-id") or r.headers["location"].rsplit("/", 1)[-1]

    job = submit(buurdorp, "GM9901")
    status = f"/v1/jobs/{job}"
    import time

    deadline = time.monotonic() + 120  # a loaded CI machine: generous, never a time assertion
    while True:  # until it is done (in process on SQLite, a worker thread on PostGIS)
        r = c.get(status, headers=buurdorp)
        assert r.status_code == 200, r.text
        if r.json()["status"] in ("successful", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.json()["status"] == "successful", r.text
    assert c.get(f"{status}/results", headers=buurdorp).status_code == 200
    unknown = c.get("/v1/jobs/no-such-job", headers=helmond)
    for url in (status, f"{status}/results"):
        r = c.get(url, headers=helmond)
        assert r.status_code == 404 and r.json()["type"] == unknown.json()["type"]
        assert "features" not in r.text
        assert c.get(url).status_code == 404  # nor without key
        assert c.get(url, headers=_h(served, "analyst")).status_code == 200  # a key for all
    helmond_job = submit(helmond, "GM0794")
    assert helmond_job != job
    assert c.get(f"/v1/jobs/{helmond_job}", headers=buurdorp).status_code == 404
    assert c.get(f"/v1/jobs/{helmond_job}", headers=helmond).status_code == 200
