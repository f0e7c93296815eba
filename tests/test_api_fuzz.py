"""Fuzzing every parameter of every endpoint (schemathesis over the full OpenAPI document,
with the police key that may call all of them), including the planning endpoints
(``POST /v1/recommendations/{kind}``) and the analysis endpoints (``/v1/backtest``,
``/v1/deployments/{id}/effect``). The server runs with short job waits (0.3 s: a slow
computation answers 202 at once) and a roomy job queue; whatever the input, no answer is a
500. The other checks (schema, status codes) are in test_api_clients.py; here only the
server-error check runs, so generated bodies can be as wrong as schemathesis likes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

import geoveilig.api.planners  # noqa: F401  (registers the planning kinds)
from geoveilig.api.openapi import build_openapi
from tests.api_support import build_store, running_server

pytestmark = pytest.mark.slow

FUZZ_ENV = {"GEOVEILIG_JOB_WAIT": "0.3", "GEOVEILIG_JOB_QUEUE": "12",
            "GEOVEILIG_JOBS_PER_CALLER": "6", "GEOVEILIG_RATE_LIMIT": "10000/second",
            "GEOVEILIG_RATE_LIMIT_HEAVY": "10000/minute"}


@pytest.fixture(scope="module")
def server(tmp_path_factory, shared_geo, areas, demo_incidents) -> Iterator[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("api_fuzz")
    _cfg, keys = build_store(tmp, shared_geo, areas, demo_incidents)
    with running_server(tmp, shared_geo, **FUZZ_ENV) as base:
        yield base, keys


schema = schemathesis.openapi.from_dict(build_openapi())
OPERATIONS = {op.ok().method.upper() + " " + op.ok().path for op in schema.get_all_operations()}


def test_the_fuzz_covers_planning_and_analysis() -> None:
    for op in ("POST /v1/recommendations/alarms", "POST /v1/recommendations/cameras",
               "POST /v1/recommendations/buurttent", "GET /v1/backtest",
               "GET /v1/deployments/{deploymentId}/effect", "GET /v1/reports/evaluation",
               "GET /v1/collections/incidents/items", "GET /v1/collections/hotspots/items"):
        assert op in OPERATIONS


@schema.parametrize()
@settings(max_examples=4, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_input_gives_a_server_error(case, server) -> None:  # type: ignore[no-untyped-def]
    base, keys = server
    response = case.call(base_url=base, headers={"X-API-Key": keys["police"]}, timeout=60)
    assert response.status_code < 500 or response.status_code == 503, (
        f"{case.method} {case.formatted_path} {case.query} {case.body!r}: "
        f"{response.status_code} {response.text[:300]}")
    if response.status_code == 503:  # only the job queue may answer 503
        assert response.headers.get("Retry-After"), response.text
