"""Abuse limits of the API (``api.ratelimit``, ``api.jobs``) and the 500s that became 400s:
rate limits per address and per key with ``Retry-After``, the body size limit, the bounded
job queue (503) and the per-caller cap (429), jobs never evicted while queued or running,
jobs keyed by role, and complete validation of planning bodies before anything is queued."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from geoveilig.api import create_app
from geoveilig.api.jobs import JobManager, JobsBusy
from geoveilig.api.planning import Planner, register_planner, unregister_planner
from tests.api_support import build_store

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def setup(tmp_path_factory, shared_geo, areas, demo_incidents):  # type: ignore[no-untyped-def]
    return build_store(tmp_path_factory.mktemp("abuse"), shared_geo, areas, demo_incidents)


@pytest.fixture(scope="module")
def client(setup) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    settings, _ = setup
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def _h(keys: dict, role: str) -> dict[str, str]:
    return {"X-API-Key": keys[role]}


# --- 500s that are 400s ----------------------------------------------------------------------

@pytest.mark.parametrize("value", ["1000-01-01/..", "9999-12-31T23:59:59Z", "../9999-12-31",
                                   "0001-01-01T00:00:00Z/2017-01-01"])
def test_out_of_range_datetime_is_a_400(client: TestClient, setup, value: str) -> None:  # type: ignore[no-untyped-def]
    _, keys = setup
    for layer, h in (("wijken", {}), ("incidents", _h(keys, "police"))):
        r = client.get(f"/v1/collections/{layer}/items", params={"datetime": value}, headers=h)
        assert r.status_code == 400 and r.headers["content-type"] == PROBLEM, (layer, r.text)
        assert r.json()["parameter"] == "datetime"


def test_deeply_nested_and_oversized_bodies(client: TestClient, setup) -> None:  # type: ignore[no-untyped-def]
    _, keys = setup
    h = _h(keys, "analyst")
    nested = client.post("/v1/recommendations/alarms", content=b"[" * 30_000,
                         headers={**h, "Content-Type": "application/json"})
    assert nested.status_code == 400 and nested.headers["content-type"] == PROBLEM
    huge = client.post("/v1/recommendations/alarms", content=b"[" * 100_000,
                       headers={**h, "Content-Type": "application/json"})
    assert huge.status_code == 413 and huge.headers["content-type"] == PROBLEM

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it streams in
        for _ in range(100):
            yield b" " * 1000

    streamed = client.post("/v1/recommendations/alarms", content=chunks(), headers=h)
    assert streamed.status_code == 413


@pytest.mark.parametrize(("kind", "body", "field"), [
    ("alarms", {"count": 3, "window": "0d"}, "window"),
    ("alarms", {"count": 3, "window": "999d"}, "window"),
    ("alarms", {"count": 3, "method": "magie"}, "method"),
    ("alarms", {"count": 3, "origin": "9999-12-31"}, "origin"),
    ("cameras", {"count": 3, "origin": "1000-01-01"}, "origin"),
    ("buurttent", {"count": 3, "year": 2017, "slot": "XYZ-ABC"}, "slot"),
    ("buurttent", {"count": 3, "year": 2017, "slot": "H"}, "slot"),
])
def test_planning_bodies_are_validated_before_queueing(client: TestClient, setup, kind: str,
                                                       body: dict, field: str) -> None:  # type: ignore[no-untyped-def]
    _, keys = setup
    jobs: JobManager = client.app.state.services.jobs  # type: ignore[attr-defined]
    before = len(jobs._by_id)
    r = client.post(f"/v1/recommendations/{kind}", json=body, headers=_h(keys, "analyst"))
    assert r.status_code == 400 and r.headers["content-type"] == PROBLEM, r.text
    assert r.json()["detail"].startswith(field)
    assert len(jobs._by_id) == before  # nothing queued


# --- the job queue -----------------------------------------------------------------------------

class _Req(BaseModel):
    n: int = Field(ge=0, le=1000)


@pytest.fixture
def slow_planner() -> Iterator[threading.Event]:
    """A planner whose jobs wait until the test releases them."""
    release = threading.Event()

    def compute(ctx, req, progress):  # type: ignore[no-untyped-def]
        release.wait(30)
        b = ctx.areas.buurten.iloc[:1]
        return gpd.GeoDataFrame({"n": [req.n]}, geometry=shapely.centroid(b.geometry.to_numpy()),
                                crs="EPSG:28992")

    register_planner(Planner(kind="test-slow", title="traag", compute=compute,
                             request_model=_Req, role="analyst"))
    try:
        yield release
    finally:
        release.set()
        unregister_planner("test-slow")


def test_queue_bounds_caps_and_roles(setup, slow_planner) -> None:  # type: ignore[no-untyped-def]
    settings, keys = setup
    settings = settings.model_copy(update={"job_queue": 3, "jobs_per_caller": 2})
    with TestClient(create_app(settings)) as c:
        jobs: JobManager = c.app.state.services.jobs  # type: ignore[attr-defined]
        jobs.keep = 1  # evict finished jobs eagerly: active ones must survive anyway
        url = "/v1/recommendations/test-slow"
        a, p = _h(keys, "analyst"), _h(keys, "police")
        first = c.post(url, json={"n": 1}, headers=p)
        assert first.status_code == 202
        police_job = first.headers["Location"]
        # the analyst sends the same request: its own job, never the police job
        same = c.post(url, json={"n": 1}, headers=a)
        assert same.status_code == 202 and same.headers["Location"] != police_job
        assert c.get(police_job, headers=a).status_code == 404
        # per-caller cap: the analyst's second job fits, the third is refused with 429
        assert c.post(url, json={"n": 2}, headers=a).status_code == 202
        capped = c.post(url, json={"n": 3}, headers=a)
        assert capped.status_code == 429 and int(capped.headers["Retry-After"]) > 0
        assert capped.headers["content-type"] == PROBLEM
        # the queue holds 3: a fourth job (another caller) gets 503 with Retry-After
        full = c.post(url, json={"n": 4}, headers=p)
        assert full.status_code == 503 and int(full.headers["Retry-After"]) > 0
        # an identical request is not a new job: it gets the existing one, even when full
        assert c.post(url, json={"n": 1}, headers=p).headers["Location"] == police_job
        # queued and running jobs are never evicted (keep=1)
        assert c.get(police_job, headers=p).json()["status"] in ("accepted", "running")
        slow_planner.set()
        for _ in range(100):
            if jobs.active() == 0:
                break
            threading.Event().wait(0.05)
        assert jobs.active() == 0
        assert c.post(url, json={"n": 5}, headers=p).status_code in (200, 202)


def test_job_manager_unit_limits() -> None:
    jobs = JobManager(max_active=1, per_caller=1, retry_after=7)
    gate = threading.Event()
    try:
        job, new = jobs.submit("k", "a", "analyst", lambda _p: gate.wait(5), owner="x")
        assert new and jobs.active() == 1
        with pytest.raises(JobsBusy) as err:
            jobs.submit("k", "b", "analyst", lambda _p: None, owner="y")
        assert err.value.status == 503 and err.value.retry_after == 7
        again, new = jobs.submit("k", "a", "analyst", lambda _p: None, owner="x")
        assert again is job and not new
    finally:
        gate.set()
        jobs.shutdown()


# --- rate limits ---------------------------------------------------------------------------------

def test_rate_limits_per_address_and_per_key(setup) -> None:  # type: ignore[no-untyped-def]
    settings, keys = setup
    settings = settings.model_copy(update={"rate_limit": "5/minute",
                                           "rate_limit_heavy": "2/minute"})
    with TestClient(create_app(settings)) as c:
        statuses = [c.get("/v1/collections").status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        r = c.get("/v1/collections")
        assert r.headers["content-type"] == PROBLEM and 0 < int(r.headers["Retry-After"]) <= 60
    with TestClient(create_app(settings)) as c:
        # the heavy routes have their own, smaller budget per key
        h = _h(keys, "analyst")
        body = {"count": 1, "window": "0d"}  # refused by validation: costs no computation
        codes = [c.post("/v1/recommendations/alarms", json=body, headers=h).status_code
                 for _ in range(3)]
        assert codes == [400, 400, 429]
    with TestClient(create_app(settings), client=("10.0.0.1", 1)) as one:
        # a key is one bucket whatever address it comes from
        third = TestClient(one.app, client=("10.0.0.3", 1))
        h = _h(keys, "police")
        assert [one.get("/v1/collections", headers=h).status_code for _ in range(5)] == \
            [200] * 5
        assert third.get("/v1/collections", headers=h).status_code == 429
        assert third.get("/v1/collections").status_code == 200  # its own address budget
