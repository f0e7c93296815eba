"""Long computations as jobs: one ``JobQueue`` interface, two executors.

- ``LocalQueue``: the embedded SQLite store's in-process executor (worker threads in the API
  process; jobs and results in memory, LRU ``keep``).
- ``StoreQueue``: jobs in the database (``store.jobs``, PostgreSQL): any API worker submits
  and reads them, any ``geoveilig worker`` process (``run_worker``; on any machine that
  reaches the database) claims and runs them. Queue limits are counted in the database.

A job is submitted with its cache ``key`` (kind, request, data version), the caller's role and
owner, a ``compute(progress)`` callable (run by ``LocalQueue``) and a ``spec``: ``{"handler":
name, "args": {...}}``, the JSON a worker needs to recompute it with the handler registered
under ``name`` (``register_handler``). A handler is ``handler(env, args, progress)`` with
``env`` a ``JobEnv`` (boundaries and store of the worker) and returns a ``JobResult`` or a
JSON-able value. Routes build ``compute`` from the same handler, so both executors run the
same code.

Limits: at most ``max_active`` jobs queued or running (more: ``JobsBusy`` 503), at most
``per_caller`` for one owner (429); an identical request (same key, role and gemeenten)
returns the existing job unless it failed.

Gemeenten: a job records the gemeenten its result is about (``gemeenten``; None: not known,
as for jobs queued before migration 0016). ``get`` finds it only for a caller whose role
allows the job's role and whose key holds for all of them (``allowed``; None: a key for every
gemeente); for anyone else it does not exist (``NotFound``: 404, not 403). Jobs of the public
role hold only public figures and are found by everyone.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import secrets
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .errors import GeoveiligError, NotFound
from .layers import allows

if TYPE_CHECKING:
    from .areas import Areas
    from .store import Store

Progress = Callable[[float, str], None]
log = logging.getLogger("geoveilig.jobs")


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


def _busy(scope: str, per_caller: int, retry_after: int) -> JobsBusy:
    if scope == "owner":
        return JobsBusy(f"u heeft al {per_caller} berekeningen lopen; wacht tot die klaar "
                        "zijn", status=429, retry_after=retry_after)
    return JobsBusy("de planningswachtrij is vol; probeer het later opnieuw", status=503,
                    retry_after=retry_after)


@dataclass
class Job:
    id: str
    kind: str
    key: str
    role: str
    owner: str = ""
    #: the gemeenten the job is about (None: not known: only unrestricted callers see it)
    gemeenten: tuple[str, ...] | None = None
    status: str = "accepted"
    progress: float = 0.0
    message: str = ""
    created: float = field(default_factory=time.time)
    finished: float | None = None
    result: JobResult | None = None
    error: dict[str, Any] | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def info(self, href: str) -> dict[str, Any]:
        """The status document (OGC API - Processes ``statusInfo``); ``href``: the job's own
        URL (the API builds it from its router)."""
        links: list[dict[str, str | None]] = [{"href": href, "rel": "self",
                  "type": "application/json", "title": "status"}]
        if self.status == "successful":
            links.append({"href": f"{href}/results", "rel": "results",
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


def encode_result(value: Any) -> JobResult:
    return value if isinstance(value, JobResult) else JobResult(
        json.dumps(value, ensure_ascii=False).encode())


def describe_error(exc: BaseException) -> dict[str, Any]:
    """The problem (type, status, Dutch detail) a failed job reports; internal errors say
    only that they were logged."""
    if isinstance(exc, GeoveiligError):
        return {"type": f"https://geoveilig.nl/problems/{exc.code}", "status": exc.status,
                "detail": exc.message}
    return {"type": "https://geoveilig.nl/problems/internal", "status": 500,
            "detail": "de berekening is mislukt; de fout is gelogd"}


# --- handlers -------------------------------------------------------------------------------

@dataclass(frozen=True)
class JobEnv:
    """What a handler computes with: the boundaries, the store, the hotspot grid
    (``GEOVEILIG_GRID_SIZE``) and the disclosure control of its process (an API worker or a
    ``geoveilig worker``, both built from the same settings)."""

    areas: Areas
    store: Store
    #: the hotspot grid (None: the 125 m grid of ``areas``)
    grid: Any = None
    #: the deployment's ``disclosure.Policy`` (None: a per-process secret)
    disclosure: Any = None

    def context(self, store: Any = None, requester: Any = None) -> Any:
        """The ``LayerContext`` of a handler (``store``: e.g. a ``disclosure.MonthStore``
        view of the store)."""
        from .layers import LayerContext

        return LayerContext(areas=self.areas, store=self.store if store is None else store,
                            requester=requester, disclosure=self.disclosure, grid=self.grid)


Handler = Callable[[JobEnv, dict[str, Any], Progress], Any]
_HANDLERS: dict[str, Handler] = {}


def register_handler(name: str, handler: Handler) -> Handler:
    _HANDLERS[name] = handler
    return handler


def handler(name: str) -> Handler:
    found = _HANDLERS.get(name)
    if found is None:
        raise NotFound(f"deze verwerker kent het soort berekening '{name}' niet (een andere "
                       "versie van geoveilig?)")
    return found


def run_spec(env: JobEnv, spec: dict[str, Any], progress: Progress) -> JobResult:
    """Run the job described by ``spec`` (``{"handler", "args"}``) in ``env``."""
    return encode_result(handler(spec["handler"])(env, spec.get("args") or {}, progress))


# --- the interface ------------------------------------------------------------------------

def visible(job_role: str, job_gemeenten: tuple[str, ...] | None, role: str,
            allowed: tuple[str, ...] | None) -> bool:
    """Whether a caller of ``role`` with a key for ``allowed`` gemeenten (None: all) may see
    a job of ``job_role`` about ``job_gemeenten``: a public job by everyone; any other only
    when the role allows it and the key holds for every gemeente of the job (a job whose
    gemeenten are not known: only by a key for all)."""
    if job_role == "public":
        return True
    if not allows(role, job_role):
        return False
    if allowed is None:
        return True
    return job_gemeenten is not None and set(job_gemeenten) <= set(allowed)


def _job_key(key: str, role: str, gemeenten: tuple[str, ...] | None) -> str:
    """The deduplication key: the request's key with the role and the gemeenten, so an
    identical request never gets the job of another role or gemeente (``gemeenten`` as
    ``_gemeenten`` normalised them)."""
    return json.dumps([role, key] if gemeenten is None else [role, key, list(gemeenten)])


def _gemeenten(codes: Any) -> tuple[str, ...] | None:
    return None if codes is None else tuple(sorted({str(c) for c in codes}))


class JobQueue(Protocol):
    def submit(self, kind: str, key: str, role: str, compute: Callable[[Progress], Any],
               owner: str = "", spec: dict[str, Any] | None = None,
               gemeenten: tuple[str, ...] | None = None) -> tuple[Job, bool]: ...

    def wait(self, job: Job, timeout: float) -> Job: ...

    def get(self, job_id: str, role: str, *, with_result: bool = False,
            allowed: tuple[str, ...] | None = None) -> Job: ...

    def active(self, owner: str | None = None) -> int: ...

    def shutdown(self) -> None: ...


# --- in process (SQLite) --------------------------------------------------------------------

class LocalQueue:
    """Jobs keyed by request and role in this process; finished jobs are kept (LRU,
    ``keep``) as the result cache, active ones (accepted, running) are never evicted."""

    def __init__(self, workers: int = 1, keep: int = 128, *, max_active: int = 16,
                 per_caller: int = 2, retry_after: int = 5) -> None:
        # daemon worker threads: a long computation never holds up the process's exit
        self._queue: queue.SimpleQueue[tuple[Job, Callable[[Progress], Any]] | None] = \
            queue.SimpleQueue()
        self._workers = [threading.Thread(target=self._work, name=f"geoveilig-job-{i}",
                                          daemon=True) for i in range(max(1, workers))]
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

    def submit(self, kind: str, key: str, role: str, compute: Callable[[Progress], Any],
               owner: str = "", spec: dict[str, Any] | None = None,
               gemeenten: tuple[str, ...] | None = None) -> tuple[Job, bool]:
        """The job for ``key`` (and ``role`` and ``gemeenten``) and whether it is new.
        Raises ``JobsBusy`` when the queue or the caller's share of it is full. (``spec`` is
        not needed: the job runs ``compute`` in this process.)"""
        gemeenten = _gemeenten(gemeenten)
        key = _job_key(key, role, gemeenten)
        with self._lock:
            jid = self._by_key.get(key)
            if jid is not None and self._by_id[jid].status != "failed":
                self._by_id.move_to_end(jid)
                return self._by_id[jid], False
            if owner and self.active(owner) >= self.per_caller:
                raise _busy("owner", self.per_caller, self.retry_after)
            if self.active() >= self.max_active:
                raise _busy("all", self.per_caller, self.retry_after)
            job = Job(id=secrets.token_urlsafe(12), kind=kind, key=key, role=role, owner=owner,
                      gemeenten=gemeenten)
            self._by_id[job.id] = job
            self._by_key[key] = job.id
            self._evict()
        self._queue.put((job, compute))
        return job, True

    def wait(self, job: Job, timeout: float) -> Job:
        job.done.wait(timeout)
        return job

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
            job.result = encode_result(compute(progress))
            job.status, job.progress = "successful", 100.0
        except Exception as exc:
            job.status = "failed"
            job.error = describe_error(exc)
            job.message = job.error["detail"]
            if not isinstance(exc, GeoveiligError):
                log.exception("job %s (%s) mislukt", job.id, job.kind)
        finally:
            with self._lock:
                job.finished = time.time()
                self._evict()
            job.done.set()

    def get(self, job_id: str, role: str, *, with_result: bool = False,
            allowed: tuple[str, ...] | None = None) -> Job:
        """The job, for a caller of ``role`` with a key for ``allowed`` gemeenten (None:
        all); ``NotFound`` when there is none or the caller may not see it (``visible``)."""
        job = self._by_id.get(job_id)
        if job is None or not visible(job.role, job.gemeenten, role, allowed):
            raise NotFound(f"onbekende job '{job_id}'")
        return job

    def shutdown(self) -> None:
        for _ in self._workers:
            self._queue.put(None)


# --- in the database (PostgreSQL; any process, any machine) ----------------------------------

def _job(row: Any) -> Job:
    result = None
    if row.status == "successful":
        result = JobResult(row.result if row.result is not None else b"",
                           row.media_type or "application/json")
    return Job(id=row.id, kind=row.kind, key=row.job_key, role=row.role, owner=row.owner,
               gemeenten=row.gemeenten, status=row.status, progress=row.progress,
               message=row.message,
               created=row.created_at, finished=row.finished_at, result=result,
               error=row.error)


class StoreQueue:
    """Jobs in the store's ``jobs`` table. ``threads`` > 0 also runs that many workers
    (``run_worker``) inside this process; 0 leaves the work to ``geoveilig worker``
    processes. ``env`` is needed only for those threads."""

    def __init__(self, store: Store, *, max_active: int = 16, per_caller: int = 2,
                 retry_after: int = 5, poll: float = 0.05, threads: int = 0,
                 env: JobEnv | None = None, lease: float = 30.0, max_attempts: int = 2
                 ) -> None:
        self.store = store
        self.max_active = max_active
        self.per_caller = per_caller
        self.retry_after = retry_after
        self.poll = poll
        self._stop = threading.Event()
        self._wake = threading.Event()  # a job submitted here: this process's threads look now
        self._threads = []
        if threads and env is None:
            raise ValueError("StoreQueue with worker threads needs an env")
        for i in range(threads):
            t = threading.Thread(target=run_worker, name=f"geoveilig-job-{i}", daemon=True,
                                 args=(env,), kwargs=dict(stop=self._stop, wake=self._wake,
                                                          lease=lease,
                                                          max_attempts=max_attempts,
                                                          name=f"{worker_name()}-t{i}"))
            t.start()
            self._threads.append(t)

    def active(self, owner: str | None = None) -> int:
        from .store.jobs import count_active

        return count_active(self.store, owner)

    def submit(self, kind: str, key: str, role: str, compute: Callable[[Progress], Any],
               owner: str = "", spec: dict[str, Any] | None = None,
               gemeenten: tuple[str, ...] | None = None) -> tuple[Job, bool]:
        import hashlib

        from .store.jobs import QueueFull, submit_job

        if spec is None:
            raise ValueError(f"job '{kind}' has no spec: it cannot run in another process")
        gemeenten = _gemeenten(gemeenten)
        digest = hashlib.sha256(_job_key(key, role, gemeenten).encode()).hexdigest()
        try:
            row, new = submit_job(self.store, kind=kind, job_key=digest, role=role,
                                  owner=owner, spec=spec, max_active=self.max_active,
                                  per_caller=self.per_caller, gemeenten=gemeenten)
        except QueueFull as full:
            raise _busy(full.scope, self.per_caller, self.retry_after) from None
        if new:
            self._wake.set()
        return _job(row), new

    def wait(self, job: Job, timeout: float) -> Job:
        """The job once it is finished, or as it is after ``timeout`` seconds (polled)."""
        from .store.jobs import get_job

        deadline = time.monotonic() + timeout
        while True:
            row = get_job(self.store, job.id)
            if row is None:
                return job
            if row.finished_at is not None or time.monotonic() >= deadline:
                if row.status == "successful":
                    row = get_job(self.store, job.id, with_result=True) or row
                return _job(row)
            time.sleep(min(self.poll, max(0.0, deadline - time.monotonic())))

    def get(self, job_id: str, role: str, *, with_result: bool = False,
            allowed: tuple[str, ...] | None = None) -> Job:
        """As ``LocalQueue.get``, from the database (any API worker)."""
        from .store.jobs import get_job

        row = get_job(self.store, job_id, with_result=with_result)
        if row is None or not visible(row.role, row.gemeenten, role, allowed):
            raise NotFound(f"onbekende job '{job_id}'")
        return _job(row)

    def shutdown(self) -> None:
        self._stop.set()
        self._wake.set()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_worker(env: JobEnv, *, stop: threading.Event | None = None,
               wake: threading.Event | None = None, lease: float = 30.0,
               poll: float = 0.5, max_attempts: int = 2, max_jobs: int | None = None,
               name: str | None = None, until_empty: bool = False) -> int:
    """Claim and run jobs from ``env.store`` until ``stop`` is set (or ``max_jobs`` ran);
    returns how many ran. While a job runs, a heartbeat thread extends its lease every
    second (at most ``lease / 3``) and records its progress; a worker that dies stops the heartbeat,
    and after ``lease`` seconds another worker takes the job again (at most
    ``max_attempts`` claims in all, then it fails with a Dutch reason). ``until_empty``:
    return as soon as no job is waiting. An idle worker looks again after ``poll`` seconds,
    or at once when ``wake`` is set (a job submitted in the same process)."""
    from .store.jobs import claim_job

    stop = stop or threading.Event()
    name = name or worker_name()
    done = 0
    while not stop.is_set() and (max_jobs is None or done < max_jobs):
        try:
            row = claim_job(env.store, name, lease=lease, max_attempts=max_attempts)
        except Exception as exc:  # the database is away: wait and try again
            log.warning("wachtrij niet bereikbaar: %s", exc)
            row = None
        if row is None:
            if until_empty:
                break
            if wake is None:
                stop.wait(poll)
            elif wake.wait(poll):
                wake.clear()
            continue
        _run_claimed(env, row, name, lease)
        done += 1
    return done


def _run_claimed(env: JobEnv, row: Any, name: str, lease: float) -> None:
    """Run one claimed job with a heartbeat beside it; record its outcome."""
    from .store.jobs import finish_job, heartbeat

    state: dict[str, Any] = {"progress": 0.0, "message": ""}
    beat_stop = threading.Event()

    def progress(percent: float, message: str = "") -> None:
        state["progress"] = max(0.0, min(100.0, float(percent)))
        state["message"] = message

    def beat(job_id: str = row.id) -> None:
        while not beat_stop.wait(min(lease / 3, 1.0)):  # progress shows within a second
            try:
                heartbeat(env.store, job_id, name, lease=lease,
                          progress=state["progress"], message=state["message"])
            except Exception:  # a missed beat is retried; the lease has slack
                log.warning("hartslag van job %s mislukt", job_id, exc_info=True)

    beater = threading.Thread(target=beat, daemon=True, name=f"beat-{row.id}")
    beater.start()
    try:
        try:
            result = run_spec(env, row.spec, progress)
        except Exception as exc:
            error = describe_error(exc)
            if not isinstance(exc, GeoveiligError):
                log.exception("job %s (%s) mislukt", row.id, row.kind)
            finish_job(env.store, row.id, name, error=error, message=error["detail"])
        else:
            finish_job(env.store, row.id, name, result=result.body,
                       media_type=result.media_type)
    except Exception:  # the outcome could not be written: the lease runs out, retried
        log.exception("uitkomst van job %s niet opgeslagen", row.id)
    finally:
        beat_stop.set()
        beater.join()
