"""OGC API - Tiles: tile matrix sets, tilesets, Mapbox Vector Tiles with the same features,
properties, roles and suppression as the OGC API - Features items, on both store backends
(PostGIS encodes the incident tiles with ST_AsMVT); bad tile addresses; ETag, 304 and the
tile cache; the audit log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import mapbox_vector_tile
import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from geoveilig import tiles as core
from geoveilig.api import create_app
from geoveilig.store import Store, audit_log
from tests.api_support import build_store
from tests.conftest import BACKENDS

MVT = "application/vnd.mapbox-vector-tile"
PROBLEM = "application/problem+json"
TILED = ("wijken", "buurten", "hotspots", "prevention-coverage", "incidents")
ID = {"wijken": "code", "buurten": "code", "hotspots": "cell_id",
      "prevention-coverage": "code", "incidents": "incident_id"}
ROLE = {"wijken": "public", "buurten": "public", "hotspots": "analyst",
        "prevention-coverage": "public", "incidents": "police"}
RANK = {"public": 0, "analyst": 1, "police": 2}
#: zoom levels whose tiles cover Helmond in a handful of tiles
ZOOM = {"WebMercatorQuad": 12, "NetherlandsRDNewQuad": 8}


@pytest.fixture(scope="module", params=BACKENDS)
def setup(request, tmp_path_factory, shared_geo, areas, demo_incidents):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp(f"tiles_{request.param}")
    url = None
    if request.param == "postgis":
        server = request.getfixturevalue("postgres_server")
        url = server.create()
    settings, keys = build_store(tmp, shared_geo, areas, demo_incidents, url=url)
    yield request.param, settings, keys
    if url is not None:
        server.drop(url)


@pytest.fixture(scope="module")
def client(setup) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(setup[1])) as c:
        yield c


@pytest.fixture(scope="module")
def keys(setup) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return setup[2]


def auth(keys: dict[str, str], role: str) -> dict[str, str]:
    return {} if role == "public" else {"X-API-Key": keys[role]}


def decode(body: bytes) -> dict[str, Any]:
    return mapbox_vector_tile.decode(body) if body else {}


def tile_features(client: TestClient, layer: str, tms: str, headers: dict[str, str]
                  ) -> tuple[list[dict[str, Any]], int]:
    """Every feature of every tile that the tileset's limits give at ``ZOOM[tms]``."""
    meta = client.get(f"/v1/collections/{layer}/tiles/{tms}", headers=headers)
    assert meta.status_code == 200, meta.text
    limits = {m["tileMatrix"]: m for m in meta.json()["tileMatrixSetLimits"]}
    lim = limits[str(ZOOM[tms])]
    feats, tiles = [], 0
    for row in range(lim["minTileRow"], lim["maxTileRow"] + 1):
        for col in range(lim["minTileCol"], lim["maxTileCol"] + 1):
            r = client.get(f"/v1/collections/{layer}/tiles/{tms}/{ZOOM[tms]}/{row}/{col}",
                           headers=headers)
            assert r.status_code == 200, r.text
            assert r.headers["content-type"] == MVT
            layers = decode(r.content)
            assert set(layers) <= {layer}
            if layers:
                tiles += 1
                assert layers[layer]["extent"] == core.EXTENT
                feats += layers[layer]["features"]
    return feats, tiles


def items(client: TestClient, layer: str, headers: dict[str, str]) -> dict[str, dict]:
    r = client.get(f"/v1/collections/{layer}/items?limit=10000", headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["numberReturned"] == body["numberMatched"]
    return {str(f["properties"][ID[layer]]): f["properties"] for f in body["features"]}


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal properties (a null is a missing MVT property; floats to 1e-9)."""
    b = {k: v for k, v in b.items() if v is not None}
    if set(a) != set(b):
        return False
    for k, v in a.items():
        w = b[k]
        if isinstance(v, float) or isinstance(w, float):
            if not np.isclose(float(v), float(w), rtol=1e-9, atol=0):
                return False
        elif v != w:
            return False
    return True


# --- metadata -------------------------------------------------------------------------------

def test_tile_matrix_sets(client: TestClient) -> None:
    r = client.get("/v1/tileMatrixSets")
    assert r.status_code == 200
    ids = {t["id"] for t in r.json()["tileMatrixSets"]}
    assert ids == {"WebMercatorQuad", "NetherlandsRDNewQuad"}
    rd = client.get("/v1/tileMatrixSets/NetherlandsRDNewQuad").json()
    assert rd["crs"].endswith("EPSG/0/28992")
    level0, level12 = rd["tileMatrices"][0], rd["tileMatrices"][12]
    assert level0["pointOfOrigin"] == [-285401.92, 903401.92]
    assert level0["cellSize"] == pytest.approx(3440.64)
    assert level12["cellSize"] == pytest.approx(0.84)
    assert level0["matrixWidth"] == 1 and level12["matrixWidth"] == 4096
    wm = client.get("/v1/tileMatrixSets/WebMercatorQuad").json()
    assert wm["crs"].endswith("EPSG/0/3857")
    missing = client.get("/v1/tileMatrixSets/GoogleQuad")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM


def test_conformance_and_links(client: TestClient, keys) -> None:  # type: ignore[no-untyped-def]
    conf = client.get("/v1/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt" in conf
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conf
    landing = client.get("/v1/").json()["links"]
    assert any(link["href"].endswith("/v1/tileMatrixSets") for link in landing)
    for layer in ("wijken", "prevention-groups"):
        links = client.get(f"/v1/collections/{layer}", headers=auth(keys, "police")).json()
        tiled = [x for x in links["links"] if x["rel"].endswith("tilesets-vector")]
        assert (len(tiled) == 1) == (layer in TILED)
    sets = client.get("/v1/collections/buurten/tiles").json()["tilesets"]
    assert {s["links"][0]["href"].rsplit("/", 1)[1] for s in sets} == set(core.TILE_MATRIX_SETS)
    item = next(x for x in sets[0]["links"] if x["rel"] == "item")
    assert item["templated"] and item["type"] == MVT
    assert item["href"].endswith("/{tileMatrix}/{tileRow}/{tileCol}")
    # layer parameters travel into the templates
    sets = client.get("/v1/collections/wijken/tiles?year=2016").json()["tilesets"]
    assert all(s["links"][-1]["href"].endswith("?year=2016") for s in sets)
    # the OpenAPI document describes the tile paths
    # (per role: the incident tiles are in the police's document only)
    tile = "/v1/collections/{c}/tiles/{{tileMatrixSetId}}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"
    paths = client.get("/v1/api", headers=auth(keys, "police")).json()["paths"]
    assert tile.format(c="incidents") in paths and "/v1/tileMatrixSets" in paths
    assert "/v1/collections/deployments/tiles" not in paths
    public = client.get("/v1/api").json()["paths"]
    assert tile.format(c="buurten") in public and tile.format(c="incidents") not in public


# --- content per role -------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["public", "analyst", "police"])
@pytest.mark.parametrize("layer", TILED)
def test_tiles_hold_what_the_features_hold(client: TestClient, keys, role: str,  # type: ignore[no-untyped-def]
                                           layer: str) -> None:
    headers = auth(keys, role)
    if RANK[role] < RANK[ROLE[layer]]:
        # restricted: exactly the answer for an unknown collection, whatever follows
        unknown = client.get("/v1/collections/nope/tiles/WebMercatorQuad/12/1362/2112",
                             headers=headers)
        for path in ("/tiles", "/tiles/WebMercatorQuad", "/tiles/WebMercatorQuad/12/1362/2112",
                     "/tiles/WebMercatorQuad/x/y/z", "/tiles/Nope/99/0/0?bad=1"):
            r = client.get(f"/v1/collections/{layer}{path}", headers=headers)
            assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
            assert r.json()["title"] == unknown.json()["title"]
            assert layer in r.json()["detail"] and "onbekende collectie" in r.json()["detail"]
        return
    if layer == "hotspots" and role == "police":
        # the same (unsuppressed) layer as the analyst's: the same tile bytes (checked in
        # full for the analyst; a hotspot tile takes a while to encode)
        url = "/v1/collections/hotspots/tiles/WebMercatorQuad/14/5450/8449"
        mine = client.get(url, headers=headers)
        theirs = client.get(url, headers=auth(keys, "analyst"))
        assert mine.status_code == theirs.status_code == 200
        assert mine.content == theirs.content and len(decode(mine.content)["hotspots"][
            "features"]) > 50
        return
    expected = items(client, layer, headers)
    assert expected, layer
    for tms in core.TILE_MATRIX_SETS:
        feats, tiles = tile_features(client, layer, tms, headers)
        assert tiles >= 2, (layer, tms)  # the layer spans several tiles at this zoom
        seen: dict[str, dict] = {}
        for f in feats:
            props = f["properties"]
            key = str(props[ID[layer]])
            assert key in expected, (layer, key)
            assert same(props, expected[key]), (layer, props, expected[key])
            seen[key] = props
        assert set(seen) == set(expected), (layer, tms, len(seen), len(expected))
        geom = {f["geometry"]["type"] for f in feats}
        assert geom <= ({"Point"} if layer == "incidents" else {"Polygon", "MultiPolygon"})
    if layer in ("wijken", "buurten") and role == "public":
        # small counts suppressed in the tiles exactly as in the items
        hidden = [p for p in expected.values() if p["count_suppressed"]]
        assert hidden and all(p["count"] is None for p in hidden)


def test_incident_tiles_come_from_the_database_on_postgis(client: TestClient, keys, setup  # type: ignore[no-untyped-def]
                                                          ) -> None:
    backend, _settings, _ = setup
    police = auth(keys, "police")
    r = client.get("/v1/collections/incidents/tiles/NetherlandsRDNewQuad/8/150/132?"
                   "crimeType=woninginbraak", headers=police)
    assert r.status_code == 200
    state = client.app.state.services
    built = [k for k in state.tile_sources._items if k[0] == "incidents"]
    store = state.store
    assert store.spatial == (backend == "postgis")
    if backend != "postgis":
        return
    # on PostGIS the layer is never built in Python for tiles ...
    assert not [k for k in built if "woninginbraak" in repr(k)]
    # ... and ST_AsMVT gives the same features and properties as the Python encoder
    from geoveilig.layers import LayerContext, get_layer

    layer = get_layer("incidents")
    frame = layer.build(LayerContext(state.areas, store), {"crimeType": ("woninginbraak",)},
                        "police")
    source = core.TileSource.from_frame("incidents", frame)
    for tms in core.TILE_MATRIX_SETS:
        z = ZOOM[tms]
        lim = core.tile_limits(tms, state.areas.gemeente.total_bounds)[z]
        total = 0
        for row in range(lim["minTileRow"], lim["maxTileRow"] + 1):
            for col in range(lim["minTileCol"], lim["maxTileCol"] + 1):
                address = core.parse_tile(tms, str(z), str(row), str(col))
                with store.engine.connect() as conn:
                    db = decode(core.postgis_incident_tile(conn, address, "incidents",
                                                           ("woninginbraak",)))
                py = decode(source.tile(address))
                a = sorted((json.dumps(f["properties"], sort_keys=True),
                            tuple(f["geometry"]["coordinates"]))
                           for f in db.get("incidents", {"features": []})["features"])
                b = sorted((json.dumps(f["properties"], sort_keys=True),
                            tuple(f["geometry"]["coordinates"]))
                           for f in py.get("incidents", {"features": []})["features"])
                assert [p for p, _ in a] == [p for p, _ in b]
                for (_, ca), (_, cb) in zip(a, b, strict=True):
                    assert abs(ca[0] - cb[0]) <= 1 and abs(ca[1] - cb[1]) <= 1
                total += len(a)
        assert total == len(frame)


# --- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "status"), [
    ("wijken/tiles/WebMercatorQuad/a/0/0", 400),
    ("wijken/tiles/WebMercatorQuad/12/-1/0", 400),
    ("wijken/tiles/WebMercatorQuad/12/1.5/0", 400),
    ("wijken/tiles/WebMercatorQuad/12/0/99999999999999999999", 400),
    ("wijken/tiles/WebMercatorQuad/12/%20/0", 400),
    ("wijken/tiles/WebMercatorQuad/21/0/0", 404),
    ("wijken/tiles/WebMercatorQuad/2/4/0", 404),
    ("wijken/tiles/WebMercatorQuad/2/0/4", 404),
    ("wijken/tiles/NetherlandsRDNewQuad/15/0/0", 404),
    ("wijken/tiles/NetherlandsRDNewQuad/0/1/0", 404),
    ("wijken/tiles/GoogleQuad/0/0/0", 404),
    ("wijken/tiles/GoogleQuad", 404),
    ("nope/tiles/WebMercatorQuad/0/0/0", 404),
    ("prevention-groups/tiles/WebMercatorQuad/0/0/0", 404),
    ("wijken/tiles/WebMercatorQuad/12/1362/2112?foo=1", 400),
    ("wijken/tiles/WebMercatorQuad/12/1362/2112?f=png", 400),
    ("wijken/tiles/WebMercatorQuad/12/1362/2112?year=20x7", 400),
    ("wijken/tiles/WebMercatorQuad/12/1362/2112?crimeType=nonsense", 400),
    ("wijken/tiles/WebMercatorQuad?period=2017-13", 400),
    ("wijken/tiles?limit=1", 400),
    ("wijken/tiles?f=mvt", 400),
    ("wijken/tiles/WebMercatorQuad/12/1362/2112?f=json", 400),
])
def test_bad_tile_requests_are_problems(client: TestClient, path: str, status: int) -> None:
    r = client.get(f"/v1/collections/{path}")
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["status"] == status and body["detail"]


# --- caching and audit ---------------------------------------------------------------------------

def test_etag_304_gzip_and_the_tile_cache(client: TestClient, setup) -> None:  # type: ignore[no-untyped-def]
    url = "/v1/collections/buurten/tiles/WebMercatorQuad/13/2724/4224"
    first = client.get(url, headers={"Accept-Encoding": "identity"})
    assert first.status_code == 200 and first.content
    tag = first.headers["etag"]
    assert first.headers["cache-control"] == "no-cache"
    cache = client.app.state.services.tile_cache
    before = len(cache._items)
    again = client.get(url, headers={"Accept-Encoding": "identity"})
    assert again.content == first.content and again.headers["etag"] == tag
    assert len(cache._items) == before  # served from the cache, not added again
    assert client.get(url, headers={"If-None-Match": tag}).status_code == 304
    zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers.get("content-encoding") == "gzip"
    assert zipped.content == first.content  # httpx decompresses
    assert client.get(url, headers={"If-None-Match": zipped.headers["etag"]}).status_code == 304
    # other parameters: another tile, another tag
    other = client.get(url + "?crimeType=woninginbraak")
    assert other.status_code == 200 and other.headers["etag"] != tag
    # a change of data the layer does not depend on (a new deployment: buurten counts
    # incidents) leaves the tile cached; a new import changes it (tests/test_api_services.py)
    from geoveilig.demo.deployments import demo_deployments
    from geoveilig.store.deployments import add_deployments

    client.app.state.services.version_ttl = 0.0
    try:
        svc = client.app.state.services
        add_deployments(svc.store, demo_deployments(svc.areas)[:1])
        unchanged = client.get(url, headers={"Accept-Encoding": "identity"})
        assert unchanged.status_code == 200 and unchanged.headers["etag"] == tag
        assert client.get(url, headers={"If-None-Match": tag}).status_code == 304
    finally:
        client.app.state.services.version_ttl = 1.0


def test_restricted_tiles_are_audited_cached_or_not(client: TestClient, keys) -> None:  # type: ignore[no-untyped-def]
    store: Store = client.app.state.services.store
    url = "/v1/collections/incidents/tiles/NetherlandsRDNewQuad/8/150/131"

    def rows() -> int:
        with store.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(audit_log).where(
                audit_log.c.action == "read-tile")).scalar_one())

    n = rows()
    for _ in range(3):
        r = client.get(url, headers=auth(keys, "police"))
        assert r.status_code == 200
        assert r.headers["cache-control"] == "private, no-cache"
    assert rows() == n + 3
    # the public never gets a police tile from the cache
    r = client.get(url)
    assert r.status_code == 404
    assert rows() == n + 3


def test_empty_tile_is_an_empty_mvt(client: TestClient) -> None:
    r = client.get("/v1/collections/wijken/tiles/WebMercatorQuad/3/0/0")
    assert r.status_code == 200 and r.content == b"" and r.headers["content-type"] == MVT


# --- the cached fast path answers as the route -------------------------------------------------

def _answer(client: TestClient, url: str, headers: dict[str, str]
            ) -> tuple[int, dict[str, str], bytes]:
    r = client.get(url, headers=headers)
    return r.status_code, dict(r.headers), r.content


@pytest.mark.parametrize("role", ["public", "analyst", "police"])
def test_a_cached_tile_answers_exactly_as_the_route(client: TestClient, keys, role: str  # type: ignore[no-untyped-def]
                                                    ) -> None:
    """The first request of a tile goes through the route (and fills the cache), the next
    ones are answered before the routing (``CachedTiles``): status, every header (ETag,
    Cache-Control, Vary, Content-Type/-Length/-Encoding, API-Version, CORS) and body are the
    same, identity, gzip, with an Origin and revalidated (304, either ETag)."""
    layer = {"public": "buurten", "analyst": "hotspots", "police": "incidents"}[role]
    url = f"/v1/collections/{layer}/tiles/WebMercatorQuad/13/2724/4224?crimeType=inbraak"
    cache = client.app.state.services.tile_cache
    who = auth(keys, role)
    variants = [{"Accept-Encoding": "identity"}, {"Accept-Encoding": "gzip"},
                {"Accept-Encoding": "gzip", "Origin": "https://kaart.example"}]
    for extra in variants:
        cache.clear()
        routed = _answer(client, url, {**who, **extra})
        assert routed[0] == 200 and len(cache._items) == 1
        for _ in range(2):
            assert _answer(client, url, {**who, **extra}) == routed
        assert ("access-control-allow-origin" in routed[1]) == ("Origin" in extra)
        assert routed[1]["api-version"] and routed[1]["vary"].startswith("Accept-Encoding")
        tag = routed[1]["etag"]
        cache.clear()
        fresh = _answer(client, url, {**who, **extra, "If-None-Match": tag})
        cached = _answer(client, url, {**who, **extra, "If-None-Match": f"W/{tag}"})
        assert fresh[0] == cached[0] == 304 and fresh[2] == cached[2] == b""
        assert fresh[1] == cached[1] and fresh[1]["etag"] == tag
    # a gzip ETag revalidates the identity answer too (either encoding's tag matches)
    zipped = _answer(client, url, {**who, "Accept-Encoding": "gzip"})[1]
    if role == "public":  # the buurten tile is large enough to be compressed
        assert zipped.get("content-encoding") == "gzip"
    zipped = zipped["etag"]
    assert _answer(client, url, {**who, "Accept-Encoding": "identity",
                                 "If-None-Match": zipped})[0] == 304


def test_cached_restricted_tiles_still_decide_access(client: TestClient, keys) -> None:  # type: ignore[no-untyped-def]
    """With the police tile in the cache: the public and the analyst get the 404 of an unknown
    collection, a wrong key 401, a malformed Authorization 401; a police key sent as Bearer
    or as HTTP Basic (the key checked through the route's path) gets the tile, audited."""
    import base64

    store: Store = client.app.state.services.store
    url = "/v1/collections/incidents/tiles/WebMercatorQuad/13/2724/4224"

    def rows() -> int:
        with store.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(audit_log).where(
                audit_log.c.action == "read-tile")).scalar_one())

    first = client.get(url, headers=auth(keys, "police"))
    assert first.status_code == 200
    n = rows()
    basic = base64.b64encode(f"qgis:{keys['police']}".encode()).decode()
    for headers, status in [
            ({}, 404), ({"X-API-Key": keys["analyst"]}, 404),
            ({"Authorization": f"Bearer {keys['analyst']}"}, 404),
            ({"X-API-Key": keys["police"] + "x"}, 401),
            ({"Authorization": "Token abc"}, 401),
            ({"Authorization": f"Bearer {keys['police']}"}, 200),
            ({"Authorization": f"Basic {basic}"}, 200)]:
        r = client.get(url, headers=headers)
        assert r.status_code == status, (headers, r.text)
        if status == 200:
            assert r.content == first.content
        else:
            assert r.headers["content-type"] == PROBLEM
    assert rows() == n + 2  # the two reads answered, nothing for the refused ones


def test_cached_tiles_count_against_the_rate_limit(setup) -> None:  # type: ignore[no-untyped-def]
    """A tile answered from the cache still passes the rate limit first (429 over it)."""
    settings = setup[1].model_copy(update={"rate_limit": "3/minute"})
    url = "/v1/collections/wijken/tiles/WebMercatorQuad/13/2724/4224"
    with TestClient(create_app(settings)) as c:
        codes = [c.get(url).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_audit_rows_of_a_stopped_loop_are_not_held_back(setup) -> None:  # type: ignore[no-untyped-def]
    """The audit writer is woken once per event loop iteration; a loop that stopped before
    its wake-up ran does not keep the next writes (from another loop) waiting."""
    import asyncio

    from geoveilig.api.auth import AuditWriter

    store = Store(setup[1].resolved_database_url())
    writer = AuditWriter(store)
    row = (0, "test", "test-wake", "t", "{}")

    def count() -> int:
        with store.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(audit_log).where(
                audit_log.c.action == "test-wake")).scalar_one())

    try:
        before = count()
        stopped = asyncio.new_event_loop()
        task = stopped.create_task(writer.write(row))
        stopped.call_soon(stopped.stop)  # runs the write up to its await, not the wake-up
        stopped.run_forever()
        assert not task.done()

        async def concurrent_writes() -> None:
            await asyncio.wait_for(asyncio.gather(*(writer.write(row) for _ in range(5))),
                                   timeout=10)

        asyncio.run(concurrent_writes())
        assert count() == before + 6
        task.cancel()
        stopped.run_until_complete(asyncio.gather(task, return_exceptions=True))
        stopped.close()
    finally:
        writer.close()
        store.close()
