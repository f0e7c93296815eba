"""OGC API - Tiles (Part 1: core, tileset, tilesets-list, geodata-tilesets, mvt) over the
layer catalogue: ``/v1/tileMatrixSets[/{id}]`` and
``/v1/collections/{id}/tiles[/{tileMatrixSetId}[/{z}/{y}/{x}]]``.

Same privacy rule and the same data as the features: access is decided first (a layer the
caller's role may not see answers exactly like an unknown collection, 404), and a tile is cut
from the very layer the features route serves (``ogc._prepared``: built for the role by
``geoveilig.layers``, small counts suppressed for the public), so a tile never shows more
than the features. On PostGIS the incident points are encoded by the database
(``ST_AsMVT``). Every tile is one cached response, keyed by URL, role and data version, with
an ETag (304), answered before the routing when it is already in the cache (``CachedTiles``).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from .. import layers as layer_catalogue
from .. import tiles as core
from ..errors import InvalidInput, NotFound
from ..layers import Layer
from . import features as ft
from . import ogc  # (ogc imports this module: its names are looked up at call time)
from .auth import Caller, audit_async, caller, known_caller
from .pagecache import CachedPages
from .services import AppServices, services

#: the layers served as vector tiles
TILED = ("wijken", "buurten", "hotspots", "prevention-coverage", "incidents")
TILE_PARAMS = ("f",)
TILE_FORMATS = ("mvt",)
MVT = core.MVT

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
]
REL_TILESETS = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
REL_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
REL_SCHEMES = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"
#: registered URIs of the tile matrix sets (the Dutch one has none in the OGC register)
TMS_URI = {"WebMercatorQuad": "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"}


def landing_links(base: str) -> list[dict[str, str]]:
    """Links for the landing page (``base``: ``.../v1``)."""
    return [{"href": f"{base}/tileMatrixSets", "rel": REL_SCHEMES, "type": "application/json",
             "title": "tegelmatrixsets"}]


def collection_links(layer: Layer, base: str) -> list[dict[str, str]]:
    """Links for a collection's metadata (``base``: the collection's URL)."""
    if layer.id not in TILED:
        return []
    return [{"href": f"{base}/tiles", "rel": REL_TILESETS, "type": "application/json",
             "title": "vectortegels (Mapbox Vector Tiles)"}]


def _tiled(collection_id: str, who: Caller) -> Layer:
    """The layer if the caller may see it and it is tiled; else the same 404 as ever."""
    layer = ogc._visible(collection_id, who)
    if layer.id not in TILED:
        raise NotFound(f"collectie '{collection_id}' heeft geen tegels")
    return layer


def _check(raw: dict[str, str], allowed: set[str] | tuple[str, ...], tile: bool = False
           ) -> None:
    """Unknown parameters and ``f``: ``mvt`` for a tile, ``json`` for the metadata."""
    ft.check_unknown(raw, allowed)
    f = raw.get("f")
    if not tile:
        ft.check_format(raw)
    elif f is not None and f not in TILE_FORMATS:
        raise InvalidInput(f"niet ondersteund formaat f={f}: tegels zijn er alleen als mvt",
                           where="f")


def _uri(tms_id: str) -> str:
    return TMS_URI.get(tms_id, f"http://www.opengis.net/def/tilematrixset/OGC/1.0/{tms_id}")


def _crs_uri(tms_id: str) -> str:
    epsg = core.TILE_MATRIX_SETS[tms_id].crs.to_epsg()
    return f"http://www.opengis.net/def/crs/EPSG/0/{epsg}"


# --- caches ---------------------------------------------------------------------------------

class _Sources:
    """``TileSource`` per prepared layer (same key as ``LayerCache``), LRU-bounded."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._items: OrderedDict[tuple, core.TileSource] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, prepared: ft.Prepared) -> core.TileSource:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        source = core.TileSource(prepared.layer.id, prepared.geometry,
                                 [json.loads(p) for p in prepared.props])
        with self._lock:
            self._items[key] = source
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return source


async def _source(request: Request, layer: Layer, params: dict[str, Any], role: str,
                  version: str) -> core.TileSource:
    prepared = await ogc._prepared(request, layer, params, role, version)
    key = ft.LayerCache.key(layer, params, role, version)
    return await run_in_threadpool(services(request).tile_sources.get, key, prepared)


def _in_database(request: Request, layer: Layer, params: dict[str, Any]) -> bool:
    """Whether the database encodes this layer's tiles: the incident points on PostGIS (the
    catalogue's own builder, no suppression in between), of every configured gemeente (one
    gemeente of several goes through the builder's store view, ``geoveilig.scope``)."""
    svc = services(request)
    store = svc.store
    return (layer.id == "incidents" and getattr(store, "spatial", False)
            and layer.builder is layer_catalogue.build_incidents and layer.suppression is None
            and (params.get("gemeente") is None or len(svc.areas.gemeente) == 1))


def _database_tile(request: Request, layer: Layer, params: dict[str, Any],
                   address: core.TileAddress) -> bytes:
    store = services(request).store
    with store.engine.connect() as conn:
        return core.postgis_incident_tile(conn, address, layer.id, params.get("crimeType"))


# --- metadata ---------------------------------------------------------------------------------

def _tms_summary(base: str, tms_id: str) -> dict[str, Any]:
    tms = core.TILE_MATRIX_SETS[tms_id]
    return {"id": tms_id, "title": tms.title or tms_id, "uri": _uri(tms_id),
            "crs": _crs_uri(tms_id),
            "links": [{"href": f"{base}/tileMatrixSets/{tms_id}", "rel": REL_SCHEME,
                       "type": "application/json", "title": tms_id}]}


def _property_schema(source: core.TileSource) -> dict[str, Any]:
    kinds: dict[str, str] = {}
    for props in source.properties:
        for k, v in props.items():
            kind = ("boolean" if isinstance(v, bool) else "integer" if isinstance(v, int)
                    else "number" if isinstance(v, float) else "string")
            if kinds.setdefault(k, kind) != kind:
                kinds[k] = "number" if {kinds[k], kind} == {"integer", "number"} else "string"
    return {"type": "object", "properties": {k: {"type": t} for k, t in kinds.items()}}


def _tileset(request: Request, layer: Layer, tms_id: str, source: core.TileSource | None
             ) -> dict[str, Any]:
    base = ogc.api_base(request)
    own = f"{base}/collections/{layer.id}/tiles/{tms_id}"
    query = request.url.query
    suffix = f"?{query}" if query else ""
    lo, hi = core.ZOOMS[tms_id]
    extent = services(request).areas.gemeente.total_bounds
    entry: dict[str, Any] = {
        "id": layer.id, "title": layer.title, "description": layer.description,
        "dataType": "vector", "geometryDimension": 0 if layer.geometry_type == "Point" else 2,
        "minTileMatrix": str(lo), "maxTileMatrix": str(hi)}
    if source is not None:
        entry["propertiesSchema"] = _property_schema(source)
    return {
        "title": f"{layer.title} ({tms_id})",
        "description": layer.description,
        **({"attribution": credit} if (credit := ogc.attribution(request)) else {}),
        "dataType": "vector",
        "crs": _crs_uri(tms_id),
        "tileMatrixSetURI": _uri(tms_id),
        "tileMatrixSetLimits": core.tile_limits(tms_id, extent),
        "boundingBox": {"lowerLeft": [float(extent[0]), float(extent[1])],
                        "upperRight": [float(extent[2]), float(extent[3])],
                        "crs": ft.RD},
        "layers": [entry],
        "links": [
            {"href": f"{own}{suffix}", "rel": "self", "type": "application/json",
             "title": "deze tegelset"},
            {"href": f"{base}/tileMatrixSets/{tms_id}", "rel": REL_SCHEME,
             "type": "application/json", "title": tms_id},
            {"href": f"{base}/collections/{layer.id}", "rel": "collection",
             "type": "application/json", "title": layer.title},
            {"href": f"{own}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}{suffix}", "rel": "item",
             "type": MVT, "templated": True, "title": "tegel (Mapbox Vector Tile)"},
        ],
    }


# --- the cached fast path -------------------------------------------------------------------

async def _answer_cached(request: Request, who: Caller, hit: ft.Cached
                         ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    if hit.audit is not None:
        await audit_async(request, who, *hit.audit)
    return hit.raw(request.headers.get("accept-encoding"), request.headers.get("if-none-match"),
                   MVT)


def _is_tile_path(path: str) -> bool:
    parts = path.split("/")
    return len(parts) == 9 and parts[4] == "tiles" and parts[1] == "v1"


class CachedTiles(CachedPages):
    """Cached tiles (``tile_cache``), answered before routing like cached item pages, with
    the tile's own media type."""

    @staticmethod
    def matches(path: str) -> bool:
        return _is_tile_path(path)

    media_type = MVT

    @staticmethod
    def cache(svc: AppServices) -> ft.ResponseCache:
        return svc.tile_cache


def _response(answer: tuple[int, list[tuple[bytes, bytes]], bytes]) -> Response:
    status, headers, body = answer
    response = Response(body, status_code=status)
    response.raw_headers = headers
    return response


# --- routes -----------------------------------------------------------------------------------

def tiles_router(prefix: str = "/v1") -> APIRouter:
    router = APIRouter(prefix=prefix, include_in_schema=False)

    @router.get("/tileMatrixSets")
    def tile_matrix_sets(request: Request) -> Response:
        _check(ogc._raw(request), TILE_PARAMS)
        base = ogc.api_base(request)
        return ogc._json({"tileMatrixSets": [_tms_summary(base, t) for t in core.TILE_MATRIX_SETS],
                      "links": [{"href": f"{base}/tileMatrixSets", "rel": "self",
                                 "type": "application/json", "title": "tegelmatrixsets"}]})

    @router.get("/tileMatrixSets/{tms_id}")
    def tile_matrix_set(tms_id: str, request: Request) -> Response:
        tms = core.tile_matrix_set(tms_id)
        _check(ogc._raw(request), TILE_PARAMS)
        body = tms.model_dump(mode="json", exclude_none=True)
        body["uri"] = _uri(tms_id)
        body["links"] = [{"href": f"{ogc.api_base(request)}/tileMatrixSets/{tms_id}",
                          "rel": "self", "type": "application/json", "title": tms_id}]
        return ogc._json(body)

    @router.get("/collections/{collection_id}/tiles")
    def tilesets(collection_id: str, request: Request) -> Response:
        who = caller(request)
        layer = _tiled(collection_id, who)
        raw = ogc._raw(request)
        _check(raw, set(TILE_PARAMS) | {p.name for p in layer.params})
        layer.check_query(layer.parse_params(raw), who.role)
        base = ogc.api_base(request)
        query = request.url.query
        suffix = f"?{query}" if query else ""
        sets = []
        for tms_id in core.TILE_MATRIX_SETS:
            own = f"{base}/collections/{layer.id}/tiles/{tms_id}"
            sets.append({
                "title": f"{layer.title} ({tms_id})", "dataType": "vector",
                "crs": _crs_uri(tms_id), "tileMatrixSetURI": _uri(tms_id),
                "links": [
                    {"href": f"{own}{suffix}", "rel": "self", "type": "application/json",
                     "title": tms_id},
                    {"href": f"{base}/tileMatrixSets/{tms_id}", "rel": REL_SCHEME,
                     "type": "application/json", "title": tms_id},
                    {"href": f"{own}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}{suffix}",
                     "rel": "item", "type": MVT, "templated": True, "title": "tegel"}]})
        return ogc._json({"tilesets": sets, "links": [
            {"href": str(request.url), "rel": "self", "type": "application/json",
             "title": "tegelsets"},
            {"href": f"{base}/collections/{layer.id}", "rel": "collection",
             "type": "application/json", "title": layer.title}]})

    @router.get("/collections/{collection_id}/tiles/{tms_id}")
    async def tileset(collection_id: str, tms_id: str, request: Request) -> Response:
        who = await run_in_threadpool(caller, request)
        layer = _tiled(collection_id, who)
        core.tile_matrix_set(tms_id)
        raw = ogc._raw(request)
        _check(raw, set(TILE_PARAMS) | {p.name for p in layer.params})
        params = layer.with_defaults(ogc._ctx(request), layer.parse_params(raw))
        version = ogc.layer_version(request, layer)
        source = None
        if not _in_database(request, layer, params):
            source = await _source(request, layer, params, who.role, version)
        return ogc._json(_tileset(request, layer, tms_id, source))

    @router.get("/collections/{collection_id}/tiles/{tms_id}/{z}/{y}/{x}")
    async def tile(collection_id: str, tms_id: str, z: str, y: str, x: str,
                   request: Request) -> Response:
        who = known_caller(request)
        if who is None:
            who = await run_in_threadpool(caller, request)
        layer = _tiled(collection_id, who)
        address = core.parse_tile(tms_id, z, y, x)
        raw = ogc._raw(request)
        version = ogc.layer_version(request, layer)
        cache = services(request).tile_cache
        rkey = ogc.page_key(request.scope, who.role, version)
        hit = cache.get(rkey)
        if hit is not None:
            return _response(await _answer_cached(request, who, hit))
        _check(raw, set(TILE_PARAMS) | {p.name for p in layer.params}, tile=True)
        params = layer.with_defaults(ogc._ctx(request), layer.parse_params(raw))
        target = f"{layer.id}/{tms_id}/{z}/{y}/{x}"[:128]
        if layer.role != "public":
            await audit_async(request, who, "read-tile", target)
        tag = ft.etag("tile", layer.id, tms_id, address.z, address.y, address.x,
                      sorted(raw.items()), who.role, version)
        headers = {"ETag": tag, "Cache-Control": "no-cache" if layer.role == "public"
                   else "private, no-cache"}
        # a matching If-None-Match is answered below, from the tile made and cached here:
        # a 304 carries the headers of the 200 it stands for (Vary, Content-Type, the ETag of
        # the encoding the client accepts), as from the cache, and later ones are cached
        if _in_database(request, layer, params):
            body = await run_in_threadpool(_database_tile, request, layer, params, address)
        else:
            source = await _source(request, layer, params, who.role, version)
            body = await run_in_threadpool(source.tile, address)
        hit = cache.put(rkey, ft.Cached(body, headers, audit=None if layer.role == "public"
                                        else ("read-tile", target)))
        return _response(hit.raw(request.headers.get("accept-encoding"),
                                 request.headers.get("if-none-match"), MVT))

    return router


def openapi_paths(f_param: dict[str, str], errors: Any, security: Any, *, public: bool = False
                  ) -> dict[str, Any]:
    """The tile paths of the OpenAPI document (``errors``/``security``: openapi's helpers;
    ``public``: the layer parameters as the public may use them)."""
    from ..layers import all_layers

    tms_param = {"name": "tileMatrixSetId", "in": "path", "required": True,
                 "description": "Tegelmatrixset.",
                 "schema": {"type": "string", "enum": list(core.TILE_MATRIX_SETS)}}
    index = {"type": "integer", "minimum": 0}
    tile_params = [
        tms_param,
        {"name": "tileMatrix", "in": "path", "required": True,
         "description": "Zoomniveau (WebMercatorQuad 0-20, NetherlandsRDNewQuad 0-14).",
         "schema": index},
        {"name": "tileRow", "in": "path", "required": True, "description": "Rij.",
         "schema": index},
        {"name": "tileCol", "in": "path", "required": True, "description": "Kolom.",
         "schema": index},
    ]
    fmt = {"name": "f", "in": "query", "required": False, "description": "Formaat.",
           "schema": {"type": "string", "enum": ["mvt"]}}
    json_ok = {"description": "JSON", "content": {"application/json": {
        "schema": {"type": "object"}}}}
    paths: dict[str, Any] = {
        "/v1/tileMatrixSets": {"get": {
            "tags": ["Tiles"], "summary": "Tegelmatrixsets", "operationId": "getTileMatrixSets",
            "parameters": [f_param], "responses": {"200": json_ok, **errors(400)}}},
        "/v1/tileMatrixSets/{tileMatrixSetId}": {"get": {
            "tags": ["Tiles"], "summary": "Definitie van een tegelmatrixset (OGC TMS 2.0)",
            "operationId": "getTileMatrixSet", "parameters": [tms_param, f_param],
            "responses": {"200": json_ok, **errors(400, 404)}}},
    }
    from .openapi import _layer_params

    for layer in all_layers():
        if layer.id not in TILED:
            continue
        base = f"/v1/collections/{layer.id}/tiles"
        op = layer.id.replace("-", "_")
        sec = security(layer)
        own = [p for p in _layer_params(layer, public) if p["name"] not in layer.queryables]
        role = (f" Vereist rol '{layer.role}'; zonder die rol bestaat de collectie niet (404)."
                if layer.role != "public" else "")
        paths[base] = {"get": {
            "tags": [layer.id], "summary": f"Tegelsets: {layer.title}",
            "operationId": f"tilesets_{op}", "security": sec, "parameters": [f_param, *own],
            "responses": {"200": json_ok, **errors(400, 401, 404)}}}
        paths[f"{base}/{{tileMatrixSetId}}"] = {"get": {
            "tags": [layer.id], "summary": f"Tegelset: {layer.title}",
            "operationId": f"tileset_{op}", "security": sec,
            "parameters": [tms_param, f_param, *own],
            "responses": {"200": json_ok, **errors(400, 401, 404, 500, 503)}}}
        paths[f"{base}/{{tileMatrixSetId}}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"] = {"get": {
            "tags": [layer.id], "summary": f"Vectortegel: {layer.title}",
            "description": "Mapbox Vector Tile met dezelfde eigenschappen (en dezelfde "
                           "onderdrukking van kleine aantallen) als de objecten." + role,
            "operationId": f"tile_{op}", "security": sec,
            "parameters": [*tile_params, fmt, *own],
            "responses": {
                "200": {"description": "de tegel (leeg: 0 bytes); gzip als Accept-Encoding "
                        "dat toestaat",
                        "headers": {"ETag": {"schema": {"type": "string"}}},
                        "content": {MVT: {"schema": {"type": "string", "format": "binary"}}}},
                "304": {"description": "niet gewijzigd (If-None-Match)"},
                **errors(400, 401, 404, 500, 503)}}}
    return paths
