"""The job queue in the database (table ``jobs``, migration ``0012``): planning runs,
backtests and evaluations queued by any API worker and run by any ``geoveilig worker``
(``geoveilig.jobs.StoreQueue`` and ``run_worker`` use these functions).

A row is one job: its kind, the hash of its cache key (kind, request, role, gemeenten, data
version), the caller that owns it, the gemeenten it is about (``gemeenten``, comma-separated
CBS codes; NULL: not known, migration 0016), the JSON ``spec`` a worker needs to recompute it,
its status (accepted, running, successful, failed), progress and message, the result bytes or
the error, and the worker's lease. Claiming takes the oldest accepted row with ``FOR UPDATE
SKIP LOCKED`` on PostgreSQL (two workers never take the same job and never wait for each
other); SQLite serialises writers anyway. A running job whose lease ran out (its worker died or
hangs) is put back in the queue, or failed with a Dutch reason after ``max_attempts`` claims.

Submissions take a transaction-wide advisory lock on PostgreSQL, so the queue limits (all
active jobs, active jobs per caller) are counted exactly across API workers and machines.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Column, Float, Integer, LargeBinary, String, Table, Text
from sqlalchemy.engine import Connection

from . import Store, metadata

#: statuses of a job that is not finished
ACTIVE = ("accepted", "running")
#: advisory lock key of job submissions (any constant; "gv-jobs")
_SUBMIT_LOCK = 0x67762D6A6F6273
#: finished jobs kept (newest first) as the result cache; older ones are deleted on submit
KEEP_FINISHED = 1000
#: message of a job whose worker stopped (crash, kill, lost machine) too often
LOST = ("de berekening is afgebroken: de verwerker die haar uitvoerde is {n} keer gestopt "
        "zonder resultaat; probeer het opnieuw of meld het de beheerder")

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("job_key", String(64), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("gemeenten", String(400)),
    Column("status", String(16), nullable=False, index=True),
    Column("progress", Float, nullable=False),
    Column("message", Text, nullable=False),
    Column("spec", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("worker", String(128)),
    Column("lease_until", Float),
    Column("attempts", Integer, nullable=False),
    Column("media_type", String(128)),
    Column("result", LargeBinary),
    Column("error", Text),
)
#: every column but the result bytes (status polls do not read them)
_STATUS = [c for c in jobs.c if c.name != "result"]


@dataclass(frozen=True)
class JobRow:
    id: str
    kind: str
    job_key: str
    role: str
    owner: str
    gemeenten: tuple[str, ...] | None
    status: str
    progress: float
    message: str
    spec: dict[str, Any]
    created_at: float
    started_at: float | None
    finished_at: float | None
    worker: str | None
    attempts: int
    media_type: str | None = None
    error: dict[str, Any] | None = None
    result: bytes | None = None


def _row(r: Any) -> JobRow:
    m = r._mapping
    return JobRow(id=m["id"], kind=m["kind"], job_key=m["job_key"], role=m["role"],
                  owner=m["owner"],
                  gemeenten=tuple(m["gemeenten"].split(",")) if m["gemeenten"] else None,
                  status=m["status"], progress=float(m["progress"]),
                  message=m["message"], spec=json.loads(m["spec"]),
                  created_at=m["created_at"], started_at=m["started_at"],
                  finished_at=m["finished_at"], worker=m["worker"], attempts=m["attempts"],
                  media_type=m["media_type"],
                  error=json.loads(m["error"]) if m["error"] else None,
                  result=bytes(m["result"]) if "result" in m and m["result"] is not None
                  else None)


class QueueFull(Exception):
    """Raised by ``submit_job`` when the queue (``scope='all'``) or the caller's share of it
    (``scope='owner'``) is full; the caller turns it into ``JobsBusy``."""

    def __init__(self, scope: str) -> None:
        super().__init__(scope)
        self.scope = scope


@contextmanager
def _write(store: Store) -> Iterator[Connection]:
    """A write transaction; on SQLite it takes the write lock up front (BEGIN IMMEDIATE), so
    a read-then-write (claim, submit) never fails on a lock upgrade."""
    with store.engine.connect() as conn:
        conn.execution_options(geoveilig_write=True)
        with conn.begin():
            yield conn


def _lock_submissions(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SUBMIT_LOCK})


def count_active(store: Store, owner: str | None = None) -> int:
    """Jobs accepted or running (of ``owner``, or all), over every worker."""
    stmt = sa.select(sa.func.count()).select_from(jobs).where(jobs.c.status.in_(ACTIVE))
    if owner is not None:
        stmt = stmt.where(jobs.c.owner == owner)
    with store.engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def submit_job(store: Store, *, kind: str, job_key: str, role: str, owner: str,
               spec: dict[str, Any], max_active: int, per_caller: int,
               gemeenten: tuple[str, ...] | None = None) -> tuple[JobRow, bool]:
    """The job for ``job_key`` (an unfailed one already there: returned as it is) or a new
    accepted one about ``gemeenten``, and whether it is new. Raises ``QueueFull`` when the
    queue or the caller's share is full (counted in the database, under a lock: exact across
    workers)."""
    now = time.time()
    with _write(store) as conn:
        _lock_submissions(conn)
        found = conn.execute(
            sa.select(*_STATUS).where(jobs.c.job_key == job_key, jobs.c.status != "failed")
            .order_by(jobs.c.created_at.desc()).limit(1)).first()
        if found is not None:
            return _row(found), False
        active = sa.select(sa.func.count()).select_from(jobs).where(jobs.c.status.in_(ACTIVE))
        if owner and conn.execute(active.where(jobs.c.owner == owner)).scalar_one() \
                >= per_caller:
            raise QueueFull("owner")
        if conn.execute(active).scalar_one() >= max_active:
            raise QueueFull("all")
        values = dict(id=secrets.token_urlsafe(12), kind=kind, job_key=job_key, role=role,
                      owner=owner, status="accepted", progress=0.0, message="",
                      gemeenten=",".join(gemeenten) if gemeenten else None,
                      spec=json.dumps(spec, sort_keys=True, default=str), created_at=now,
                      attempts=0)
        conn.execute(jobs.insert().values(**values))
        _evict(conn)
        row = conn.execute(sa.select(*_STATUS).where(jobs.c.id == values["id"])).one()
    return _row(row), True


def _evict(conn: Connection) -> None:
    """Delete finished jobs beyond the newest ``KEEP_FINISHED`` (never an active one)."""
    cutoff = conn.execute(
        sa.select(jobs.c.finished_at).where(jobs.c.finished_at.is_not(None))
        .order_by(jobs.c.finished_at.desc()).offset(KEEP_FINISHED).limit(1)).scalar()
    if cutoff is not None:
        conn.execute(jobs.delete().where(jobs.c.finished_at <= cutoff))


def get_job(store: Store, job_id: str, *, with_result: bool = False) -> JobRow | None:
    cols = list(jobs.c) if with_result else _STATUS
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(*cols).where(jobs.c.id == job_id)).first()
    return None if row is None else _row(row)


def recover_expired(store: Store, *, max_attempts: int, now: float | None = None) -> int:
    """Running jobs whose lease ran out: back to the queue, or failed (Dutch reason) when
    they were claimed ``max_attempts`` times already. Returns how many were touched."""
    now = time.time() if now is None else now
    expired = sa.and_(jobs.c.status == "running", jobs.c.lease_until < now)
    with _write(store) as conn:
        failed = conn.execute(
            jobs.update().where(expired, jobs.c.attempts >= max_attempts)
            .values(status="failed", finished_at=now, worker=None, lease_until=None,
                    message=LOST.format(n=max_attempts),
                    error=json.dumps({"type": "https://geoveilig.nl/problems/worker-lost",
                                      "status": 500, "detail": LOST.format(n=max_attempts)},
                                     ensure_ascii=False))).rowcount
        retried = conn.execute(
            jobs.update().where(expired, jobs.c.attempts < max_attempts)
            .values(status="accepted", worker=None, lease_until=None, progress=0.0,
                    message="opnieuw in de wachtrij: de vorige verwerker is gestopt")
        ).rowcount
    return int(failed) + int(retried)


def claim_job(store: Store, worker: str, *, lease: float, max_attempts: int = 2
              ) -> JobRow | None:
    """Take the oldest accepted job for ``worker`` (status running, lease ``lease`` seconds
    from now), or None when the queue is empty. Expired leases are recovered first."""
    recover_expired(store, max_attempts=max_attempts)
    now = time.time()
    with _write(store) as conn:
        job_id = conn.execute(
            sa.select(jobs.c.id).where(jobs.c.status == "accepted")
            .order_by(jobs.c.created_at, jobs.c.id).limit(1)
            .with_for_update(skip_locked=True)).scalar()
        if job_id is None:
            return None
        conn.execute(jobs.update().where(jobs.c.id == job_id).values(
            status="running", worker=worker, started_at=now, lease_until=now + lease,
            attempts=jobs.c.attempts + 1))
        row = conn.execute(sa.select(*_STATUS).where(jobs.c.id == job_id)).one()
    return _row(row)


def heartbeat(store: Store, job_id: str, worker: str, *, lease: float, progress: float,
              message: str) -> bool:
    """Extend ``worker``'s lease on a running job and record its progress; False when the
    job is no longer this worker's (its lease ran out and another worker took it)."""
    with _write(store) as conn:
        n = conn.execute(jobs.update().where(
            jobs.c.id == job_id, jobs.c.worker == worker, jobs.c.status == "running"
        ).values(lease_until=time.time() + lease, progress=progress, message=message)).rowcount
    return bool(n)


def finish_job(store: Store, job_id: str, worker: str, *, result: bytes | None = None,
               media_type: str | None = None, error: dict[str, Any] | None = None,
               message: str = "") -> bool:
    """Record the outcome of ``worker``'s job: ``result`` (successful) or ``error``
    (failed). False when the job is no longer this worker's (nothing written)."""
    values: dict[str, Any] = dict(finished_at=time.time(), lease_until=None, message=message)
    if error is None:
        values.update(status="successful", progress=100.0, result=result,
                      media_type=media_type)
    else:
        values.update(status="failed", error=json.dumps(error, ensure_ascii=False))
    with _write(store) as conn:
        n = conn.execute(jobs.update().where(
            jobs.c.id == job_id, jobs.c.worker == worker, jobs.c.status == "running"
        ).values(**values)).rowcount
    return bool(n)


__all__ = ["ACTIVE", "JobRow", "QueueFull", "claim_job", "count_active",
           "finish_job", "get_job", "heartbeat", "jobs", "recover_expired", "submit_job"]
