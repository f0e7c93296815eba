"""Long computations as jobs, identical requests cached.

A planning endpoint calls ``run_job(request, kind, payload, compute)``: the key is the kind,
the canonical JSON of the payload and the store's data version. A known key returns the
existing job (finished: its result at once; running: the same status URL). A new key starts
the computation on a worker thread and waits up to ``wait`` seconds: finished in time means
200 with the result, otherwise 202 with ``Location: /v1/jobs/{id}`` (status: accepted,
running, successful, failed, with ``progress`` 0-100 and a ``results`` link when done).

``compute(progress)`` gets a ``progress(percent, message)`` callback and returns
``JobResult`` (bytes and media type) or a JSON-able object.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ..errors import GeoveiligError, NotFound
from ..layers import allows
from .auth import caller

Progress = Callable[[float, str], None]
log = logging.getLogger("geoveilig.api.jobs")


@dataclass(frozen=True)
class JobResult:
    body: bytes
    media_type: str = "application/json"


@dataclass
class Job:
    id: str
    kind: str
    key: str
    role: str
    status: str = "accepted"
    progress: float = 0.0
    message: str = ""
    created: float = field(default_factory=time.time)
    finished: float | None = None
    result: JobResult | None = None
    error: dict[str, Any] | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def info(self, base: str) -> dict[str, Any]:
        links = [{"href": f"{base}v1/jobs/{self.id}", "rel": "self",
                  "type": "application/json", "title": "status"}]
        if self.status == "successful":
            links.append({"href": f"{base}v1/jobs/{self.id}/results", "rel": "results",
                          "type": self.result.media_type if self.result else None,
                          "title": "resultaat"})
        return {"jobID": self.id, "type": "process", "processID": self.kind,
                "status": self.status, "progress": round(self.progress),
                "message": self.message,
                "created": _iso(self.created),
                "finished": _iso(self.finished) if self.finished else None,
                **({"error": self.error} if self.error else {}), "links": links}


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class JobManager:
    """Jobs keyed by request; finished jobs are kept (LRU, ``keep``) as the result cache."""

    def __init__(self, workers: int = 1, keep: int = 128) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="geoveilig-job")
        self._by_id: OrderedDict[str, Job] = OrderedDict()
        self._by_key: dict[str, str] = {}
        self._lock = threading.Lock()
        self.keep = keep

    def submit(self, kind: str, key: str, role: str,
               compute: Callable[[Progress], Any]) -> tuple[Job, bool]:
        """The job for ``key`` and whether it is new."""
        with self._lock:
            jid = self._by_key.get(key)
            if jid is not None and self._by_id[jid].status != "failed":
                self._by_id.move_to_end(jid)
                return self._by_id[jid], False
            job = Job(id=secrets.token_urlsafe(12), kind=kind, key=key, role=role)
            self._by_id[job.id] = job
            self._by_key[key] = job.id
            while len(self._by_id) > self.keep:
                old_id, old = self._by_id.popitem(last=False)
                if self._by_key.get(old.key) == old_id:
                    del self._by_key[old.key]
        self._pool.submit(self._run, job, compute)
        return job, True

    def _run(self, job: Job, compute: Callable[[Progress], Any]) -> None:
        def progress(percent: float, message: str = "") -> None:
            job.progress = max(0.0, min(100.0, float(percent)))
            job.message = message

        job.status = "running"
        try:
            value = compute(progress)
            job.result = value if isinstance(value, JobResult) else JobResult(
                json.dumps(value, ensure_ascii=False).encode())
            job.status, job.progress = "successful", 100.0
        except GeoveiligError as exc:
            job.status = "failed"
            job.error = {"type": f"https://geoveilig.nl/problems/{exc.code}",
                         "status": exc.status, "detail": exc.message}
            job.message = exc.message
        except Exception:
            job.status = "failed"
            job.error = {"type": "https://geoveilig.nl/problems/internal", "status": 500,
                         "detail": "de berekening is mislukt; de fout is gelogd"}
            job.message = job.error["detail"]
            log.exception("job %s (%s) mislukt", job.id, job.kind)
        finally:
            job.finished = time.time()
            job.done.set()

    def get(self, job_id: str, role: str) -> Job:
        job = self._by_id.get(job_id)
        if job is None or not allows(role, job.role):
            raise NotFound(f"onbekende job '{job_id}'")
        return job

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def run_job(request: Request, kind: str, payload: dict[str, Any],
            compute: Callable[[Progress], Any], *, wait: float = 2.0) -> Response:
    """Run or reuse the job for (kind, payload, data version); see the module docstring."""
    from ..layers import data_version

    who = caller(request)
    version = data_version(request.app.state.store)
    key = json.dumps([kind, payload, version], sort_keys=True, default=str)
    jobs: JobManager = request.app.state.jobs
    job, _new = jobs.submit(kind, key, who.role, compute)
    job.done.wait(wait)
    base = str(request.base_url)
    if job.status == "successful" and job.result is not None:
        return Response(job.result.body, media_type=job.result.media_type,
                        headers={"X-Job-Id": job.id})
    return JSONResponse(job.info(base), status_code=202,
                        headers={"Location": f"{base}v1/jobs/{job.id}"})


def jobs_router() -> APIRouter:
    router = APIRouter(prefix="/v1/jobs", tags=["jobs"], include_in_schema=False)

    @router.get("/{job_id}")
    def job_status(job_id: str, request: Request) -> JSONResponse:
        job = request.app.state.jobs.get(job_id, caller(request).role)
        return JSONResponse(job.info(str(request.base_url)))

    @router.get("/{job_id}/results")
    def job_results(job_id: str, request: Request) -> Response:
        job = request.app.state.jobs.get(job_id, caller(request).role)
        if job.status == "failed" and job.error:
            raise GeoveiligError(job.error["detail"])
        if job.result is None:
            raise NotFound(f"job '{job_id}' is nog niet klaar (status {job.status})")
        return Response(job.result.body, media_type=job.result.media_type)

    return router
