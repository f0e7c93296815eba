"""The OpenAPI 3.0 document, built from the layer catalogue: one path per collection with
its own parameters, the OGC parameters in ``components.parameters`` (QGIS reads the limit
there), every error response as problem+json. Published without authentication."""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..layers import GEMEENTE_PARAM, Layer, all_layers
from . import features as ft
from . import params
from .params import query_parameter

PROBLEM_REF = {"$ref": "#/components/responses/Problem"}
GEOJSON = "application/geo+json"


def _errors(*codes: int) -> dict[str, Any]:
    titles = {400: "ongeldige parameter", 401: "ongeldige of ingetrokken API-sleutel",
              404: "onbekende (of voor deze rol verborgen) collectie of object",
              406: "niet aanvaardbaar", 409: "past niet bij de huidige status (conflict)",
              500: "interne fout", 503: "database niet bereikbaar"}
    return {str(c): {"description": titles[c],
                     "content": {"application/problem+json": {
                         "schema": {"$ref": "#/components/schemas/Problem"}}}} for c in codes}


def oas30(schema: Any) -> Any:
    """A pydantic (JSON Schema 2020-12) schema in the OpenAPI 3.0 dialect: ``anyOf`` with
    ``null`` becomes ``nullable``, numeric ``exclusiveMinimum``/``exclusiveMaximum`` become
    ``minimum``/``maximum`` with the boolean flag."""
    if isinstance(schema, list):
        return [oas30(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    any_of = schema.get("anyOf")
    if isinstance(any_of, list) and {"type": "null"} in any_of:
        rest = [s for s in any_of if s != {"type": "null"}]
        base = oas30(rest[0]) if len(rest) == 1 else {"anyOf": oas30(rest)}
        others = {k: oas30(v) for k, v in schema.items() if k != "anyOf"}
        return {**others, **base, "nullable": True}
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: oas30(v) for name, v in value.items()}
        else:
            out[key] = oas30(value)
    return out


def _param_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def _layer_params(layer: Layer, public: bool = False) -> list[dict[str, Any]]:
    """The layer's own parameters (``public``: as the disclosure control lets the public use
    them: the layer is suppressed for the public) and its queryables."""
    narrow = public and layer.suppression is not None
    out = [query_parameter(p, narrow) for p in layer.params]
    for q in layer.queryables:
        if q in {p.name for p in layer.params}:  # declared as a parameter: documented there
            continue
        out.append({"name": q, "in": "query", "required": False,
                    "description": f"alleen objecten met deze waarde van '{q}'",
                    "schema": {"type": "string"}})
    return out


def _security(layer: Layer) -> list[dict[str, list]]:
    if layer.role == "public":
        return [{}, {"bearerAuth": []}, {"apiKey": []}, {"basicAuth": []}]
    return [{"bearerAuth": []}, {"apiKey": []}, {"basicAuth": []}]


def _json_ok(description: str, media: str = "application/json") -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": {"type": "object"}}}}


def build_openapi(base_url: str | None = None, role: str | None = None) -> dict[str, Any]:
    """The document; ``role``: with the parameter schemas as that role may use them (the
    public: one published crime type, calendar periods); ``for_role`` then keeps its paths."""
    from .. import disclosure

    public = role is not None and disclosure.protects(role)
    f_param = _param_ref("f")
    paths: dict[str, Any] = {
        "/health": {"get": {"tags": ["service"], "summary": "Gezondheid van de service",
                            "operationId": "health",
                            "responses": {"200": _json_ok("status"), **_errors(503)}}},
        "/v1/": {"get": {"tags": ["Capabilities"], "summary": "Landingspagina",
                         "operationId": "getLandingPage", "parameters": [f_param],
                         "responses": {"200": _json_ok("landingspagina met links"),
                                       **_errors(400, 500)}}},
        "/v1/conformance": {"get": {"tags": ["Capabilities"], "summary": "Conformiteit",
                                    "operationId": "getConformance", "parameters": [f_param],
                                    "responses": {"200": _json_ok("conformsTo"),
                                                  **_errors(400, 500)}}},
        "/v1/api": {"get": {"tags": ["Capabilities"], "summary": "Deze OpenAPI-beschrijving",
                            "operationId": "getOpenAPI", "parameters": [f_param],
                            "responses": {"200": _json_ok("OpenAPI 3.0", ft_openapi()),
                                          **_errors(400)}}},
        "/v1/collections": {"get": {
            "tags": ["Capabilities"], "summary": "Collecties die de rol van de aanvrager mag zien",
            "operationId": "getCollections", "parameters": [f_param],
            "security": [{}, {"bearerAuth": []}, {"apiKey": []}, {"basicAuth": []}],
            "responses": {"200": _json_ok("collecties"), **_errors(400, 401, 500, 503)}}},
        "/v1/jobs/{jobId}": {"get": {
            "tags": ["Jobs"], "summary": "Status van een lange berekening",
            "operationId": "getJob",
            "parameters": [{"name": "jobId", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": _json_ok("status, voortgang en link naar het resultaat"),
                          **_errors(401, 404)}}},
        "/v1/jobs/{jobId}/results": {"get": {
            "tags": ["Jobs"], "summary": "Resultaat van een afgeronde berekening",
            "operationId": "getJobResults",
            "parameters": [{"name": "jobId", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": _json_ok("resultaat"), **_errors(400, 401, 404)}}},
    }
    for layer in all_layers():
        base = f"/v1/collections/{layer.id}"
        tag = [layer.id]
        role = (f" Vereist rol '{layer.role}' (API-sleutel); zonder die rol bestaat de "
                "collectie niet (404)." if layer.role != "public" else "")
        sec = _security(layer)
        op = layer.id.replace("-", "_")
        paths[base] = {"get": {
            "tags": tag, "summary": f"Metadata: {layer.title}", "description":
            layer.description + role, "operationId": f"describe_{op}",
            "parameters": [f_param], "security": sec,
            "responses": {"200": _json_ok("collectie"), **_errors(400, 401, 404, 500, 503)}}}
        paths[f"{base}/queryables"] = {"get": {
            "tags": tag, "summary": f"Filterbare eigenschappen: {layer.title}",
            "operationId": f"queryables_{op}", "parameters": [f_param], "security": sec,
            "responses": {"200": _json_ok("JSON Schema", "application/schema+json"),
                          **_errors(400, 401, 404)}}}
        paths[f"{base}/items"] = {"get": {
            "tags": tag, "summary": f"Objecten: {layer.title}",
            "description": layer.description + role, "operationId": f"items_{op}",
            "security": sec,
            "parameters": [_param_ref(n) for n in ("bbox", "bbox-crs", "datetime", "limit",
                                                    "offset", "crs", "f")]
            + _layer_params(layer, public),
            "responses": {
                "200": {"description": "GeoJSON FeatureCollection; gzip-gecomprimeerd als "
                        "Accept-Encoding dat toestaat (eigen ETag, Vary: Accept-Encoding). Wat "
                        "voor alle objecten gelijk is (bv. methode en venster van een "
                        "hotspotlaag) staat één keer in het lid 'parameters'.",
                        "headers": {"Content-Crs": {"schema": {"type": "string"}},
                                    "ETag": {"schema": {"type": "string"}},
                                    "Content-Encoding": {"schema": {"type": "string",
                                                                    "enum": ["gzip"]}},
                                    "Vary": {"schema": {"type": "string"}}},
                        "content": {GEOJSON: {"schema": {
                            "$ref": "#/components/schemas/FeatureCollection"}}}},
                "304": {"description": "niet gewijzigd (If-None-Match)"},
                **_errors(400, 401, 404, 500, 503)}}}
        paths[f"{base}/items/{{featureId}}"] = {"get": {
            "tags": tag, "summary": f"Eén object: {layer.title}",
            "operationId": f"item_{op}", "security": sec,
            "parameters": [_param_ref("featureId"), _param_ref("crs"), f_param]
            + [p for p in _layer_params(layer, public) if p["name"] not in layer.queryables],
            "responses": {
                "200": {"description": "GeoJSON Feature",
                        "content": {GEOJSON: {"schema": {"$ref": "#/components/schemas/Feature"}}}},
                "304": {"description": "niet gewijzigd (If-None-Match)"},
                **_errors(400, 401, 404, 500, 503)}}}
    from .tiles import openapi_paths as tile_paths

    paths.update(tile_paths(f_param, _errors, _security, public=public))
    from .planning import planners

    extra_schemas: dict[str, Any] = {}
    for planner in planners():
        schema = planner.request_model.model_json_schema(
            ref_template="#/components/schemas/{model}")
        schema = _oas30(schema)
        extra_schemas.update(schema.pop("$defs", {}))
        paths[f"/v1/recommendations/{planner.kind}"] = {"post": {
            "tags": ["recommendations"], "summary": planner.title,
            "description": planner.description + f" Vereist rol '{planner.role}'.",
            "operationId": f"recommend_{planner.kind.replace('-', '_')}",
            "security": [{"bearerAuth": []}, {"apiKey": []}, {"basicAuth": []}],
            "parameters": [_param_ref("crs"), query_parameter(GEMEENTE_PARAM)],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": schema}}},
            "responses": {
                "200": {"description": "advies als GeoJSON met toelichting",
                        "content": {GEOJSON: {"schema": {
                            "$ref": "#/components/schemas/FeatureCollection"}}}},
                "202": {"description": "berekening loopt; Location: statuspagina van de job",
                        "content": {"application/json": {"schema": {"type": "object"}}}},
                **_errors(400, 401, 404, 500)}}}
    paths["/v1/reports/evaluation"] = {"get": {
        "tags": ["rapporten"], "summary": "De evaluatietabel (JSON, CSV of HTML)",
        "description": "Aantallen per categorie, verschil met 1 en 5 jaar eerder (-* bij "
                       "kleine aantallen) en significantie. `level=buurt` vereist een "
                       "sleutel (analyst of police).",
        "operationId": "report_evaluation",
        "parameters": [query_parameter(p, public) for p in params.REPORT],
        "responses": {
            "200": {"description": "de tabel", "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/csv": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}}}},
            **_errors(400, 401, 500, 503)}}}
    job_responses = {
        "200": {"description": "resultaat (JSON)",
                "content": {"application/json": {"schema": {"type": "object"}}}},
        "202": {"description": "berekening loopt; Location: statuspagina van de job",
                "content": {"application/json": {"schema": {"type": "object"}}}},
        **_errors(400, 401, 404, 500)}
    analyst: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"apiKey": []}, {"basicAuth": []}]
    paths["/v1/backtest"] = {"get": {
        "tags": ["analyse"], "summary": "Backtest van de hotspotmethoden (trefkans, PAI, PEI)",
        "description": "Rollende toets van elke hotspotmethode op het verleden, met de vooraf "
                       "vastgelegde maatstaf en de beste methode. Vereist rol 'analyst'.",
        "operationId": "backtest", "security": analyst,
        "parameters": [query_parameter(p) for p in params.BACKTEST],
        "responses": job_responses}}
    paths["/v1/deployments/{deploymentId}/effect"] = {"get": {
        "tags": ["analyse"], "summary": "Heeft de inzet geholpen? (verschil-in-verschillen)",
        "description": "Schatting met 95%-interval, p-waarde en kleinste aantoonbare daling "
                       "(mde), tegen controleplaatsen gekozen met dezelfde regel als de inzet "
                       "(hetzelfde risico bij de start, of de plaatsen net onder de inzet in "
                       "dezelfde planning: placed_by_tool), met een lange voorperiode vóór het "
                       "selectievenster; een oordeel in gewone taal. Vereist rol 'analyst'.",
        "operationId": "deployment_effect", "security": analyst,
        "parameters": [
            {"name": "deploymentId", "in": "path", "required": True,
             "schema": {"type": "integer"}},
            *(query_parameter(p) for p in params.EFFECT),
        ],
        "responses": job_responses}}
    from .deployments import DeploymentChange, NewDeployment

    dep_path = {"name": "deploymentId", "in": "path", "required": True,
                "schema": {"type": "integer"}}
    record = {"application/json": {"schema": {"type": "object"}}}
    paths["/v1/deployments"] = {"post": {
        "tags": ["inzet"], "summary": "Inzet vastleggen (één, of uit een plan)",
        "description": "Eén inzet (kind, lon/lat of x/y, plannedStart/plannedEnd of start) of "
                       "geplande inzet voor gekozen rangen van een opgeslagen plan (planId, "
                       "ranks). Vereist rol 'analyst'; wordt gelogd.",
        "operationId": "deployment_create", "security": analyst,
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": oas30(NewDeployment.model_json_schema(by_alias=True))}}},
        "responses": {"201": {"description": "vastgelegde inzet", "content": record},
                      **_errors(400, 401, 404, 409, 500)}}}
    paths["/v1/deployments/{deploymentId}"] = {
        "patch": {
            "tags": ["inzet"], "summary": "Inzet plaatsen, beëindigen of annuleren",
            "description": "status geplaatst (met at), beëindigd (met at) of geannuleerd; een "
                           "overgang die de huidige status niet toelaat geeft 409. Vereist "
                           "rol 'analyst'.",
            "operationId": "deployment_change", "security": analyst, "parameters": [dep_path],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": oas30(DeploymentChange.model_json_schema(by_alias=True))}}},
            "responses": {"200": {"description": "de inzet na de wijziging", "content": record},
                          **_errors(400, 401, 404, 409, 500)}},
        "delete": {
            "tags": ["inzet"], "summary": "Geplande inzet verwijderen",
            "description": "Alleen zolang de inzet gepland is (anders 409). Vereist rol "
                           "'analyst'.",
            "operationId": "deployment_delete", "security": analyst, "parameters": [dep_path],
            "responses": {"204": {"description": "verwijderd"},
                          **_errors(401, 404, 409, 500)}}}
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "geoveilig", "version": __version__,
                 "description": "OGC API - Features (Part 1 Core, GeoJSON, OpenAPI 3.0; Part 2 "
                                "CRS) over de kaartlagen van geoveilig. Rollen: public (zonder "
                                "sleutel), analyst, police (API-sleutel via Authorization: "
                                "Bearer, X-API-Key of HTTP Basic met de sleutel als "
                                "wachtwoord). Fouten als application/problem+json.",
                 "license": {"name": "EUPL-1.2"},
                 "contact": {"name": "gemeente Helmond"}},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                # the key as the password (any user name): QGIS 3.22 can send only this
                "basicAuth": {"type": "http", "scheme": "basic"},
            },
            "parameters": _components_parameters(),
            "responses": {"Problem": _errors(400)["400"]},
            "schemas": {**extra_schemas, **_schemas()},
        },
    }
    _abuse_responses(paths)
    if base_url:
        doc["servers"] = [{"url": base_url.rstrip("/")}]
    return doc


def _abuse_responses(paths: dict[str, Any]) -> None:
    """The answers of the abuse limits (``api.ratelimit``, ``api.jobs``): 429 with
    ``Retry-After`` on every operation, 413 on request bodies, 503 on job queues."""
    retry = {"Retry-After": {"schema": {"type": "integer"},
                             "description": "seconden tot een nieuwe poging"}}
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for ops in paths.values():
        for method, op in ops.items():
            responses = op.setdefault("responses", {})
            responses.setdefault("429", {"description": "te veel verzoeken of lopende "
                                         "berekeningen", "headers": retry, "content": problem})
            if method == "post":
                responses.setdefault("413", {"description": "body te groot",
                                             "content": problem})
            if "202" in responses:
                responses.setdefault("503", {"description": "wachtrij vol",
                                             "headers": retry, "content": problem})


def ft_openapi() -> str:
    from .ogc import OPENAPI_JSON

    return OPENAPI_JSON


def _components_parameters() -> dict[str, Any]:
    crs_schema = {"type": "string", "enum": list(ft.SUPPORTED_CRS), "default": ft.CRS84}
    return {
        "limit": {"name": "limit", "in": "query", "required": False, "style": "form",
                  "explode": False,
                  "description": f"Aantal objecten per pagina (standaard {ft.DEFAULT_LIMIT}, "
                                 f"maximaal {ft.MAX_LIMIT}; een grotere waarde wordt "
                                 "teruggebracht tot het maximum).",
                  "schema": {"type": "integer", "minimum": 1, "maximum": ft.MAX_LIMIT,
                             "default": ft.DEFAULT_LIMIT}},
        "offset": {"name": "offset", "in": "query", "required": False,
                   "description": "Aantal objecten om over te slaan (de next-links vullen dit).",
                   "schema": {"type": "integer", "minimum": 0, "default": 0}},
        "bbox": {"name": "bbox", "in": "query", "required": False, "style": "form",
                 "explode": False,
                 "description": "minx,miny,maxx,maxy in bbox-crs (standaard CRS84: lengte, "
                                "breedte).",
                 "schema": {"type": "array", "minItems": 4, "maxItems": 6,
                            "items": {"type": "number"},
                            "oneOf": [{"minItems": 4, "maxItems": 4},
                                      {"minItems": 6, "maxItems": 6}]}},
        "bbox-crs": {"name": "bbox-crs", "in": "query", "required": False,
                     "description": "Coördinatenstelsel van bbox.", "schema": crs_schema},
        "crs": {"name": "crs", "in": "query", "required": False,
                "description": "Coördinatenstelsel van de uitvoer (Content-Crs-header).",
                "schema": crs_schema},
        "datetime": {"name": "datetime", "in": "query", "required": False,
                     "description": "Moment of interval (RFC 3339), open einde met '..', bv. "
                                    "2017-01-01T00:00:00Z/.. of 2017-03-01/2017-03-31.",
                     "schema": {"type": "string", "pattern": ft.datetime_pattern()}},
        "f": {"name": "f", "in": "query", "required": False,
              "description": "Uitvoerformaat.",
              "schema": {"type": "string", "enum": list(ft.FORMATS)}},
        "featureId": {"name": "featureId", "in": "path", "required": True,
                      "description": "Id van het object.", "schema": {"type": "string"}},
    }


def _schemas() -> dict[str, Any]:
    link = {"type": "object", "required": ["href"], "properties": {
        "href": {"type": "string"}, "rel": {"type": "string"}, "type": {"type": "string"},
        "title": {"type": "string"}}}
    feature = {"type": "object", "required": ["type", "geometry", "properties"], "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "geometry": {"type": "object", "nullable": True},
        "properties": {"type": "object", "nullable": True},
        "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}}}
    return {
        "Link": link,
        "Feature": feature,
        "FeatureCollection": {
            "type": "object", "required": ["type", "features"], "properties": {
                "type": {"type": "string", "enum": ["FeatureCollection"]},
                "features": {"type": "array", "items": {"$ref": "#/components/schemas/Feature"}},
                "numberMatched": {"type": "integer", "minimum": 0},
                "numberReturned": {"type": "integer", "minimum": 0},
                "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}}},
        "Problem": {
            "type": "object", "required": ["type", "title", "status", "detail"], "properties": {
                "type": {"type": "string"}, "title": {"type": "string"},
                "status": {"type": "integer"}, "detail": {"type": "string"},
                "parameter": {"type": "string"}}},
    }


#: Paths outside the layer catalogue and the planners that need a role (by prefix).
ROLE_PREFIXES = (("/v1/backtest", "analyst"), ("/v1/deployments", "analyst"),
                 ("/v1/plans", "analyst"), ("/v1/alerts", "police"))


def path_role(path: str) -> str:
    """The role an OpenAPI path needs (``public`` when anyone may call it)."""
    from ..layers import _REGISTRY
    from .planning import _PLANNERS

    parts = path.split("/")
    if path.startswith("/v1/collections/") and len(parts) > 3:
        layer = _REGISTRY.get(parts[3])
        return layer.role if layer is not None else "public"
    if path.startswith("/v1/recommendations/") and len(parts) > 3:
        planner = _PLANNERS.get(parts[3])
        return planner.role if planner is not None else "analyst"
    for prefix, role in ROLE_PREFIXES:
        if path.startswith(prefix):
            return role
    return "public"


def for_role(doc: dict[str, Any], role: str) -> dict[str, Any]:
    """The OpenAPI document as ``role`` sees it: only the paths that role may call (a
    restricted path answers 404 to the others, so it is not advertised to them either)."""
    from ..layers import allows

    paths = {p: op for p, op in doc["paths"].items() if allows(role, path_role(p))}
    return {**doc, "paths": paths}


def _oas30(schema: Any) -> Any:
    """A pydantic (JSON Schema 2020-12) schema in OpenAPI 3.0 terms: numeric
    ``exclusiveMinimum``/``exclusiveMaximum`` become ``minimum``/``maximum`` with a boolean,
    ``anyOf`` with ``{"type": "null"}`` becomes ``nullable``."""
    if isinstance(schema, list):
        return [_oas30(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _oas30(v) for k, v in schema.items()}
    for key, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = out.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[bound] = value
            out[key] = True
    options = out.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [o for o in options if o != {"type": "null"}]
        out.pop("anyOf")
        if len(rest) == 1:
            out.update(rest[0])
        else:
            out["anyOf"] = rest
        out["nullable"] = True
    return out
