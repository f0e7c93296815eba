"""Callers and roles. No key: ``public``. ``Authorization: Bearer <key>``,
``X-API-Key: <key>`` or ``Authorization: Basic`` with the key as password (any user name; for
QGIS 3.22, whose only way to send a key is a Basic authentication configuration): the role of
that key (analyst or police). A wrong, unknown or revoked
key is refused with 401 (it never silently falls back to public).

A verified key is remembered for ``key_ttl`` seconds (default 1 s, like the data version):
a revocation with ``geoveilig keys revoke`` takes effect within one to two seconds (requests
already in flight while one of them re-checks the key may still use it), and a busy map does
not read the key table on every request. Only valid keys are remembered (by a SHA-256 of
the token, never the token itself), so random tokens cannot fill the memory.

Access to restricted collections is written to the audit log through ``AuditWriter``: the
request waits until its row is committed (nothing is lost), but concurrent requests share one
transaction (group commit), so auditing costs microseconds per request under load instead of
a commit each.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import hashlib
import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request

from ..errors import GeoveiligError, NotFound
from ..store import Store
from ..store.keys import verify_key
from .services import services


class Unauthorized(GeoveiligError):
    status = 401
    code = "unauthorized"


@dataclass(frozen=True)
class Caller:
    role: str
    actor: str  # "public" or "key:<id> (<name>)"
    #: the gemeenten the key's role holds for (None: all); see ``for_request``
    gemeenten: tuple[str, ...] | None = None


#: the routes that take ``gemeente`` (layers, tiles, reports, backtest, planning)
_GEMEENTE_ROUTES = ("/collections/", "/reports/", "/backtest", "/recommendations/")


def for_request(request: Request, who: Caller) -> Caller:
    """The caller as this request sees it: a key for some gemeenten (``keys create
    --gemeente``) keeps its role on a route that takes ``gemeente`` only when every gemeente
    the request covers (the ``gemeente`` parameter, or without it every configured gemeente)
    is one of the key's; otherwise it is the public (restricted layers then answer 404, as
    missing ones, and public layers their public view). Other routes keep the key's role."""
    if who.gemeenten is None or not any(r in request.scope["path"] for r in _GEMEENTE_ROUTES):
        return who
    from ..areas import parse_gemeenten

    raw = request.query_params.get("gemeente")
    try:
        asked = parse_gemeenten(raw) if raw is not None else None
    except GeoveiligError:
        return PUBLIC  # the route refuses the value itself (400)
    covered = services(request).areas.gemeente_codes if asked is None else asked
    if set(covered) <= set(who.gemeenten):
        return who
    return Caller("public", who.actor)


def require_gemeenten(who: Caller, codes: Iterable[str | None], missing: str) -> None:
    """A key for some gemeenten acts only on what lies in its own (deployments, their effect):
    anything else answers as missing (``NotFound(missing)``, 404), as restricted resources do.
    ``codes``: the gemeente codes of the things touched (None: outside every gemeente)."""
    if who.gemeenten is not None and any(c not in who.gemeenten for c in codes):
        raise NotFound(missing)


PUBLIC = Caller("public", "public")
KEY_TTL = 1.0
_KEY_CACHE_SIZE = 4096


_AUTH_HINT = ("gebruik 'Authorization: Bearer <sleutel>', 'X-API-Key: <sleutel>' of HTTP Basic "
              "met de sleutel als wachtwoord")


def _basic_key(value: str) -> str:
    """The key of ``Authorization: Basic base64(user:key)``: the password, or the user name
    when the password is empty. QGIS before 3.24 can send no header of its own, only such a
    Basic authentication configuration (docs/api.md)."""
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized(_AUTH_HINT) from None
    user, _, password = decoded.partition(":")
    key = (password or user).strip()
    if not key:
        raise Unauthorized(_AUTH_HINT)
    return key


def _token(request: Request) -> str | None:
    token = request.headers.get("x-api-key")
    auth = request.headers.get("authorization")
    if auth is not None:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "basic" and value.strip():
            return _basic_key(value)
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized(_AUTH_HINT)
        token = value.strip()
    return token


def _key_cache(request: Request) -> dict[bytes, tuple[float, Caller, bool]]:
    """sha256(token) -> (verified at, caller, a re-check is under way)."""
    return services(request).key_cache


def known_caller(request: Request) -> Caller | None:
    """The caller if it is known without reading the store (no key, or a key verified less
    than ``key_ttl`` seconds ago, or less than twice that while another request re-checks
    it); None when the key must be checked."""
    cached = getattr(request.state, "caller", None)
    if cached is not None:
        return cached
    if getattr(request.state, "recheck_key", False):
        return None
    token = _token(request)
    if token is None:
        request.state.caller = PUBLIC
        return PUBLIC
    cache = _key_cache(request)
    digest = hashlib.sha256(token.encode()).digest()
    hit = cache.get(digest)
    if hit is None:
        return None
    age = time.monotonic() - hit[0]
    ttl = services(request).key_ttl
    if age >= ttl and not (hit[2] and age < 2 * ttl):
        # this request re-checks the key (``caller`` reads the key table)
        cache[digest] = (hit[0], hit[1], True)
        request.state.recheck_key = True
        return None
    # fresh, or another request is re-checking it: the others in flight meanwhile keep using
    # it (for at most another ttl) instead of all reading the key table at the same moment
    request.state.caller = for_request(request, hit[1])
    return request.state.caller


def known_caller_of(svc: Any, headers: dict[bytes, bytes]) -> Caller | None:
    """``known_caller`` without a Starlette request, for the common cases only: no key (the
    public), or an ASCII key (``X-API-Key`` or ``Bearer``) verified less than ``key_ttl``
    seconds ago whose role holds for every gemeente. None for anything else (a key to
    re-check, Basic, a key for some gemeenten, a malformed header): the caller then goes
    through ``known_caller``/``caller``, which decide as ever. ``headers``: the request's
    first value of each of ``x-api-key`` and ``authorization``, as raw bytes."""
    token = headers.get(b"x-api-key")
    auth = headers.get(b"authorization")
    if auth is not None:
        scheme, _, value = auth.partition(b" ")
        if scheme.lower() != b"bearer" or not value.strip():
            return None
        token = value.strip()
    if token is None:
        return PUBLIC
    if not token.isascii():  # ``_token`` digests the latin-1 text's UTF-8 form
        return None
    hit = svc.key_cache.get(hashlib.sha256(token).digest())
    if hit is None or hit[1].gemeenten is not None or time.monotonic() - hit[0] >= svc.key_ttl:
        return None
    return hit[1]


def client_address(request: Request) -> str:
    """The client's address (the TCP peer; see ``ratelimit`` about reverse proxies)."""
    return request.client.host if request.client else "-"


def caller(request: Request) -> Caller:
    known = known_caller(request)
    if known is not None:
        return known
    token = _token(request)
    assert token is not None
    store = services(request).store
    cache = _key_cache(request)
    digest = hashlib.sha256(token.encode()).digest()
    key = verify_key(store, token)
    if key is None:
        cache.pop(digest, None)
        raise Unauthorized("ongeldige of ingetrokken API-sleutel")
    result = Caller(key.role, f"key:{key.key_id} ({key.name})", key.gemeenten)
    if len(cache) >= _KEY_CACHE_SIZE:
        cache.clear()
    cache[digest] = (time.monotonic(), result, False)
    request.state.caller = for_request(request, result)
    return request.state.caller


def _audit_row(request: Request, who: Caller, action: str, target: str
               ) -> tuple[int, str, str, str, str]:
    return audit_row(request.scope, who, action, target)


def audit_row(scope: Any, who: Caller, action: str, target: str
              ) -> tuple[int, str, str, str, str]:
    """The audit row of an access by ``who`` to the request in ``scope`` (an ASGI scope)."""
    detail = _audit_detail(scope["path"], scope.get("query_string", b""), who.role)
    return (int(time.time()), who.actor, action, target, detail)


@functools.lru_cache(maxsize=1024)
def _audit_detail(path: str, query_string: bytes, role: str) -> str:
    """The audit row's detail: path, filter (the query parameters) and role, as JSON (a map
    asks for the same few URLs over and over: made once each)."""
    query = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
    return json.dumps({"path": path, "query": query, "role": role}, ensure_ascii=False)


def audit(request: Request, who: Caller, action: str, target: str) -> None:
    """An audit_log row for an access to restricted data: who, when (now), what, filter
    (written at once; for synchronous routes)."""
    store = services(request).store
    store.audit_many([_audit_row(request, who, action, target)])


async def audit_async(request: Request, who: Caller, action: str, target: str) -> None:
    """As ``audit``, through the app's ``AuditWriter`` (group commit); returns once the row
    is committed and raises what the store raised."""
    await services(request).audit_writer.write(_audit_row(request, who, action, target))


class AuditWriter:
    """One thread that writes queued audit rows in one transaction per round (group commit).
    ``write`` resolves when its row is committed, or raises the store's error."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: list[tuple[tuple, asyncio.AbstractEventLoop, asyncio.Future]] = []
        self._cond = threading.Condition()
        self._closed = False
        #: the event loop a wake-up of the writer is scheduled on (``write``; a write from
        #: another loop schedules its own, so a loop that stopped never holds rows back)
        self._waking: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    async def write(self, row: tuple) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        with self._cond:
            if self._closed:
                raise RuntimeError("audit writer is closed")
            self._pending.append((row, loop, future))
            wake = self._waking is not loop
            self._waking = loop
        if wake:
            # woken once the requests the loop is running now have queued their rows too:
            # one commit for all of them instead of one for the first and one for the rest
            loop.call_soon(self._wake)
        await future

    def _wake(self) -> None:
        with self._cond:
            self._waking = None
            self._cond.notify()

    def close(self) -> None:
        """Write what is queued, then stop."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                batch, self._pending = self._pending, []
                if not batch and self._closed:
                    return
            error: BaseException | None = None
            try:
                self.store.audit_many([row for row, _loop, _f in batch])
            except BaseException as exc:  # handed to the waiting requests
                error = exc
            by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future]] = {}
            for _row, loop, future in batch:
                by_loop.setdefault(loop, []).append(future)
            for loop, futures in by_loop.items():  # one wake-up per loop and round
                with contextlib.suppress(RuntimeError):  # the loop is gone (shutdown)
                    loop.call_soon_threadsafe(_settle, futures, error)


def _settle(futures: list[asyncio.Future], error: BaseException | None) -> None:
    for future in futures:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
