"""Abuse limits at the edge of the API, before any routing or computation:

- ``RateLimit``: per-address and per-key request rates (the ``limits`` library, moving
  window, in memory per process). Every request counts against its client address and, when
  it carries a key, against that key (a SHA-256 of the token: a key used from many addresses
  is one bucket). The planning and analysis routes (``POST /v1/recommendations/...``,
  ``/v1/backtest``, ``/v1/deployments/{id}/effect``) have a second, stricter limit. Over the
  limit: 429 problem+json with ``Retry-After``. The address is the TCP peer: behind a reverse
  proxy, rate-limit there too (or pass the real address with uvicorn's ``--proxy-headers``).
- ``BodyLimit``: a request body larger than ``max_body`` bytes is refused with 413 (by its
  ``Content-Length`` at once, or while it streams in).

The job queue's own bounds (queue length, jobs per caller) are in ``jobs.JobManager``.
"""

from __future__ import annotations

import hashlib
import json
import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import GeoveiligError

PROBLEM = b"application/problem+json"
HEAVY_PREFIXES = ("/v1/recommendations/", "/v1/backtest")


def _is_heavy(method: str, path: str) -> bool:
    if path.startswith("/v1/deployments/") and path.endswith("/effect"):
        return True
    return any(path.startswith(p) for p in HEAVY_PREFIXES) and (
        method == "POST" or path.startswith("/v1/backtest"))


def _problem(status: int, title: str, detail: str, headers: list[tuple[bytes, bytes]]
             ) -> tuple[Message, Message]:
    body = json.dumps({"type": f"https://geoveilig.nl/problems/"
                               f"{'rate-limited' if status == 429 else 'too-large'}",
                       "title": title, "status": status, "detail": detail},
                      ensure_ascii=False).encode()
    start: Message = {"type": "http.response.start", "status": status,
                      "headers": [(b"content-type", PROBLEM),
                                  (b"content-length", str(len(body)).encode()), *headers]}
    return start, {"type": "http.response.body", "body": body}


def _token_digest(scope: Scope) -> str | None:
    """A SHA-256 of the API key the request carries (not verified here: an unknown key costs
    its address's budget as well)."""
    for name, value in scope.get("headers", ()):
        if name in (b"x-api-key", b"authorization"):
            token = value.split(b" ", 1)[-1].strip() if name == b"authorization" else value
            if token:
                return hashlib.sha256(token).hexdigest()[:32]
    return None


class RateLimit:
    """Pure ASGI middleware: see the module docstring. ``general`` and ``heavy`` are
    ``limits`` strings such as ``"100/second"`` or ``"20/minute;200/hour"``; an empty
    string switches that limit off."""

    def __init__(self, app: ASGIApp, *, general: str = "", heavy: str = "") -> None:
        self.app = app
        self.general: list[RateLimitItem] = parse_many(general) if general else []
        self.heavy: list[RateLimitItem] = parse_many(heavy) if heavy else []
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def _over(self, items: list[RateLimitItem], ids: list[str]) -> int | None:
        """Seconds to wait when one of ``items`` is exhausted for one of ``ids``, else None
        (and the request is counted)."""
        for item in items:
            for ident in ids:
                if not self.limiter.hit(item, ident):
                    reset = self.limiter.get_window_stats(item, ident).reset_time
                    return max(1, math.ceil(reset - time.time()))
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not (self.general or self.heavy):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        ids = [f"addr:{client[0] if client else '-'}"]
        digest = _token_digest(scope)
        if digest is not None:
            ids.append(f"key:{digest}")
        wait = self._over(self.general, ids)
        if wait is None and self.heavy and _is_heavy(scope["method"], scope["path"]):
            wait = self._over(self.heavy, [f"heavy:{i}" for i in ids])
        if wait is None:
            await self.app(scope, receive, send)
            return
        start, body = _problem(429, "Te veel verzoeken",
                               f"te veel verzoeken; probeer het over {wait} s opnieuw",
                               [(b"retry-after", str(wait).encode())])
        await send(start)
        await send(body)


class BodyTooLarge(GeoveiligError):
    status = 413
    code = "too-large"


class BodyLimit:
    """Pure ASGI middleware: request bodies up to ``max_body`` bytes."""

    def __init__(self, app: ASGIApp, *, max_body: int = 65_536) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"de body is groter dan {self.max_body} bytes"
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_body
                except ValueError:
                    too_big = False
                if too_big:
                    start, body = _problem(413, "Te groot", detail, [])
                    await send(start)
                    await send(body)
                    return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge(detail, where="body")
            return message

        await self.app(scope, limited, send)
