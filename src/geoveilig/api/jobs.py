"""Long computations as jobs, identical requests cached (the queue itself is
``geoveilig.jobs``: in process on SQLite, in the database on PostgreSQL).

A planning endpoint calls ``run_job(request, kind, payload, compute, spec=...)``: the key is
the kind, the canonical JSON of the payload and the store's data version. A known key returns
the existing job (finished: its result at once; running: the same status URL). A new key is
queued and the request waits up to ``wait`` seconds: finished in time means 200 with the
result, otherwise 202 with ``Location: /v1/jobs/{id}`` (status: accepted, running,
successful, failed, with ``progress`` 0-100 and a ``results`` link when done). Status and
result are readable from every API worker when the queue is in the database.

``compute(progress)`` runs the job in this process (``LocalQueue``); ``spec`` (``{"handler",
"args"}``) lets any worker recompute it with the handler registered in ``geoveilig.jobs``
(``StoreQueue``). Routes build ``compute`` from the same handler.

Gemeenten: a job records the gemeenten it is about (``gemeenten``; default every configured
gemeente), which are part of its key too; ``/v1/jobs/{id}`` and its results answer 404, as for
an unknown job, to a caller whose key does not hold for all of them (``jobs.visible``).

Abuse limits: the key also holds the caller's role (an analyst never receives a police job);
at most ``max_active`` jobs are queued or running at once (more: 503 with ``Retry-After``),
at most ``per_caller`` of them for one caller (a key, or an address without key; more: 429
with ``Retry-After``), counted over all workers when the queue is in the database.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ..errors import GeoveiligError, NotFound
from ..jobs import (
    Job,
    JobEnv,
    JobQueue,
    JobResult,
    JobsBusy,
    LocalQueue,
    Progress,
    StoreQueue,
)
from .auth import caller, client_address
from .services import services

__all__ = ["SWITCH_INTERVAL", "Job", "JobManager", "JobResult", "JobsBusy", "Progress",
           "jobs_router", "load_handlers", "make_queue", "run_job"]

#: GIL switch interval of the API process (seconds; Python's default is 0.005): a job thread
#: holding the GIL hands it to the event loop at least this often.
SWITCH_INTERVAL = 0.001
#: the in-process executor under its old name
JobManager = LocalQueue


def load_handlers() -> None:
    """Register the job handlers of the API's planning and analysis routes (what a
    ``geoveilig worker`` must know to run their jobs)."""
    from . import alerts, analysis, planners, planning  # noqa: F401


def make_queue(settings: Any, env: JobEnv) -> JobQueue:
    """The job queue of an API process: in the database on PostgreSQL (with
    ``settings.api_job_threads`` worker threads in this process, 0: only ``geoveilig
    worker`` runs jobs), in process on SQLite."""
    if env.store.engine.dialect.name == "postgresql":
        load_handlers()
        return StoreQueue(env.store, max_active=settings.job_queue,
                          per_caller=settings.jobs_per_caller,
                          threads=settings.api_job_threads, env=env,
                          lease=settings.job_lease)
    return LocalQueue(workers=max(1, settings.api_job_threads), max_active=settings.job_queue,
                      per_caller=settings.jobs_per_caller)


def run_job(request: Request, kind: str, payload: dict[str, Any],
            compute: Callable[[Progress], Any], *, wait: float | None = None,
            spec: dict[str, Any] | None = None,
            gemeenten: Iterable[str] | None = None) -> Response:
    """Run or reuse the job for (kind, payload, gemeenten, data version); see the module
    docstring. ``wait``: seconds to wait for the result before answering 202 (default: the
    setting ``job_wait``, 2 s). ``gemeenten``: the CBS codes the result is about (None: every
    configured gemeente)."""
    who = caller(request)
    svc = services(request)
    version = svc.store.data_version()
    # the queue normalises the codes (sorted, each once) for the job's key and access check
    about = tuple(svc.areas.gemeente_codes if gemeenten is None else gemeenten)
    key = json.dumps([kind, payload, version], sort_keys=True, default=str)
    jobs = svc.jobs
    owner = who.actor if who.actor != "public" else f"addr:{client_address(request)}"
    job, _new = jobs.submit(kind, key, who.role, compute, owner=owner, spec=spec,
                            gemeenten=about)
    if wait is None:
        wait = svc.settings.job_wait
    job = jobs.wait(job, wait)
    if job.status == "successful" and job.result is not None:
        return Response(job.result.body, media_type=job.result.media_type,
                        headers={"X-Job-Id": job.id})
    href = job_url(request, job.id)
    return JSONResponse(job.info(href), status_code=202, headers={"Location": href})


def job_url(request: Request, job_id: str) -> str:
    """A job's status URL, from the jobs router's prefix (links never spell the version)."""
    return str(request.url_for("job_status", job_id=job_id))


def jobs_router(prefix: str = "/v1") -> APIRouter:
    router = APIRouter(prefix=f"{prefix}/jobs", tags=["jobs"], include_in_schema=False)

    @router.get("/{job_id}")
    def job_status(job_id: str, request: Request) -> JSONResponse:
        who = caller(request)
        job = services(request).jobs.get(job_id, who.role, allowed=who.gemeenten)
        return JSONResponse(job.info(job_url(request, job.id)))

    @router.get("/{job_id}/results")
    def job_results(job_id: str, request: Request) -> Response:
        who = caller(request)
        job = services(request).jobs.get(job_id, who.role, with_result=True,
                                         allowed=who.gemeenten)
        if job.status == "failed" and job.error:
            raise GeoveiligError(job.error["detail"])
        if job.result is None:
            raise NotFound(f"job '{job_id}' is nog niet klaar (status {job.status})")
        return Response(job.result.body, media_type=job.result.media_type)

    return router
