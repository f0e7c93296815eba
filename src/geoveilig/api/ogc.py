"""OGC API - Features (Part 1 Core, GeoJSON, OpenAPI 3.0; Part 2 CRS by reference) over the
layer catalogue, as a router built by a factory (the idea of tipg's ``factory.py``).

Privacy rule: a collection the caller's role may not see does not exist for that caller.
``/collections`` leaves it out, and every path under it (metadata, items, one item, with any
parameters, valid or not) answers exactly like an unknown collection: the same 404 problem.
Access is decided before any parameter is looked at, so neither error messages nor 400-vs-404
reveal what exists.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from .. import __version__
from ..errors import NotFound
from ..layers import _REGISTRY, Layer, LayerContext, all_layers, allows, get_layer
from . import features as ft
from . import tiles
from .auth import Caller, audit_async, caller, known_caller
from .pagecache import CachedPages
from .services import AppServices, services

GEOJSON = "application/geo+json"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    *tiles.CONFORMANCE,
]


def _not_found(collection_id: str) -> NotFound:
    return NotFound(f"onbekende collectie '{collection_id}'")


def _visible(collection_id: str, who: Caller) -> Layer:
    try:
        layer = get_layer(collection_id)
    except NotFound:
        raise _not_found(collection_id) from None
    if not allows(who.role, layer.role):
        raise _not_found(collection_id)
    return layer


def _ctx(request: Request) -> LayerContext:
    from .planning import requester

    return services(request).context(requester(caller(request)))


def api_base(request: Request) -> str:
    """The API's base URL (its router prefix, e.g. ``http://host/v1``), from the landing
    page's route: links never spell the version themselves."""
    return str(request.url_for("landing")).rstrip("/")


def _json(body: Any, media_type: str = "application/json", **headers: str) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
                    media_type=media_type, headers=headers or None)


def _raw(request: Request) -> dict[str, str]:
    params = request.query_params
    dup = sorted({k for k in params if len(params.getlist(k)) > 1})
    if dup:
        from ..errors import InvalidInput

        raise InvalidInput(f"parameter {dup[0]} is meer dan eens opgegeven", where=dup[0])
    return dict(params.items())


def store_versions(request: Request) -> dict[str, str]:
    """``Store.data_versions`` (a token per part of the stored data: incidents, prevention,
    deployments, alerts, plans, published counts, the day), re-read at most every
    ``version_ttl`` seconds (default 1 s: new imports, prevention changes and plans show
    within a second)."""
    return versions_of(services(request))


def versions_of(svc: AppServices) -> dict[str, str]:
    """``store_versions`` from the app's services (pure ASGI middleware)."""
    now = time.monotonic()
    cached = svc.version_cache
    if cached is None or now - cached[0] >= svc.version_ttl:
        cached = (now, svc.store.data_versions())
        svc.version_cache = cached
    return cached[1]


def layer_version(request: Request, layer: Layer) -> str:
    """The version of what ``layer`` depends on (``Layer.depends_on``): the key of its
    caches and ETags; a change elsewhere leaves it cached."""
    return layer.version(store_versions(request))


def path_version(request: Request, path: str) -> str:
    """``layer_version`` of the collection a path is under (all parts for other paths)."""
    return version_at(path, store_versions(request))


def version_at(path: str, versions: dict[str, str]) -> str:
    """``path_version`` from the data versions (``versions_of``)."""
    parts = path.split("/")
    layer = _REGISTRY.get(parts[3]) if len(parts) > 3 and parts[2] == "collections" else None
    return layer.version(versions) if layer is not None else repr(sorted(versions.items()))


async def _caller(request: Request) -> Caller:
    """The caller; a key not verified in the last second is checked against the store off
    the event loop."""
    known = known_caller(request)
    if known is not None:
        return known
    return await run_in_threadpool(caller, request)


async def _prepared(request: Request, layer: Layer, params: dict[str, Any], role: str,
                    version: str) -> ft.Prepared:
    cache = services(request).layer_cache
    found = cache.peek(layer, params, role, version)
    if found is not None:
        return found
    return await run_in_threadpool(cache.get, layer, _ctx(request), params, role, version)


def _spatial_extent(request: Request) -> list[float]:
    cache = services(request).ogc_cache
    if "extent" not in cache:
        b = services(request).areas.gemeente.total_bounds
        lo = ft.transformer("EPSG:28992", ft.CRS84).transform_bounds(b[0], b[1], b[2], b[3],
                                                                     densify_pts=21)
        cache["extent"] = [round(v, 6) for v in lo]
    return cache["extent"]


#: the attribution of every collection and tileset of a store holding synthetic (demo) data
SYNTHETIC_ATTRIBUTION = "synthetische demodata, geen echte misdrijven"


def attribution(request: Request) -> str | None:
    """``SYNTHETIC_ATTRIBUTION`` when the store holds synthetic data, else None: GIS clients
    show a collection's or tileset's ``attribution`` with the layer (QGIS: layer metadata),
    so demo data never pass for real figures outside the map and the reports either."""
    key = ("attribution", store_versions(request).get("incidents"))
    cache = services(request).ogc_cache
    if key not in cache:
        cache[key] = SYNTHETIC_ATTRIBUTION if services(request).store.has_synthetic_data() \
            else None
    return cache[key]


def collection_info(request: Request, layer: Layer, version: str) -> dict[str, Any]:
    key = ("collection", layer.id, version)
    cache = services(request).ogc_cache
    if key not in cache:
        lo, hi = layer.temporal(_ctx(request)) if layer.temporal else (None, None)
        cache[key] = (lo, hi)
    lo, hi = cache[key]
    base = str(request.url_for("collection", collection_id=layer.id))
    return {
        "id": layer.id,
        "title": layer.title,
        "description": layer.description,
        "keywords": list(layer.keywords),
        **({"attribution": credit} if (credit := attribution(request)) else {}),
        "itemType": "feature",
        "role": layer.role,
        "extent": {
            "spatial": {"bbox": [_spatial_extent(request)], "crs": ft.CRS84},
            "temporal": {"interval": [[lo, hi]],
                         "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"},
        },
        "crs": list(ft.SUPPORTED_CRS),
        "storageCrs": ft.RD,
        "parameters": {p.name: {"description": p.description, "default": p.default}
                       for p in layer.params},
        "queryables": list(layer.queryables),
        "links": [
            {"href": base, "rel": "self", "type": "application/json", "title": layer.title},
            {"href": f"{base}/items", "rel": "items", "type": GEOJSON,
             "title": "objecten (GeoJSON)"},
            {"href": f"{base}/queryables", "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
             "type": "application/schema+json", "title": "filterbare eigenschappen"},
            *tiles.collection_links(layer, base),
        ],
    }


def _items_page(request: Request, layer: Layer, prepared: ft.Prepared, q: ft.ItemsQuery
                ) -> bytes:
    url = request.url
    links = [
        {"href": str(url), "rel": "self", "type": GEOJSON, "title": "deze pagina"},
        {"href": str(request.url_for("collection", collection_id=layer.id)),
         "rel": "collection", "type": "application/json", "title": layer.title},
    ]
    idx = ft.select(prepared, q)
    if q.offset + q.limit < len(idx):
        links.append({"href": str(url.include_query_params(
            offset=q.offset + q.limit, limit=q.limit)), "rel": "next", "type": GEOJSON,
            "title": "volgende pagina"})
    if q.offset > 0:
        links.append({"href": str(url.include_query_params(
            offset=max(0, q.offset - q.limit), limit=q.limit)), "rel": "prev",
            "type": GEOJSON, "title": "vorige pagina"})
    body, _matched, _returned = ft.items_body(prepared, q, links, idx)
    return body


def _response(answer: tuple[int, list[tuple[bytes, bytes]], bytes]) -> Response:
    status, headers, body = answer
    response = Response(body, status_code=status)
    response.raw_headers = headers
    return response


async def _answer_cached(request: Request, who: Caller, hit: ft.Cached
                         ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """A cached page for this request: audited when restricted (every read is logged,
    cached or not), gzip when the client accepts it (compressed once), 304 when the client
    has it."""
    if hit.audit is not None:
        await audit_async(request, who, *hit.audit)
    return hit.raw(request.headers.get("accept-encoding"),
                   request.headers.get("if-none-match"), GEOJSON)


def page_key(scope: Scope, role: str, version: str) -> tuple:
    """The response cache key of a page: what its bytes depend on (scheme, host and path for
    the absolute links, the query, the role, the data version)."""
    host = next((v for k, v in scope["headers"] if k == b"host"), b"")
    return (scope.get("scheme", "http"), host, scope.get("root_path", ""), scope["path"],
            scope.get("query_string", b""), role, version)


class CachedItems(CachedPages):
    """Cached pages of ``/collections/{id}/items`` (``AppServices.response_cache``)."""

    @staticmethod
    def matches(path: str) -> bool:
        return path.endswith("/items")

    media_type = GEOJSON

    @staticmethod
    def cache(svc: AppServices) -> ft.ResponseCache:
        return svc.response_cache


def ogc_router(prefix: str = "/v1", *, openapi: Callable[[Request], dict] | None = None
               ) -> APIRouter:
    """The OGC API - Features routes over the registered layers."""
    router = APIRouter(prefix=prefix, include_in_schema=False)

    def landing(request: Request) -> Response:
        ft.check_unknown(_raw(request), ("f",))
        ft.check_format(_raw(request))
        base = api_base(request)
        return _json({
            "title": "geoveilig",
            "description": "Misdaadcijfers per wijk en buurt, hotspots, preventie en "
                           "inzetadvies voor de gemeente Helmond en de politie.",
            "version": __version__,
            "links": [
                {"href": f"{base}/", "rel": "self", "type": "application/json",
                 "title": "deze pagina"},
                {"href": f"{base}/api", "rel": "service-desc", "type": OPENAPI_JSON,
                 "title": "OpenAPI-beschrijving"},
                {"href": f"{base}/api.html", "rel": "service-doc", "type": "text/html",
                 "title": "documentatie van de API"},
                {"href": f"{base}/conformance", "rel": "conformance",
                 "type": "application/json", "title": "conformiteitsklassen"},
                {"href": f"{base}/collections", "rel": "data", "type": "application/json",
                 "title": "collecties"},
                *tiles.landing_links(base),
            ],
        })

    router.add_api_route("/", landing, methods=["GET"])
    router.add_api_route("", landing, methods=["GET"])

    @router.get("/conformance")
    def conformance(request: Request) -> Response:
        ft.check_unknown(_raw(request), ("f",))
        ft.check_format(_raw(request))
        return _json({"conformsTo": CONFORMANCE})

    @router.get("/api")
    def service_desc(request: Request) -> Response:
        ft.check_unknown(_raw(request), ("f",))
        ft.check_format(_raw(request))
        return _json(openapi(request) if openapi else {}, OPENAPI_JSON)

    @router.get("/api.html")
    def service_doc(request: Request) -> HTMLResponse:
        from fastapi.openapi.docs import get_swagger_ui_html

        vendor = f"{request.base_url}static/vendor/swagger-ui"  # vendored: works offline
        return get_swagger_ui_html(openapi_url=str(request.url_for("service_desc")),
                                   title="geoveilig API",
                                   swagger_js_url=f"{vendor}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{vendor}/swagger-ui.css",
                                   swagger_favicon_url=f"{vendor}/favicon-32x32.png")

    @router.get("/collections")
    def collections(request: Request) -> Response:
        raw = _raw(request)
        ft.check_unknown(raw, ("f",))
        ft.check_format(raw)
        who = caller(request)
        base = str(request.url_for("collections"))
        cols = [collection_info(request, layer, layer_version(request, layer))
                for layer in all_layers()
                if allows(who.role, layer.role)]
        return _json({"collections": cols, "crs": list(ft.SUPPORTED_CRS), "links": [
            {"href": base, "rel": "self", "type": "application/json", "title": "collecties"}]})

    @router.get("/collections/{collection_id}")
    def collection(collection_id: str, request: Request) -> Response:
        who = caller(request)
        layer = _visible(collection_id, who)
        raw = _raw(request)
        ft.check_unknown(raw, ("f",))
        ft.check_format(raw)
        return _json(collection_info(request, layer, layer_version(request, layer)))

    @router.get("/collections/{collection_id}/queryables")
    def queryables(collection_id: str, request: Request) -> Response:
        who = caller(request)
        layer = _visible(collection_id, who)
        ft.check_unknown(_raw(request), ("f",))
        ft.check_format(_raw(request))
        return _json({
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "$id": str(request.url_for("queryables", collection_id=layer.id)),
            "type": "object", "title": layer.title,
            "properties": {q: {"type": "string", "title": q} for q in layer.queryables},
        }, "application/schema+json")

    @router.get("/collections/{collection_id}/items")
    async def items(collection_id: str, request: Request) -> Response:
        who = await _caller(request)
        layer = _visible(collection_id, who)
        raw = _raw(request)
        version = layer_version(request, layer)
        # a page already served (same URL, role and data) is answered from memory
        responses = services(request).response_cache
        rkey = page_key(request.scope, who.role, version)
        hit = responses.get(rkey)
        if hit is None:
            if layer.role != "public":
                await audit_async(request, who, "read-items", layer.id)
            q = ft.parse_items_query(layer, raw)
            # defaults from the data or the clock (a date of "today") before the cache key
            params = layer.with_defaults(_ctx(request), layer.parse_params(raw))
            tag = ft.etag("items", layer.id, sorted(raw.items()), who.role, version)
            headers = {"ETag": tag, "Content-Crs": f"<{q.crs}>",
                       "Cache-Control": "no-cache" if layer.role == "public"
                       else "private, no-cache"}
            if ft.etag_matches(request.headers.get("if-none-match"), tag):
                return Response(status_code=304, headers=headers)
            prepared = await _prepared(request, layer, params, who.role, version)
            hit = responses.put(rkey, ft.Cached(
                _items_page(request, layer, prepared, q), headers,
                audit=None if layer.role == "public" else ("read-items", layer.id)))
            return _response(hit.raw(request.headers.get("accept-encoding"),
                                     request.headers.get("if-none-match"), GEOJSON))
        return _response(await _answer_cached(request, who, hit))

    @router.get("/collections/{collection_id}/items/{feature_id}")
    async def item(collection_id: str, feature_id: str, request: Request) -> Response:
        who = await _caller(request)
        layer = _visible(collection_id, who)
        raw = _raw(request)
        ft.check_unknown(raw, set(ft.ITEM_PARAMS) | {p.name for p in layer.params})
        ft.check_format(raw)
        crs = ft.parse_crs(raw.get("crs"))
        params = layer.with_defaults(_ctx(request), layer.parse_params(raw))
        version = layer_version(request, layer)
        if layer.role != "public":
            await audit_async(request, who, "read-item", f"{layer.id}/{feature_id}"[:128])
        tag = ft.etag("item", layer.id, feature_id, sorted(raw.items()), who.role, version)
        headers = {"ETag": tag, "Content-Crs": f"<{crs}>"}
        if ft.etag_matches(request.headers.get("if-none-match"), tag):
            return Response(status_code=304, headers=headers)
        prepared = await _prepared(request, layer, params, who.role, version)
        base = str(request.url_for("collection", collection_id=layer.id))
        links = [{"href": str(request.url), "rel": "self", "type": GEOJSON, "title": "dit object"},
                 {"href": base, "rel": "collection", "type": "application/json",
                  "title": layer.title}]
        body = ft.feature_body(prepared, feature_id, crs, links)
        return Response(body, media_type=GEOJSON, headers=headers)

    return router
