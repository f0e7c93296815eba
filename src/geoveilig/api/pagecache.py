"""Answering cached pages before routing (a pure ASGI middleware shared by the items and
the tiles routes): the cache only holds what a route built for a role allowed to see it."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from .auth import audit_row, known_caller, known_caller_of
from .services import AppServices, services_of

#: the request headers the cached answer depends on (the first value of each, as Starlette's
#: ``Headers.get`` reads them)
_READ = frozenset((b"host", b"x-api-key", b"authorization", b"accept-encoding",
                   b"if-none-match"))


class CachedPages:
    """Pure ASGI middleware: a GET for a page already in a response cache (same URL, role and
    data version) is answered before FastAPI's routing and parameter handling, with the same
    headers, ETag/304, gzip and audit as the route, and without building a Starlette request
    or response. Anything else (a miss, an unknown or unverified key, an error) goes on to the
    app unchanged, which answers it in full.

    The cache only holds pages that the route built for a role allowed to see them, so a hit
    is never a privacy decision of its own. Subclasses say which paths they serve
    (``matches``), from which cache (``cache``) and with which media type (``media_type``).

    The common case (no key, or a key verified less than ``key_ttl`` ago) reads the scope's
    headers once and builds no Starlette ``Request``; other keys (to re-check, Basic, a key
    for some gemeenten) go through ``known_caller`` as the routes do."""

    media_type = "application/octet-stream"

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    @staticmethod
    def matches(path: str) -> bool:
        raise NotImplementedError

    @staticmethod
    def cache(svc: AppServices) -> Any:
        """The response cache of these pages (a field of ``AppServices``)."""
        raise NotImplementedError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] == "GET"
                and self.matches(scope["path"])):
            try:
                answer = await self._answer(scope)
            except Exception:  # the route gives the proper problem+json answer
                answer = None
            if answer is not None:
                status, headers, body = answer
                await send({"type": "http.response.start", "status": status,
                            "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        from .ogc import page_key, version_at, versions_of  # at request time: no import cycle

        svc = services_of(scope)
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name in _READ and name not in headers:
                headers[name] = value
        who = known_caller_of(svc, headers)
        if who is None:
            who = known_caller(Request(scope))
            if who is None:
                return None
        hit = self.cache(svc).get(page_key(scope, who.role,
                                           version_at(scope["path"], versions_of(svc))))
        if hit is None:
            return None
        if hit.audit is not None:  # every read of a restricted page is logged, cached or not
            await svc.audit_writer.write(audit_row(scope, who, *hit.audit))
        enc, inm = headers.get(b"accept-encoding"), headers.get(b"if-none-match")
        return hit.raw(None if enc is None else enc.decode("latin-1"),
                       None if inm is None else inm.decode("latin-1"), self.media_type)
