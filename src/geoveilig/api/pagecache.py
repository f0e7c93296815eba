"""Answering cached pages before routing (a pure ASGI middleware shared by the items and
the tiles routes): the cache only holds what a route built for a role allowed to see it."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from .auth import Caller, known_caller
from .services import AppServices, services_of


class CachedPages:
    """Pure ASGI middleware: a GET for a page already in a response cache (same URL, role and
    data version) is answered before FastAPI's routing and parameter handling, with the same
    headers, ETag/304, gzip and audit as the route, and without building a Starlette request
    or response. Anything else (a miss, an unknown or unverified key, an error) goes on to the
    app unchanged, which answers it in full.

    The cache only holds pages that the route built for a role allowed to see them, so a hit
    is never a privacy decision of its own. Subclasses say which paths they serve
    (``matches``) and from which cache (``cache``)."""

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
        from .ogc import page_key, path_version  # at request time: no import cycle

        request = Request(scope)
        who = known_caller(request)
        if who is None:
            return None
        hit = self.cache(services_of(scope)).get(
            page_key(scope, who.role, path_version(request, scope["path"])))
        if hit is None:
            return None
        return await self.answer_cached(request, who, hit)

    @staticmethod
    async def answer_cached(request: Request, who: Caller, hit: Any
                            ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """The status, raw headers and body of a cached answer (audited if it must be)."""
        raise NotImplementedError
