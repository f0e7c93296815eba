"""App factory: the lifespan builds the app's services once (``services.AppServices``: the
boundaries, the store, the grid, the caches, the job manager) into ``app.state.services``;
the routers come from factories (``ogc_router``, ``jobs_router``); errors become RFC 9457
problem+json in one place (``problems.install``). Routes compute nothing: they call
``geoveilig.layers`` and the library."""

from __future__ import annotations

import gc
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..settings import Settings, get_settings
from . import problems
from .auth import caller
from .jobs import SWITCH_INTERVAL, jobs_router
from .ogc import CachedItems, ogc_router
from .openapi import build_openapi, for_role
from .planning import planning_router
from .problems import PROBLEM, problem
from .ratelimit import BodyLimit, RateLimit
from .services import Services, open_services, services
from .tiles import CachedTiles, tiles_router
from .web import mount_web

__all__ = ["PROBLEM", "create_app", "problem"]

API_VERSION = __version__

#: CORS: read-only map data may be fetched from any origin, but no cookies/credentials are
#: used (keys travel in headers), and only these methods and headers are allowed.
CORS_METHODS = ["GET", "POST", "PATCH", "DELETE", "OPTIONS"]
CORS_HEADERS = ["Authorization", "X-API-Key", "If-None-Match", "Content-Type", "Accept"]
CORS_EXPOSE = ["ETag", "Content-Crs", "API-Version", "Location"]


class ApiVersionHeader:
    """Pure ASGI middleware: ``API-Version`` on every response (Dutch API Design Rules)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      (b"api-version", API_VERSION.encode())]
            await send(message)

        await self.app(scope, receive, send_with_header)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sys.setswitchinterval(SWITCH_INTERVAL)
        # making the grid imports the analysis modules (scikit-learn etc. take seconds): the
        # first request for a layer then pays for its computation only
        svc = app.state.services = open_services(settings)
        # What start-up loaded (boundaries, the grid, scikit-learn, ...) lives as long as the
        # process: keep it out of the cyclic garbage collector, whose full passes over it
        # otherwise pause every request now and then (tens of ms at the 99th percentile).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            svc.close()

    app = FastAPI(title="geoveilig", version=__version__, lifespan=lifespan,
                  description="Misdaadcijfers per wijk en buurt, hotspots en inzetadvies.",
                  openapi_url=None, docs_url=None, redoc_url=None)
    problems.install(app)

    def openapi(request: Request) -> dict:
        """The OpenAPI document filtered for the caller's role (``openapi.for_role``)."""
        cache = services(request).ogc_cache
        role = caller(request).role
        if f"openapi:{role}" not in cache:
            cache[f"openapi:{role}"] = for_role(build_openapi(role=role), role)
        return cache[f"openapi:{role}"]

    app.include_router(ogc_router("/v1", openapi=openapi))
    app.include_router(tiles_router("/v1"))  # OGC API - Tiles (vector tiles)
    app.include_router(jobs_router("/v1"))
    from . import alerts as _alerts  # noqa: F401  (registers witte-voeten; issue 24)
    from . import planners  # noqa: F401  (registers alarms, cameras, buurttent, recommendations)

    app.include_router(planning_router("/v1"))
    from .analysis import analysis_router
    from .deployments import deployments_router
    from .reports import reports_router

    app.include_router(reports_router("/v1"))
    app.include_router(analysis_router("/v1"))
    app.include_router(deployments_router("/v1"))
    mount_web(app)  # /kaart (the planning map page) and /static

    @app.get("/health", tags=["service"], summary="Gezondheid van de service")
    def health(svc: Services) -> dict[str, object]:
        store, areas = svc.store, svc.areas
        return {
            "status": "ok",
            "version": __version__,
            "gemeente": areas.gemeente_code,
            "gemeenten": list(areas.gemeente_codes),
            "wijken": len(areas.wijken),
            "buurten": len(areas.buurten),
            "incidents": store.count_incidents(),
            "schema": store.schema_revision(),
        }

    app.add_middleware(CachedItems)  # innermost: pages already served skip the routing
    app.add_middleware(CachedTiles)  # and so do tiles already served
    app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                       allow_credentials=False, allow_methods=CORS_METHODS,
                       allow_headers=CORS_HEADERS, expose_headers=CORS_EXPOSE, max_age=600)
    app.add_middleware(BodyLimit, max_body=settings.max_body)
    app.add_middleware(RateLimit, general=settings.rate_limit, heavy=settings.rate_limit_heavy)
    app.add_middleware(ApiVersionHeader)
    return app
