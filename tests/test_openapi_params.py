"""The served OpenAPI documents (one per role) against what the parsers accept.

For every GET operation and query parameter in the document a role is served, and for a pool
of values (the schema's own bounds, enums, defaults and examples, plus edge values such as the
years 1899/1900/2100/2101, the periods 2017-W10 and 2017q4, every hotspot method of
``METHODS``, crime type slugs and groups): a value the published schema admits is accepted by
the route (no 400 naming that parameter), and a value it rejects gets a 400 problem+json whose
``parameter`` is the API name of that parameter. One declaration per parameter
(``layers.Param``, ``api/params.py``) makes both sides; this test is what keeps them equal.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

import jsonschema
import pytest
from fastapi.testclient import TestClient

from geoveilig.api import create_app
from geoveilig.crimetypes import GROUPS, SLUGS
from geoveilig.hotspots import METHODS
from tests.api_support import build_store

ROLES = ("public", "analyst", "police")

#: values of path parameters: cheap to answer (an empty tile far from Helmond, an unknown
#: feature: a 404 is still "accepted by the parser")
PATH_VALUES = {"featureId": "x", "deploymentId": "1", "jobId": "x",
               "tileMatrixSetId": "WebMercatorQuad", "tileMatrix": "20", "tileRow": "0",
               "tileCol": "0"}

#: edge values per parameter name, beside what each schema gives itself
POOL: dict[str, tuple[str, ...]] = {
    "year": ("1899", "1900", "1999", "2017", "2100", "2101", "17", "2017.0"),
    "quarter": ("0", "1", "4", "5"),
    "period": ("2017", "2017-Q1", "2017q4", "2017-W10", "2017w10", "2017-03", "2017-3",
               "2017-13", "2017-W54", "1899", "1899-Q1", "2101-01", "2017-Q5",
               "2017-01-01/2017-06-30", "2017-01-01..2017-07-01", "Q1-2017", "vorig jaar"),
    "crimeType": ("woninginbraak", "fietsendiefstal", "hic", "totaal", "inbraak",
                  "woninginbraak,straatroof", "fraude", "Woninginbraak", "woninginbraak,,"),
    "method": (*METHODS, "best", "KDE"),
    "methods": ("naive", "naive,kde", "naive,best", "alle"),
    "window": ("14d", "2w", "1m", "366d", "367d", "12m", "13m", "53w", "0d", "14",
               "2 weken"),
    "date": ("2018-04-20", "1899-12-31", "2101-01-01", "2018-02-30", "20-04-2018"),
    "origin": ("2018-01-01", "1899-12-31", "2018-13-01", "morgen"),
    "origins": ("2", "104", "1", "105"),
    # (a bbox in RD needs bbox-crs: a rule between two parameters, not of one schema)
    "bbox": ("5.6,51.4,5.7,51.5", "5.6,51.4,0,5.7,51.5,10", "1,2,3", "1,2,3,4,5", "a,b,c,d"),
    "datetime": ("2017-01-01", "2017-01-01T00:00:00Z/..", "../2017-12-31", "gisteren"),
    "limit": ("1", "0", "10000", "-1", "1.5"),
    "offset": ("0", "5", "-1", "x"),
    "planId": ("1", "0", "-3", "x"),
}
GENERIC = ("", "x")

#: problem types that answer well-formed values the data cannot serve (e.g. a hotspot method
#: that finds no difference between cells in the sample): not a parser's refusal
DATA_REFUSALS = ("https://geoveilig.nl/problems/insufficient-data",)

#: parameters whose documented behaviour includes values outside the schema: a limit above
#: the maximum is brought back to the maximum (OGC API - Features; said in its description)
CLAMPED_ABOVE_MAXIMUM = {"limit"}


@pytest.fixture(scope="module")
def api(tmp_path_factory, shared_geo, areas, demo_incidents):  # type: ignore[no-untyped-def]
    settings, keys = build_store(tmp_path_factory.mktemp("openapi-params"), shared_geo, areas,
                                 demo_incidents)
    # jobs answer 202 at once and a full queue answers 503: the parameters are parsed before
    # a job is queued, so neither hides a parser's answer, and no backtest runs for minutes
    # (a 500 m grid: the hotspot layer, built once per parameter value, is 16 times smaller)
    settings = settings.model_copy(update={"job_wait": 0.0, "job_queue": 1, "grid_size": 500.0,
                                           "jobs_per_caller": 1, "rate_limit_heavy": ""})
    with TestClient(create_app(settings)) as client:
        yield client, keys


def _headers(keys: dict[str, str], role: str) -> dict[str, str]:
    return {} if role == "public" else {"Authorization": f"Bearer {keys[role]}"}


def _resolve(doc: dict[str, Any], param: dict[str, Any]) -> dict[str, Any]:
    ref = param.get("$ref")
    if ref is None:
        return param
    return doc["components"]["parameters"][ref.rsplit("/", 1)[1]]


def _operations(doc: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    out = []
    for path, ops in doc["paths"].items():
        op = ops.get("get")
        if op is None:
            continue
        params = [_resolve(doc, p) for p in op.get("parameters", [])]
        if any(p["in"] == "path" and p["name"] not in PATH_VALUES for p in params):
            continue
        out.append((path, params))
    return out


def _candidates(param: dict[str, Any]) -> list[str]:
    schema = param["schema"]
    values: list[str] = [*GENERIC, *POOL.get(param["name"], ())]
    for key in ("default", "example"):
        if key in schema:
            values.append(str(schema[key]))
    if "example" in param:
        values.append(str(param["example"]))
    for option in schema.get("enum", ()):
        values += [str(option), str(option).upper()]
    if schema.get("type") == "integer":
        for bound in ("minimum", "maximum"):
            if bound in schema:
                values += [str(schema[bound] - 1), str(schema[bound]), str(schema[bound] + 1)]
        values += ["1.5", "abc"]
    return list(dict.fromkeys(values))


def _admits(schema: dict[str, Any], text: str) -> bool:
    """Whether the raw query value ``text`` is what ``schema`` describes."""
    kind = schema.get("type")
    value: Any = text
    if kind == "integer":
        if not re.fullmatch(r"-?\d+", text):
            return False
        value = int(text)
    elif kind == "array":  # style form, explode false: comma-separated
        try:
            value = [float(v) for v in text.split(",")] if text else []
        except ValueError:
            return False
    checker = jsonschema.FormatChecker()
    return jsonschema.Draft7Validator(schema, format_checker=checker).is_valid(value)


def _url(path: str, query: dict[str, str]) -> str:
    for name, value in PATH_VALUES.items():
        path = path.replace("{" + name + "}", value)
    return path + ("?" + urlencode(query) if query else "")


@pytest.mark.slow  # some 2,000 requests (about a minute on a busy machine)
def test_every_documented_parameter_is_parsed_as_documented(api) -> None:  # type: ignore[no-untyped-def]
    client, keys = api
    seen: set[tuple[str, str, str, str]] = set()
    checked = 0
    mismatches: list[str] = []
    for role in ROLES:  # the lowest role first: higher roles add paths, and other schemas
        headers = _headers(keys, role)
        doc = client.get("/v1/api", headers=headers).json()
        for path, params in _operations(doc):
            required = {p["name"]: str(p.get("example") or p["schema"].get("example", ""))
                        for p in params if p["in"] == "query" and p.get("required")}
            for param in params:
                if param["in"] != "query":
                    continue
                name, schema = param["name"], param["schema"]
                for value in _candidates(param):
                    # one route serves every collection: a declaration shared by several
                    # layers (same schema) is tried once per route
                    route = re.sub(r"^/v1/collections/[^/]+", "/v1/collections/{c}", path)
                    key = (route, name, json.dumps(schema, sort_keys=True), value)
                    if key in seen:
                        continue
                    seen.add(key)
                    admitted = _admits(schema, value)
                    if (not admitted and name in CLAMPED_ABOVE_MAXIMUM
                            and re.fullmatch(r"\d+", value)
                            and int(value) > schema.get("maximum", float("inf"))):
                        admitted = True
                    r = client.get(_url(path, {**required, name: value}), headers=headers)
                    body = (r.json() if r.headers.get("content-type", "").startswith(
                        "application/problem+json") else {})
                    refused = (r.status_code == 400 and body.get("parameter") == name
                               and body.get("type") not in DATA_REFUSALS)
                    checked += 1
                    if admitted and refused:
                        mismatches.append(f"{role} {path} {name}={value!r}: the schema admits "
                                          f"it, the route refuses it: {body.get('detail')}")
                    elif not admitted and not refused:
                        mismatches.append(f"{role} {path} {name}={value!r}: the schema "
                                          f"refuses it, the route answers {r.status_code} "
                                          f"{body.get('parameter', '')}")
    assert checked > 400  # every route with its parameters was tried
    assert not mismatches, "\n".join(mismatches)


def test_documented_enums_and_ranges_come_from_the_code(api) -> None:  # type: ignore[no-untyped-def]
    """The method enum is ``METHODS``; the year range is the same everywhere; the period
    pattern takes 2017-W10 and 2017q4 for a key holder, and calendar units only for the
    public (the disclosure control)."""
    client, keys = api
    doc = client.get("/v1/api", headers=_headers(keys, "analyst")).json()

    def param(path: str, name: str) -> dict[str, Any]:
        found = [_resolve(doc, p) for p in doc["paths"][path]["get"]["parameters"]]
        return next(p for p in found if p["name"] == name)

    assert param("/v1/collections/hotspots/items", "method")["schema"]["enum"] == list(METHODS)
    years = {(param(p, "year")["schema"]["minimum"], param(p, "year")["schema"]["maximum"])
             for p in ("/v1/collections/wijken/items", "/v1/reports/evaluation")}
    assert years == {(1900, 2100)}
    for path in ("/v1/collections/wijken/items", "/v1/reports/evaluation"):
        pattern = param(path, "period")["schema"]["pattern"]
        assert all(re.search(pattern, v) for v in ("2017-W10", "2017q4", "2017-03"))
    public = client.get("/v1/api").json()
    items = [_resolve(public, p)
             for p in public["paths"]["/v1/collections/wijken/items"]["get"]["parameters"]]
    period = next(p for p in items if p["name"] == "period")["schema"]["pattern"]
    assert re.search(period, "2017q4") and not re.search(period, "2017-W10")
    crime = next(p for p in items if p["name"] == "crimeType")["schema"]["pattern"]
    tokens = (*SLUGS, *GROUPS)
    assert all(re.search(crime, t) for t in tokens)
    assert not re.search(crime, "woninginbraak,straatroof")


@pytest.mark.parametrize(("url", "role", "parameter"), [
    ("/v1/reports/evaluation?year=2017&crimeType=fraude", "public", "crimeType"),
    ("/v1/reports/evaluation?period=2017-W99", "public", "period"),
    ("/v1/collections/wijken/items?crimeType=kattenkwaad", "public", "crimeType"),
    ("/v1/backtest?crimeType=kattenkwaad", "analyst", "crimeType"),
    ("/v1/backtest?crimeType=woninginbraak&window=400d", "analyst", "window"),
    ("/v1/deployments/1/effect?crimeType=kattenkwaad", "analyst", "crimeType"),
])
def test_problem_names_the_api_parameter(api, url, role, parameter) -> None:  # type: ignore[no-untyped-def]
    """Core errors carry English field names (``crime_type``); the caller sees the API's
    name, never ``misdrijftype`` or ``crime_type``."""
    client, keys = api
    r = client.get(url, headers=_headers(keys, role))
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["parameter"] == parameter
