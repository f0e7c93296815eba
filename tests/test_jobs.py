"""The job queue in the store (``store.jobs``, ``geoveilig.jobs``): submissions with their
limits counted in the database, claims that never hand one job to two workers, leases that
bring back the job of a dead worker (once, then a Dutch failure), workers that run registered
handlers, and the ``geoveilig worker`` command."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from geoveilig.errors import InvalidInput
from geoveilig.jobs import JobEnv, JobsBusy, StoreQueue, register_handler, run_worker
from geoveilig.store.jobs import (
    QueueFull,
    claim_job,
    finish_job,
    get_job,
    heartbeat,
    jobs,
    recover_expired,
    submit_job,
)


def _submit(store, key, owner="a", *, max_active=10, per_caller=10):  # type: ignore[no-untyped-def]
    return submit_job(store, kind="test", job_key=key, role="analyst", owner=owner,
                      spec={"handler": "test-square", "args": {"n": 3}},
                      max_active=max_active, per_caller=per_caller)


def test_submissions_dedupe_and_count_limits_in_the_store(store) -> None:  # type: ignore[no-untyped-def]
    first, new = _submit(store, "k1", per_caller=2, max_active=3)
    assert new and first.status == "accepted" and first.spec["args"] == {"n": 3}
    again, new = _submit(store, "k1", per_caller=2, max_active=3)
    assert not new and again.id == first.id
    _submit(store, "k2", per_caller=2, max_active=3)
    with pytest.raises(QueueFull) as err:
        _submit(store, "k3", per_caller=2, max_active=3)
    assert err.value.scope == "owner"
    _submit(store, "k3", owner="b", per_caller=2, max_active=3)
    with pytest.raises(QueueFull) as err:
        _submit(store, "k4", owner="c", per_caller=2, max_active=3)
    assert err.value.scope == "all"
    # a failed job is not reused: the same key queues a new one
    row = claim_job(store, "w1", lease=30)
    assert row is not None and row.id == first.id  # the oldest first
    assert finish_job(store, row.id, "w1", error={"detail": "kapot"}, message="kapot")
    fresh, new = _submit(store, "k1", per_caller=2, max_active=3)
    assert new and fresh.id != first.id


def test_two_workers_never_claim_the_same_job(store) -> None:  # type: ignore[no-untyped-def]
    ids = {_submit(store, f"k{i}")[0].id for i in range(6)}
    claimed: list[str] = []
    lock = threading.Lock()

    def claim(name: str) -> None:
        while (row := claim_job(store, name, lease=30)) is not None:
            with lock:
                claimed.append(row.id)

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)  # each exactly once


def test_a_dead_workers_job_is_retried_once_then_failed_in_dutch(store) -> None:  # type: ignore[no-untyped-def]
    job, _ = _submit(store, "k")
    row = claim_job(store, "dead-1", lease=0.05)
    assert row is not None and row.attempts == 1
    time.sleep(0.1)  # no heartbeat: the lease runs out
    assert not heartbeat(store, "nobody", "dead-1", lease=30, progress=0, message="")
    row = claim_job(store, "dead-2", lease=0.05, max_attempts=2)
    assert row is not None and row.id == job.id and row.attempts == 2
    # the first worker comes back: its lease is gone, it may not write
    assert not heartbeat(store, job.id, "dead-1", lease=30, progress=50, message="")
    assert not finish_job(store, job.id, "dead-1", result=b"{}")
    time.sleep(0.1)
    assert recover_expired(store, max_attempts=2) == 1
    failed = get_job(store, job.id)
    assert failed is not None and failed.status == "failed"
    assert "gestopt" in failed.message and failed.error["status"] == 500
    assert claim_job(store, "w3", lease=30) is None


def _square(env, args, progress):  # type: ignore[no-untyped-def]
    progress(50, "halverwege")
    if args["n"] < 0:
        raise InvalidInput("n mag niet negatief zijn", where="n")
    return {"square": args["n"] ** 2, "incidents": len(env.store.incidents())}


register_handler("test-square", _square)


def test_a_worker_runs_what_any_queue_submitted(store, areas) -> None:  # type: ignore[no-untyped-def]
    api_a = StoreQueue(store, max_active=4, per_caller=4)
    api_b = StoreQueue(store, max_active=4, per_caller=4)
    job, new = api_a.submit("test", "k", "police", lambda _p: None, owner="x",
                            spec={"handler": "test-square", "args": {"n": 7}})
    bad, _ = api_a.submit("test", "bad", "police", lambda _p: None, owner="x",
                          spec={"handler": "test-square", "args": {"n": -1}})
    unknown, _ = api_a.submit("test", "u", "police", lambda _p: None, owner="x",
                              spec={"handler": "no-such-handler", "args": {}})
    assert new and api_b.active() == 3 and api_b.active("x") == 3
    # an analyst cannot see the police's job; the public neither
    for role in ("analyst", "public"):
        with pytest.raises(Exception, match="onbekende job"):
            api_b.get(job.id, role)
    with pytest.raises(ValueError):  # a job that only exists as a closure cannot be queued
        api_a.submit("test", "closure", "police", lambda _p: None)
    assert run_worker(JobEnv(areas, store), max_jobs=3, poll=0.01) == 3
    done = api_b.wait(api_b.get(job.id, "police"), 1.0)
    assert done.status == "successful" and done.progress == 100
    assert done.result is not None and b'"square": 49' in done.result.body
    failed = api_b.get(bad.id, "police")
    assert failed.status == "failed" and failed.error["detail"] == "n mag niet negatief zijn"
    assert failed.error["status"] == 400
    lost = api_b.get(unknown.id, "police")
    assert lost.status == "failed" and "no-such-handler" in lost.error["detail"]
    assert api_a.active() == 0
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(jobs)).scalar_one() == 3


def test_store_queue_limits_become_503_and_429(store) -> None:  # type: ignore[no-untyped-def]
    q = StoreQueue(store, max_active=2, per_caller=1, retry_after=9)
    spec = {"handler": "test-square", "args": {"n": 1}}
    q.submit("test", "a", "analyst", lambda _p: None, owner="x", spec=spec)
    with pytest.raises(JobsBusy) as err:
        q.submit("test", "b", "analyst", lambda _p: None, owner="x", spec=spec)
    assert err.value.status == 429 and err.value.retry_after == 9
    q.submit("test", "c", "analyst", lambda _p: None, owner="y", spec=spec)
    with pytest.raises(JobsBusy) as err:
        q.submit("test", "d", "analyst", lambda _p: None, owner="z", spec=spec)
    assert err.value.status == 503


def test_worker_command_needs_postgresql(tmp_path, shared_geo, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from geoveilig.cli import app
    from geoveilig.settings import get_settings

    monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GEOVEILIG_GEO_DIR", str(shared_geo))
    monkeypatch.delenv("GEOVEILIG_DATABASE_URL", raising=False)
    get_settings.cache_clear() if hasattr(get_settings, "cache_clear") else None
    result = CliRunner().invoke(app, ["worker", "--once"])
    assert result.exit_code == 1
    assert "PostgreSQL" in result.output and "Traceback" not in result.output


def test_api_process_threads_run_jobs_submitted_there(store, areas) -> None:  # type: ignore[no-untyped-def]
    q = StoreQueue(store, threads=1, env=JobEnv(areas, store), lease=5)
    try:
        job, _ = q.submit("test", "k", "analyst", lambda _p: None, owner="x",
                          spec={"handler": "test-square", "args": {"n": 4}})
        done = q.wait(job, 20)
        assert done.status == "successful" and b'"square": 16' in done.result.body
    finally:
        q.shutdown()


# --- gemeenten: a job is found only by callers of its gemeente ---------------------------------

def _queues(store):  # type: ignore[no-untyped-def]
    """The in-process executor and two API workers' database queues on the same store."""
    from geoveilig.jobs import LocalQueue

    local = LocalQueue(max_active=10, per_caller=2)
    return {"local": (local, local), "store": (StoreQueue(store, max_active=10, per_caller=2),
                                               StoreQueue(store, max_active=10, per_caller=2))}


@pytest.mark.parametrize("kind", ["local", "store"])
def test_a_job_is_found_only_by_callers_of_its_gemeente(store, kind) -> None:  # type: ignore[no-untyped-def]
    from geoveilig.errors import NotFound

    api_a, api_b = _queues(store)[kind]
    spec = {"handler": "test-square", "args": {"n": 2}}
    gate = threading.Event()
    compute = lambda _p: gate.wait(5) and {"ok": 1}  # noqa: E731
    try:
        buurdorp, new = api_a.submit("test", "same", "analyst", compute, owner="key:b",
                                     spec=spec, gemeenten=("GM9901",))
        assert new
        # the identical request for Helmond is another job: dedup never crosses gemeenten
        helmond, new = api_b.submit("test", "same", "analyst", compute, owner="key:h",
                                    spec=spec, gemeenten=("GM0794",))
        assert new and helmond.id != buurdorp.id
        again, new = api_b.submit("test", "same", "analyst", compute, owner="key:b2",
                                  spec=spec, gemeenten=("GM9901",))
        assert not new and again.id == buurdorp.id  # same gemeente and role: shared
        # a Helmond key finds no Buurdorp job (as if it did not exist), status nor result
        for with_result in (False, True):
            with pytest.raises(NotFound, match="onbekende job"):
                api_b.get(buurdorp.id, "analyst", allowed=("GM0794",),
                          with_result=with_result)
        with pytest.raises(NotFound):
            api_b.get(buurdorp.id, "police", allowed=("GM0794",))
        with pytest.raises(NotFound):  # nor does the public, whatever its gemeente
            api_b.get(buurdorp.id, "public")
        for allowed in (("GM9901",), ("GM0794", "GM9901"), None):
            assert api_b.get(buurdorp.id, "analyst", allowed=allowed).id == buurdorp.id
        assert api_b.get(buurdorp.id, "police", allowed=("GM9901",)).gemeenten == ("GM9901",)
        # a job about both gemeenten: only a key for both
        both, _ = api_a.submit("test", "both", "analyst", compute, owner="key:all",
                               spec=spec, gemeenten=("GM9901", "GM0794"))
        with pytest.raises(NotFound):
            api_b.get(both.id, "analyst", allowed=("GM9901",))
        assert api_b.get(both.id, "analyst", allowed=("GM0794", "GM9901")).id == both.id
        # a public job holds public figures only: everyone finds it
        public, _ = api_a.submit("test", "pub", "public", compute, owner="addr:1",
                                 spec=spec, gemeenten=("GM9901",))
        assert api_b.get(public.id, "analyst", allowed=("GM0794",)).id == public.id
        # the per-owner limit still holds over both API workers and gemeenten
        api_a.submit("test", "h2", "analyst", compute, owner="key:h", spec=spec,
                     gemeenten=("GM0794",))
        with pytest.raises(JobsBusy) as err:
            api_b.submit("test", "h3", "analyst", compute, owner="key:h", spec=spec,
                         gemeenten=("GM9901",))
        assert err.value.status == 429
    finally:
        gate.set()
        api_a.shutdown()
        api_b.shutdown()


def test_a_job_of_unknown_gemeenten_is_for_unrestricted_keys_only(store) -> None:  # type: ignore[no-untyped-def]
    from geoveilig.errors import NotFound

    row, _ = _submit(store, "old")  # as queued before migration 0016: no gemeenten
    assert row.gemeenten is None and get_job(store, row.id).gemeenten is None
    q = StoreQueue(store)
    with pytest.raises(NotFound):
        q.get(row.id, "analyst", allowed=("GM0794",))
    assert q.get(row.id, "analyst").id == row.id
