"""The HTTP API: OGC API - Features endpoints, paging, CRS, roles and privacy, audit log,
problem+json, caching, jobs. One small store (every 25th demo incident) for the module."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi import Request, Response
from fastapi.testclient import TestClient
from pyproj import Transformer

from geoveilig.api import create_app
from geoveilig.api.features import CRS84, MAX_LIMIT, RD
from geoveilig.api.jobs import JobResult, run_job
from geoveilig.store import Store, audit_log
from tests.api_support import build_store

GEOJSON = "application/geo+json"
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def setup(tmp_path_factory, shared_geo, areas, demo_incidents):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("api")
    return build_store(tmp, shared_geo, areas, demo_incidents)


@pytest.fixture(scope="module")
def client(setup):  # type: ignore[no-untyped-def]
    settings, _keys = setup
    app = create_app(settings)

    @app.post("/v1/test-jobs/{n}", include_in_schema=False)
    def _job(n: int, request: Request) -> Response:
        def compute(progress):  # type: ignore[no-untyped-def]
            progress(50, "halverwege")
            if n == 0:
                time.sleep(0.6)
            app.state.job_runs = getattr(app.state, "job_runs", 0) + 1
            return {"n": n, "square": n * n}
        return run_job(request, "test", {"n": n}, compute, wait=0.3 if n == 0 else 2.0)

    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def keys(setup):  # type: ignore[no-untyped-def]
    return setup[1]


def auth(keys: dict[str, str], role: str) -> dict[str, str]:
    return {} if role == "public" else {"Authorization": f"Bearer {keys[role]}"}


# --- OGC core -------------------------------------------------------------------------------

def test_landing_page_links_and_headers(client: TestClient) -> None:
    r = client.get("/v1/")
    assert r.status_code == 200
    assert r.headers["API-Version"] == "0.1.0"
    rels = {link["rel"]: link for link in r.json()["links"]}
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert rels["service-desc"]["href"].endswith("/v1/api")
    assert {"service-doc", "conformance", "data", "self"} <= set(rels)
    assert client.get("/v1").status_code == 200
    assert client.get("/health").json()["status"] == "ok"
    api = client.get("/v1/api")
    assert api.headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert client.get("/v1/api.html").status_code == 200


def test_conformance(client: TestClient) -> None:
    classes = client.get("/v1/conformance").json()["conformsTo"]
    for part in ("conf/core", "conf/geojson", "conf/oas30", "ogcapi-features-2/1.0/conf/crs"):
        assert any(c.endswith(part) for c in classes), part


#: public layers of published counts (geoveilig.sources.layers): empty until cbs fetch
PUBLISHED = ("published-wijken", "published-buurten", "perception")


def test_collections_metadata(client: TestClient) -> None:
    body = client.get("/v1/collections").json()
    by_id = {c["id"]: c for c in body["collections"]}
    assert set(by_id) == {"wijken", "buurten", "prevention-coverage", *PUBLISHED,
                         "alerts-buurten"}
    for c in by_id.values():
        assert c["itemType"] == "feature"
        assert c["crs"] == [CRS84, RD]
        assert c["storageCrs"] == RD
        assert c["role"] == "public"
        minx, miny, maxx, maxy = c["extent"]["spatial"]["bbox"][0]
        assert 5.5 < minx < maxx < 5.8 and 51.4 < miny < maxy < 51.55  # Helmond
    lo, hi = by_id["wijken"]["extent"]["temporal"]["interval"][0]
    assert lo.startswith("2012-01") and hi.startswith("2018-03")
    one = client.get("/v1/collections/buurten").json()
    assert one["id"] == "buurten" and any(link["rel"] == "items" for link in one["links"])


def test_synthetic_data_carry_an_attribution(client: TestClient, tmp_path, shared_geo, areas,  # type: ignore[no-untyped-def]
                                             demo_incidents) -> None:
    """A store with synthetic (demo) incidents says so in every collection and tileset, the
    metadata GIS clients show with a layer; a store of real data does not."""
    import hashlib

    from geoveilig.api.ogc import SYNTHETIC_ATTRIBUTION
    from geoveilig.demo import to_csv
    from geoveilig.incidents import parse_incidents
    from geoveilig.settings import Settings

    paths = ("/v1/collections/wijken", "/v1/collections/prevention-coverage",
             "/v1/collections/wijken/tiles/WebMercatorQuad")
    for path in paths:
        assert client.get(path).json()["attribution"] == SYNTHETIC_ATTRIBUTION, path
    assert "synthetische demodata" in SYNTHETIC_ATTRIBUTION
    csv = to_csv(demo_incidents.iloc[::400].reset_index(drop=True), tmp_path / "echt.csv")
    data = csv.read_bytes()
    store = Store.sqlite(tmp_path / "geoveilig.sqlite")
    try:
        store.import_incidents(parse_incidents(data, filename=csv.name, areas=areas),
                               source_name=csv.name,
                               content_sha256=hashlib.sha256(data).hexdigest(), synthetic=False)
    finally:
        store.close()
    real = Settings(data_dir=tmp_path, geo_dir=shared_geo, rate_limit="")
    with TestClient(create_app(real)) as c:
        for path in paths:
            r = c.get(path)
            assert r.status_code == 200 and "attribution" not in r.json(), path


def test_items_paging_follows_next_links_to_the_end(client: TestClient) -> None:
    url = "/v1/collections/buurten/items?limit=10"
    seen: list[str] = []
    matched = None
    pages = 0
    while url:
        r = client.get(url)
        assert r.status_code == 200 and r.headers["content-type"] == GEOJSON
        body = r.json()
        matched = body["numberMatched"]
        assert body["numberReturned"] == len(body["features"]) <= 10
        seen += [f["id"] for f in body["features"]]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0].replace("http://testserver", "") if nxt else None
        pages += 1
    assert matched == 44 and len(seen) == 44 == len(set(seen))
    assert pages == 5  # the last page has no next link
    first = client.get("/v1/collections/buurten/items?limit=10&offset=10").json()
    assert any(link["rel"] == "prev" for link in first["links"])


def test_limit_default_and_clamp(client: TestClient) -> None:
    assert client.get("/v1/collections/buurten/items").json()["numberReturned"] == 44
    r = client.get("/v1/collections/buurten/items?limit=99999999")
    assert r.status_code == 200 and r.json()["numberReturned"] == 44
    doc = client.get("/v1/api").json()
    limit = doc["components"]["parameters"]["limit"]["schema"]
    assert limit["default"] == 100 and limit["maximum"] == MAX_LIMIT >= 1000


def test_crs_output_both_systems(client: TestClient) -> None:
    r84 = client.get("/v1/collections/wijken/items/WK079410")
    rrd = client.get(f"/v1/collections/wijken/items/WK079410?crs={RD}")
    assert r84.headers["Content-Crs"] == f"<{CRS84}>"
    assert rrd.headers["Content-Crs"] == f"<{RD}>"
    lon, lat = r84.json()["geometry"]["coordinates"][0][0]
    x, y = rrd.json()["geometry"]["coordinates"][0][0]
    assert 5 < lon < 6 and 51 < lat < 52  # lon/lat order (CRS84)
    assert 150_000 < x < 200_000 and 370_000 < y < 400_000
    tx, ty = Transformer.from_crs("EPSG:28992", "OGC:CRS84", always_xy=True).transform(x, y)
    assert abs(tx - lon) < 1e-6 and abs(ty - lat) < 1e-6
    assert rrd.json()["properties"] == r84.json()["properties"]


def test_bbox_in_both_crs(client: TestClient) -> None:
    whole = client.get("/v1/collections/buurten/items").json()["numberMatched"]
    rd = client.get(f"/v1/collections/buurten/items?bbox=172000,386000,174000,388000"
                    f"&bbox-crs={RD}").json()
    lonlat = client.get("/v1/collections/buurten/items?bbox=5.64,51.46,5.67,51.48").json()
    assert 0 < rd["numberMatched"] < whole
    assert 0 < lonlat["numberMatched"] < whole
    far = client.get("/v1/collections/buurten/items?bbox=4.0,52.0,4.1,52.1").json()
    assert far["numberMatched"] == 0 and far["features"] == []


def test_datetime_instants_and_intervals(client: TestClient) -> None:
    base = "/v1/collections/wijken/items?period=2017"
    n = client.get(base).json()["numberMatched"]
    assert n > 0
    assert client.get(base + "&datetime=2017-06-01T12:00:00Z").json()["numberMatched"] == n
    assert client.get(base + "&datetime=2016-01-01/2016-12-31").json()["numberMatched"] == 0
    assert client.get(base + "&datetime=../2017-01-01").json()["numberMatched"] == n
    assert client.get(base + "&datetime=2018-01-01T00:00:00Z/..").json()["numberMatched"] == 0


def test_property_filter_and_layer_params(client: TestClient) -> None:
    body = client.get("/v1/collections/buurten/items?wijk_code=WK079410").json()
    assert body["numberMatched"] > 0
    assert {f["properties"]["wijk_code"] for f in body["features"]} == {"WK079410"}
    a = client.get("/v1/collections/wijken/items?crimeType=woninginbraak&year=2017",
                   headers=auth({}, "public")).json()
    props = a["features"][0]["properties"]
    assert props["crime_type"] == "woninginbraak" and props["period"] == "2017"
    assert props["period_start"] == "2017-01-01" and props["period_end"] == "2017-12-31"


def test_counts_match_the_store_and_suppression(client: TestClient, setup, keys) -> None:  # type: ignore[no-untyped-def]
    settings, _ = setup
    store = Store(settings.resolved_database_url())
    try:
        inc = store.incidents(start="2017-01-01", end="2018-01-01",
                              crime_types=["woninginbraak"])
    finally:
        store.close()
    truth = inc.groupby("wijk_code").size()
    url = "/v1/collections/wijken/items?crimeType=woninginbraak&period=2017"
    analyst = client.get(url, headers=auth(keys, "analyst")).json()["features"]
    public = client.get(url).json()["features"]
    got = {f["id"]: f["properties"]["count"] for f in analyst}
    assert got == {k: int(truth.get(k, 0)) for k in got}
    small = [f for f in public if 0 < got[f["id"]] < 5]
    assert small, "the sample must contain a small count to test suppression"
    for f in public:
        p = f["properties"]
        if 0 < got[f["id"]] < 5:
            assert p["count"] is None and p["count_suppressed"] is True
        else:
            assert p["count"] == got[f["id"]] and p["count_suppressed"] is False
    assert all("count_suppressed" not in f["properties"] for f in analyst)


# --- roles and privacy ----------------------------------------------------------------------

ROLE_TABLE = {  # collection: minimum role
    "wijken": "public", "buurten": "public", "prevention-coverage": "public",
    "prevention-groups": "analyst", "incidents": "police", "hotspots": "analyst",
    "deployments": "analyst",
}
RANK = {"public": 0, "analyst": 1, "police": 2}


@pytest.mark.parametrize("role", ["public", "analyst", "police"])
@pytest.mark.parametrize("collection", sorted(ROLE_TABLE))
def test_role_by_collection(client: TestClient, keys, role: str, collection: str) -> None:  # type: ignore[no-untyped-def]
    allowed = RANK[role] >= RANK[ROLE_TABLE[collection]]
    h = auth(keys, role)
    listed = {c["id"] for c in client.get("/v1/collections", headers=h).json()["collections"]}
    meta = client.get(f"/v1/collections/{collection}", headers=h)
    extra = "&crimeType=hic" if collection == "hotspots" else ""
    items = client.get(f"/v1/collections/{collection}/items?limit=3{extra}", headers=h)
    assert (collection in listed) is allowed
    if allowed:
        assert meta.status_code == 200 and meta.json()["role"] == ROLE_TABLE[collection]
        assert items.status_code == 200 and items.json()["numberReturned"] > 0
        fid = items.json()["features"][0]["id"]
        one = client.get(f"/v1/collections/{collection}/items/{fid}?{extra[1:]}", headers=h)
        assert one.status_code == 200 and one.json()["id"] == fid
    else:
        unknown = client.get("/v1/collections/geheim", headers=h).json()
        for r in (meta, items):
            assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
            assert r.json()["detail"] == unknown["detail"].replace("geheim", collection)


def test_incident_points_never_reach_the_public(client: TestClient, keys) -> None:  # type: ignore[no-untyped-def]
    police = client.get("/v1/collections/incidents/items?limit=1",
                        headers=auth(keys, "police")).json()
    real_id = police["features"][0]["id"]
    probes = [
        "/v1/collections/incidents",
        "/v1/collections/incidents/items",
        "/v1/collections/incidents/items?bbox=5.6,51.4,5.8,51.5",
        "/v1/collections/incidents/items?limit=1000&offset=0",
        "/v1/collections/incidents/items?offset=5",
        f"/v1/collections/incidents/items/{real_id}",
        "/v1/collections/incidents/items/DEMO-DOES-NOT-EXIST",
        "/v1/collections/incidents/items?bbox=1,2,3",  # invalid: still 404, not 400
        "/v1/collections/incidents/items?crimeType=onzin&datetime=garbage",
        "/v1/collections/incidents/queryables",
    ]
    bodies = set()
    for url in probes:
        for h in ({}, auth(keys, "analyst")):
            r = client.get(url, headers=h)
            assert r.status_code == 404, url
            assert real_id not in r.text and "coordinates" not in r.text
            bodies.add(r.text)
    assert bodies == {json.dumps({"type": "https://geoveilig.nl/problems/not-found",
                                  "title": "Niet gevonden", "status": 404,
                                  "detail": "onbekende collectie 'incidents'"},
                                 separators=(",", ":"))}
    # an unknown collection answers exactly the same way
    other = client.get("/v1/collections/incidentz/items/x").json()
    assert other["status"] == 404 and other["title"] == "Niet gevonden"
    # no public layer carries incident points or ids
    for cid in ("wijken", "buurten", "prevention-coverage"):
        text = client.get(f"/v1/collections/{cid}/items?limit=1000").text
        assert "DEMO-20" not in text and '"Point"' not in text


def test_police_reads_incidents_with_filters(client: TestClient, keys) -> None:  # type: ignore[no-untyped-def]
    h = auth(keys, "police")
    body = client.get("/v1/collections/incidents/items?crimeType=woninginbraak"
                      "&datetime=2017-01-01/2017-03-31&limit=1000", headers=h).json()
    assert body["numberMatched"] == body["numberReturned"] > 0
    for f in body["features"]:
        assert f["properties"]["crime_type"] == "woninginbraak"
        assert "2017-01-01" <= f["properties"]["occurred_at"][:10] <= "2017-03-31"
        assert f["geometry"]["type"] == "Point"
    rd = client.get(f"/v1/collections/incidents/items?bbox=172000,386000,174000,388000"
                    f"&bbox-crs={RD}&crs={RD}&limit=1000", headers=h).json()
    xy = np.array([f["geometry"]["coordinates"] for f in rd["features"]])
    assert len(xy) > 0
    assert (xy[:, 0] >= 172000).all() and (xy[:, 0] <= 174000).all()
    assert (xy[:, 1] >= 386000).all() and (xy[:, 1] <= 388000).all()


def test_audit_log_records_restricted_access(client: TestClient, setup, keys) -> None:  # type: ignore[no-untyped-def]
    settings, _ = setup
    client.get("/v1/collections/incidents/items?crimeType=overval&limit=5",
               headers={"X-API-Key": keys["police"]})
    client.get("/v1/collections/wijken/items")  # public: not audited
    store = Store(settings.resolved_database_url())
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.id.desc())).all()
    finally:
        store.close()
    last = rows[0]
    assert last.action == "read-items" and last.target == "incidents"
    assert "test-police" in last.actor and last.actor.startswith("key:")
    detail = json.loads(last.detail)
    assert detail["query"] == {"crimeType": "overval", "limit": "5"}
    assert abs(last.at - time.time()) < 60
    assert all(r.target != "wijken" for r in rows)


def test_bad_and_revoked_keys_are_refused(client: TestClient, setup) -> None:  # type: ignore[no-untyped-def]
    from geoveilig.store.keys import create_key, revoke_key

    r = client.get("/v1/collections", headers={"Authorization": "Bearer gv_nope_secret"})
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
    assert client.get("/v1/collections", headers={"Authorization": "Basic abc"}).status_code \
        == 401
    settings, _ = setup
    store = Store(settings.resolved_database_url())
    try:
        record, key = create_key(store, "tijdelijk", "police")
        assert client.get("/v1/collections/incidents", headers={"X-API-Key": key}
                          ).status_code == 200
        revoke_key(store, record.key_id)
        with store.engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT key_hash, salt FROM api_keys "
                                          "WHERE key_id = :k"), {"k": record.key_id}).one()
    finally:
        store.close()
    assert key.split("_", 2)[2] not in stored.key_hash  # only the hash is stored
    # a verified key is remembered for key_ttl (1 s): the first request after that re-checks
    # it, and the revocation holds from then on
    time.sleep(1.05)
    assert client.get("/v1/collections/incidents", headers={"X-API-Key": key}
                      ).status_code == 401
    assert client.get("/v1/collections/incidents/items", headers={"X-API-Key": key}
                      ).status_code == 401


def test_basic_authentication_carries_the_key(client: TestClient, keys) -> None:  # type: ignore[no-untyped-def]
    """QGIS 3.22 cannot send a header of its own, only a Basic authentication configuration:
    the key is the password (any user name), or the user name with an empty password."""
    import base64

    def basic(text: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(text.encode()).decode()}

    for form in (f"qgis:{keys['analyst']}", f"{keys['analyst']}:"):
        r = client.get("/v1/collections", headers=basic(form))
        assert r.status_code == 200, form
        assert "prevention-groups" in {c["id"] for c in r.json()["collections"]}
    # the police key gives the police role, an unknown or empty key is refused (never public)
    police = client.get("/v1/collections/incidents", headers=basic(f"x:{keys['police']}"))
    assert police.status_code == 200
    for bad in (basic("qgis:gv_nope_secret"), basic(":"), {"Authorization": "Basic %%%"}):
        r = client.get("/v1/collections/wijken", headers=bad)
        assert r.status_code == 401 and r.headers["content-type"] == PROBLEM, bad
        assert "wachtwoord" in r.json()["detail"] or "ongeldige" in r.json()["detail"]
    assert client.get("/v1/collections/prevention-groups",
                      headers=basic(f"qgis:{keys['analyst']}")).status_code == 200


def _audit_rows(settings, where) -> int:  # type: ignore[no-untyped-def]
    """The number of audit_log rows matching ``where``, read through a store of its own."""
    store = Store(settings.resolved_database_url())
    try:
        with store.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(audit_log)
                                .where(where)).scalar_one()
    finally:
        store.close()


def test_audit_writes_are_group_committed(client: TestClient, setup, keys) -> None:  # type: ignore[no-untyped-def]
    """Concurrent restricted reads each get their audit row, committed before the answer."""
    import concurrent.futures

    settings, _ = setup
    url = "/v1/collections/incidents/items?crimeType=overval&limit=1&offset={}"
    h = {"X-API-Key": keys["police"]}

    def count() -> int:
        return _audit_rows(settings, audit_log.c.action == "read-items")

    before = count()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: client.get(url.format(i), headers=h).status_code,
                              range(40)))
    assert codes == [200] * 40
    assert count() == before + 40  # every request answered had its row written


# --- errors ---------------------------------------------------------------------------------

BAD = [
    ("/v1/collections/wijken/items?bbox=1,2,3", 400, "bbox"),
    ("/v1/collections/wijken/items?bbox=5,52,4,51", 400, "bbox"),
    ("/v1/collections/wijken/items?bbox=a,b,c,d", 400, "bbox"),
    ("/v1/collections/wijken/items?limit=0", 400, "limit"),
    ("/v1/collections/wijken/items?limit=-5", 400, "limit"),
    ("/v1/collections/wijken/items?limit=tien", 400, "limit"),
    ("/v1/collections/wijken/items?offset=-1", 400, "offset"),
    ("/v1/collections/wijken/items?datetime=garbage", 400, "datetime"),
    ("/v1/collections/wijken/items?datetime=2017-13-45", 400, "datetime"),
    ("/v1/collections/wijken/items?datetime=2018-01-01/2017-01-01", 400, "datetime"),
    ("/v1/collections/wijken/items?crs=EPSG:4326", 400, "crs"),
    ("/v1/collections/wijken/items?bbox-crs=urn:foo", 400, "bbox-crs"),
    ("/v1/collections/wijken/items?crimeType=ruzie", 400, "crimeType"),
    ("/v1/collections/wijken/items?crimeType=", 400, "crimeType"),
    ("/v1/collections/wijken/items?year=17", 400, "year"),
    ("/v1/collections/wijken/items?period=2017-Q7", 400, "period"),
    ("/v1/collections/wijken/items?year=2017&period=2017", 400, "period"),
    ("/v1/collections/wijken/items?colour=red", 400, "colour"),
    ("/v1/collections/wijken/items?limit=1&limit=2", 400, "limit"),
    ("/v1/collections/wijken/items?f=xml", 400, "f"),
    ("/v1/collections/prevention-coverage/items?date=gisteren", 400, "date"),
    ("/v1/collections/wijken/items/WK999999", 404, None),
    ("/v1/collections/onbekend", 404, None),
    ("/v1/collections/onbekend/items", 404, None),
    ("/v1/collections?foo=1", 400, "foo"),
    ("/v1/bestaat-niet", 404, None),
    ("/v1/jobs/onbekend", 404, None),
]


@pytest.mark.parametrize(("url", "status", "parameter"), BAD)
def test_problem_json_for_bad_input(client: TestClient, url: str, status: int,
                                    parameter: str | None) -> None:
    r = client.get(url)
    assert r.status_code == status
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status and body["detail"]
    if parameter:
        assert body.get("parameter") == parameter


def test_method_not_allowed_is_a_problem(client: TestClient) -> None:
    r = client.delete("/v1/collections/wijken")
    assert r.status_code == 405 and r.headers["content-type"] == PROBLEM


# --- caching --------------------------------------------------------------------------------

def test_etag_and_304(client: TestClient, keys) -> None:  # type: ignore[no-untyped-def]
    url = f"/v1/collections/buurten/items?crs={RD}"
    r = client.get(url)
    tag = r.headers["ETag"]
    again = client.get(url, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert client.get(url + "&limit=5", headers={"If-None-Match": tag}).status_code == 200
    # the role is part of the tag (suppressed vs unsuppressed counts)
    other = client.get(url, headers={**auth(keys, "analyst"), "If-None-Match": tag})
    assert other.status_code == 200


def test_gzip_when_accepted(client: TestClient) -> None:
    """Layers go out gzipped to clients that accept it (browsers, GDAL, QGIS), with their own
    ETag and ``Vary: Accept-Encoding``; either tag answers 304; ``gzip;q=0`` and ``identity``
    get the plain body."""
    url = "/v1/collections/buurten/items"
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["vary"]
    zipped = client.get(url, headers={"Accept-Encoding": "br, gzip;q=0.8"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == plain.content  # httpx decodes it
    assert int(zipped.headers["content-length"]) < len(plain.content) / 3
    assert zipped.headers["etag"] != plain.headers["etag"]
    for tag in (plain.headers["etag"], zipped.headers["etag"], f'W/{zipped.headers["etag"]}'):
        r = client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": tag})
        assert r.status_code == 304, tag
    refused = client.get(url, headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers


def test_cached_pages_keep_roles_and_audit(client: TestClient, setup, keys) -> None:  # type: ignore[no-untyped-def]
    """A page answered from the response cache (before the routing) is still audited on every
    read, and never reaches a role that may not see it: the public gets the same 404 as for
    an unknown collection, a wrong key a 401."""
    settings, _ = setup
    url = "/v1/collections/incidents/items?crimeType=overval&limit=7"
    police = {"X-API-Key": keys["police"]}

    def audited() -> int:
        return _audit_rows(settings, audit_log.c.detail.contains('"limit": "7"'))

    first = client.get(url, headers=police)
    again = client.get(url, headers=police)
    assert first.status_code == again.status_code == 200 and first.content == again.content
    assert audited() == 2
    public = client.get(url)
    unknown = client.get("/v1/collections/bestaatniet/items?crimeType=overval&limit=7")
    assert public.status_code == unknown.status_code == 404
    assert public.json()["detail"].replace("incidents", "X") == \
        unknown.json()["detail"].replace("bestaatniet", "X")
    analyst = client.get(url, headers={"X-API-Key": keys["analyst"]})
    assert analyst.status_code == 404
    wrong = client.get(url, headers={"X-API-Key": keys["police"] + "x"})
    assert wrong.status_code == 401 and wrong.headers["content-type"] == PROBLEM
    assert audited() == 2  # refused reads read nothing


def test_accepts_gzip() -> None:
    from geoveilig.api.features import accepts_gzip

    assert accepts_gzip("gzip") and accepts_gzip("deflate, gzip;q=1.0, *;q=0.5")
    assert accepts_gzip("*") and accepts_gzip("GZIP")
    assert not accepts_gzip(None) and not accepts_gzip("") and not accepts_gzip("br")
    assert not accepts_gzip("gzip;q=0") and not accepts_gzip("gzip;q=abc")


def test_cache_follows_the_data_version(setup, areas) -> None:  # type: ignore[no-untyped-def]
    """After an import the layer is rebuilt (the data version is part of the key)."""
    from geoveilig.incidents import parse_incidents

    settings, keys = setup
    url = "/v1/collections/wijken/items?crimeType=overval&period=2019&limit=100"
    police = auth(keys, "police")  # exact counts (the public's are perturbed)
    with TestClient(create_app(settings)) as c:
        c.app.state.services.version_ttl = 0  # re-read the data version on every request
        before = c.get(url, headers=police)
        total = sum(f["properties"]["count"] or 0 for f in before.json()["features"])
        assert total == 0
        csv = ("registratienummer,misdrijf,datum,x,y\n"
               + "".join(f"EXTRA-{i},overval,2019-05-0{i + 1} 12:00,172500,387500\n"
                         for i in range(6))).encode()
        parsed = parse_incidents(csv, filename="extra.csv", areas=areas)
        store = Store(settings.resolved_database_url())
        try:
            store.import_incidents(parsed, source_name="extra.csv", content_sha256="x" * 64)
        finally:
            store.close()
        after = c.get(url, headers={"If-None-Match": before.headers["ETag"], **police})
        assert after.status_code == 200
        assert sum(f["properties"]["count"] or 0 for f in after.json()["features"]) == 6


def test_cors_is_explicit(client: TestClient) -> None:
    r = client.options("/v1/collections", headers={
        "Origin": "https://kaart.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "Authorization"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in r.headers
    r = client.get("/v1/collections", headers={"Origin": "https://kaart.example"})
    assert "ETag" in r.headers.get("access-control-expose-headers", "") or \
        "etag" in r.headers.get("access-control-expose-headers", "").lower()


# --- jobs -----------------------------------------------------------------------------------

def test_jobs_cache_identical_requests_and_report_status(client: TestClient) -> None:
    fast = client.post("/v1/test-jobs/7")
    assert fast.status_code == 200 and fast.json() == {"n": 7, "square": 49}
    runs = client.app.state.job_runs
    again = client.post("/v1/test-jobs/7")
    assert again.json() == {"n": 7, "square": 49} and client.app.state.job_runs == runs
    slow = client.post("/v1/test-jobs/0")
    assert slow.status_code == 202
    location = slow.headers["Location"].replace("http://testserver", "")
    assert slow.json()["status"] in ("accepted", "running")
    for _ in range(50):
        status = client.get(location).json()
        if status["status"] == "successful":
            break
        time.sleep(0.05)
    assert status["status"] == "successful" and status["progress"] == 100
    results = next(link for link in status["links"] if link["rel"] == "results")
    assert client.get(results["href"].replace("http://testserver", "")).json()["n"] == 0


def test_job_result_type() -> None:
    assert JobResult(b"x").media_type == "application/json"


# --- OpenAPI --------------------------------------------------------------------------------

def test_openapi_documents_every_route_and_error(client: TestClient, keys) -> None:  # type: ignore[no-untyped-def]
    doc = client.get("/v1/api", headers=auth(keys, "police")).json()
    assert doc["openapi"].startswith("3.0")
    paths = doc["paths"]
    for cid in ROLE_TABLE:
        items = paths[f"/v1/collections/{cid}/items"]["get"]
        assert {"200", "400", "404"} <= set(items["responses"])
        names = {p.get("name") or p["$ref"].rsplit("/", 1)[1] for p in items["parameters"]}
        assert {"bbox", "bbox-crs", "datetime", "limit", "crs"} <= names
    wijken = paths["/v1/collections/wijken/items"]["get"]["parameters"]
    assert {"crimeType", "year", "period"} <= {p.get("name") for p in wijken}
    assert "/v1/jobs/{jobId}" in paths


def test_keys_cli(tmp_path: Path, shared_geo: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from geoveilig.cli import app

    monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GEOVEILIG_GEO_DIR", str(shared_geo))
    runner = CliRunner()
    made = runner.invoke(app, ["keys", "create", "--role", "analyst", "--name", "GIS-team"])
    assert made.exit_code == 0, made.output
    key = made.output.strip().splitlines()[-1]
    assert key.startswith("gv_")
    key_id = key.split("_")[1]
    listed = runner.invoke(app, ["keys", "list"])
    assert key_id in listed.output and "actief" in listed.output and key not in listed.output
    bad = runner.invoke(app, ["keys", "create", "--role", "admin", "--name", "x"])
    assert bad.exit_code == 1
    gone = runner.invoke(app, ["keys", "revoke", key_id])
    assert gone.exit_code == 0 and "ingetrokken" in gone.output
    assert "ingetrokken" in runner.invoke(app, ["keys", "list"]).output
    assert runner.invoke(app, ["keys", "revoke", "onbekend"]).exit_code == 1


# --- planning endpoints (the hook placement plugs into) ---------------------------------------

def test_planning_endpoint_runs_cached_jobs(setup, keys) -> None:  # type: ignore[no-untyped-def]
    import geopandas as gpd
    import shapely
    from pydantic import BaseModel, Field

    from geoveilig.api.planning import Planner, register_planner, unregister_planner

    class Req(BaseModel):
        count: int = Field(ge=1, le=10)

    calls: list[int] = []

    def compute(ctx, req, progress):  # type: ignore[no-untyped-def]
        calls.append(req.count)
        progress(50, "rekenen")
        b = ctx.areas.buurten.iloc[: req.count]
        return gpd.GeoDataFrame({"buurt": b["code"].to_numpy(),
                                 "explanation": ["dicht bij inbraken"] * req.count},
                                geometry=shapely.centroid(b.geometry.to_numpy()),
                                crs="EPSG:28992")

    register_planner(Planner(kind="test-alarms", title="Testadvies", compute=compute,
                             request_model=Req, role="analyst"))
    try:
        settings, _ = setup
        with TestClient(create_app(settings)) as c:
            h = auth(keys, "analyst")
            r = c.post("/v1/recommendations/test-alarms", json={"count": 3}, headers=h)
            assert r.status_code == 200 and r.headers["content-type"] == GEOJSON
            feats = r.json()["features"]
            assert len(feats) == 3 and feats[0]["properties"]["explanation"]
            lon, lat = feats[0]["geometry"]["coordinates"]
            assert 5 < lon < 6 and 51 < lat < 52
            again = c.post("/v1/recommendations/test-alarms", json={"count": 3}, headers=h)
            assert again.json() == r.json() and calls == [3]  # cached
            bad = c.post("/v1/recommendations/test-alarms", json={"count": 0}, headers=h)
            assert bad.status_code == 400 and bad.headers["content-type"] == PROBLEM
            assert c.post("/v1/recommendations/test-alarms", content=b"{",
                          headers=h).status_code == 400
            # the public cannot tell it exists
            pub = c.post("/v1/recommendations/test-alarms", json={"count": 3})
            unknown = c.post("/v1/recommendations/onbekend", json={"count": 3})
            assert pub.status_code == unknown.status_code == 404
            doc = c.get("/v1/api", headers=h).json()
            assert "/v1/recommendations/test-alarms" in doc["paths"]
            assert "/v1/recommendations/test-alarms" not in c.get("/v1/api").json()["paths"]
    finally:
        unregister_planner("test-alarms")


def test_hotspots_and_deployments_layers(client: TestClient, keys) -> None:  # type: ignore[no-untyped-def]
    h = auth(keys, "analyst")
    body = client.get("/v1/collections/hotspots/items?crimeType=hic&method=kde&window=1m"
                      "&limit=10000", headers=h).json()
    assert body["numberMatched"] == body["numberReturned"] > 1000  # 125 m cells over Helmond
    props = body["features"][0]["properties"]
    assert body["parameters"]["method"] == "kde" and body["parameters"]["window"] == "30d"
    assert "method" not in props  # said once per response, not per cell
    assert set(props) == {"cell_id", "buurt_code", "wijk_code", "share_in_area", "risk", "rank",
                          "percentile", "gi_z", "gi_p", "gi_q", "gi_class", "gi_label",
                          "gi_empty", "risk_class"}
    assert body["parameters"]["origin"] < body["parameters"]["window_end"]
    # map classes over the cells at risk (layers.risk_classes), their edges said once
    breaks = body["parameters"]["risk_breaks"]
    assert len(breaks) >= 3 and breaks == sorted(breaks)
    classes = {f["properties"]["risk_class"] for f in body["features"]}
    assert classes <= set(range(len(breaks))) and len(classes - {0}) >= 3
    for f in body["features"]:
        risk, cls = f["properties"]["risk"], f["properties"]["risk_class"]
        tol = 1e-9  # the features print risk with 10 decimals, the edges in full
        if cls:  # at risk: within the edges (KDE's negligible tails are class 0)
            assert breaks[0] - tol <= risk <= breaks[-1] + tol
        else:
            assert risk <= breaks[0] + tol
    assert 0 <= props["percentile"] <= 100 and "gi_class" in props
    hot = client.get("/v1/collections/hotspots/items?crimeType=hic&method=kde&window=1m"
                     "&gi_class=not-significant&limit=1", headers=h).json()
    assert 0 < hot["numberMatched"] <= body["numberMatched"]
    for bad in ("method=magie", "window=0d", "window=9999d", "origin=gisteren",
                "crimeType=ruzie"):
        r = client.get(f"/v1/collections/hotspots/items?{bad}", headers=h)
        assert r.status_code == 400 and r.headers["content-type"] == PROBLEM, bad
    dep = client.get("/v1/collections/deployments/items?datetime=2017-01-01/2017-12-31",
                     headers=h).json()
    assert dep["numberMatched"] > 0
    kinds = {f["properties"]["kind"] for f in dep["features"]}
    assert kinds and all(f["geometry"]["type"] == "Point" for f in dep["features"])


def test_planning_refuses_z_score_methods(client: TestClient, keys) -> None:  # type: ignore[no-untyped-def]
    h = auth(keys, "analyst")
    for kind in ("alarms", "cameras"):
        r = client.post(f"/v1/recommendations/{kind}", json={"count": 2, "method": "gistar"},
                        headers=h)
        assert r.status_code == 400 and r.headers["content-type"] == PROBLEM
        assert "z-scores" in r.json()["detail"]
