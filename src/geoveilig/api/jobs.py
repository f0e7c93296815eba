"""Long computations as jobs, identical requests cached.

A planning endpoint calls ``run_job(request, kind, payload, compute)``: the key is the kind,
the canonical JSON of the payload and the store's data version. A known key returns the
existing job (finished: its result at once; running: the same status URL). A new key starts
the computation on a worker thread and waits up to ``wait`` seconds: finished in time means
200 with the result, otherwise 202 with ``Location: /v1/jobs/{id}`` (status: accepted,
running, successful, failed, with ``progress`` 0-100 and a ``results`` link when done).

``compute(progress)`` gets a ``progress(percent, message)`` callback and returns
``JobResult`` (bytes and media type) or a JSON-able object.

Abuse limits: the key also holds the caller's role (an analyst never receives a police job);
at most ``max_active`` jobs are queued or running at once (more: 503 with ``Retry-After``),
at most ``per_caller`` of them for one caller (a key, or an address without key; more: 429
with ``Retry-After``); queued and running jobs are never evicted, only finished ones (LRU,
``keep``).
"""

from __future__ import annotations

import json
import logging
import queue
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ..errors import GeoveiligError, NotFound
from ..layers import allows
from .auth import caller, client_address
from .services import services

Progress = Callable[[float, str], None]
#: GIL switch interval of the API process (seconds; Python's default is 0.005): a job thread
#: holding the GIL hands it to the event loop at least this often.
SWITCH_INTERVAL = 0.001
log = logging.getLogger("geoveilig.api.jobs")


@dataclass(frozen=True)
class JobResult:
    body: bytes
    media_type: str = "application/json"


class JobsBusy(GeoveiligError):
    """The job queue is full (503) or the caller has too many jobs (429); try again after
    ``retry_after`` seconds."""

    status = 503
    code = "busy"

    def __init__(self, message: str, *, status: int = 503, retry_after: int = 5) -> None:
        super().__init__(message)
        self.status = status
        self.code = "too-many-jobs" if status == 429 else "busy"
        self.retry_after = retry_after


@dataclass
class Job:
    id: str
    kind: str
    key: str
    role: str
    owner: str = ""
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
    """Jobs keyed by request and role; finished jobs are kept (LRU, ``keep``) as the result
    cache, active ones (accepted, running) are never evicted; see the module docstring for
    the limits."""

    def __init__(self, workers: int = 1, keep: int = 128, *, max_active: int = 16,
                 per_caller: int = 2, retry_after: int = 5) -> None:
        # daemon worker threads: a long computation never holds up the process's exit
        self._queue: queue.SimpleQueue[tuple[Job, Callable[[Progress], Any]] | None] = \
            queue.SimpleQueue()
        self._workers = [threading.Thread(target=self._work, name=f"geoveilig-job-{i}",
                                          daemon=True) for i in range(workers)]
        for t in self._workers:
            t.start()
        self._by_id: OrderedDict[str, Job] = OrderedDict()
        self._by_key: dict[str, str] = {}
        self._lock = threading.Lock()
        self.keep = keep
        self.max_active = max_active
        self.per_caller = per_caller
        self.retry_after = retry_after

    def active(self, owner: str | None = None) -> int:
        """Jobs queued or running (of ``owner``, or all)."""
        return sum(1 for j in self._by_id.values() if j.finished is None
                   and (owner is None or j.owner == owner))

    def submit(self, kind: str, key: str, role: str,
               compute: Callable[[Progress], Any], owner: str = "") -> tuple[Job, bool]:
        """The job for ``key`` (and ``role``) and whether it is new. Raises ``JobsBusy``
        when the queue or the caller's share of it is full."""
        key = json.dumps([role, key])
        with self._lock:
            jid = self._by_key.get(key)
            if jid is not None and self._by_id[jid].status != "failed":
                self._by_id.move_to_end(jid)
                return self._by_id[jid], False
            if owner and self.active(owner) >= self.per_caller:
                raise JobsBusy(f"u heeft al {self.per_caller} berekeningen lopen; wacht tot "
                               "die klaar zijn", status=429, retry_after=self.retry_after)
            if self.active() >= self.max_active:
                raise JobsBusy("de planningswachtrij is vol; probeer het later opnieuw",
                               status=503, retry_after=self.retry_after)
            job = Job(id=secrets.token_urlsafe(12), kind=kind, key=key, role=role, owner=owner)
            self._by_id[job.id] = job
            self._by_key[key] = job.id
            self._evict()
        self._queue.put((job, compute))
        return job, True

    def _work(self) -> None:
        # (no lower OS priority for this thread: while it holds the GIL that would stall
        # the event loop too -- priority inversion)
        while (item := self._queue.get()) is not None:
            self._run(*item)

    def _evict(self) -> None:
        """Drop the oldest finished jobs beyond ``keep`` (never a queued or running one)."""
        excess = len(self._by_id) - self.keep
        if excess <= 0:
            return
        for old_id in [jid for jid, j in self._by_id.items() if j.finished is not None
                       ][:excess]:
            old = self._by_id.pop(old_id)
            if self._by_key.get(old.key) == old_id:
                del self._by_key[old.key]

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
            with self._lock:
                job.finished = time.time()
                self._evict()
            job.done.set()

    def get(self, job_id: str, role: str) -> Job:
        job = self._by_id.get(job_id)
        if job is None or not allows(role, job.role):
            raise NotFound(f"onbekende job '{job_id}'")
        return job

    def shutdown(self) -> None:
        for _ in self._workers:
            self._queue.put(None)


def run_job(request: Request, kind: str, payload: dict[str, Any],
            compute: Callable[[Progress], Any], *, wait: float | None = None) -> Response:
    """Run or reuse the job for (kind, payload, data version); see the module docstring.
    ``wait``: seconds to wait for the result before answering 202 (default: the setting
    ``job_wait``, 2 s)."""
    who = caller(request)
    svc = services(request)
    version = svc.store.data_version()
    key = json.dumps([kind, payload, version], sort_keys=True, default=str)
    jobs = svc.jobs
    owner = who.actor if who.actor != "public" else f"addr:{client_address(request)}"
    job, _new = jobs.submit(kind, key, who.role, compute, owner=owner)
    if wait is None:
        wait = svc.settings.job_wait
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
        job = services(request).jobs.get(job_id, caller(request).role)
        return JSONResponse(job.info(str(request.base_url)))

    @router.get("/{job_id}/results")
    def job_results(job_id: str, request: Request) -> Response:
        job = services(request).jobs.get(job_id, caller(request).role)
        if job.status == "failed" and job.error:
            raise GeoveiligError(job.error["detail"])
        if job.result is None:
            raise NotFound(f"job '{job_id}' is nog niet klaar (status {job.status})")
        return Response(job.result.body, media_type=job.result.media_type)

    return router
