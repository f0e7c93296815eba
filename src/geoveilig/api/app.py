"""App factory: the lifespan loads the boundaries and opens the store once into ``app.state``;
domain errors become RFC 9457 problem+json."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .. import __version__
from ..areas import load_areas
from ..errors import GeoveiligError
from ..settings import Settings, get_settings
from ..store import Store

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, type_: str = "about:blank",
            **extra: object) -> JSONResponse:
    body = {"type": type_, "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.areas = load_areas(settings.geo_dir, gemeente=settings.gemeente)
        app.state.store = Store(settings.resolved_database_url())
        try:
            yield
        finally:
            app.state.store.close()

    app = FastAPI(title="geoveilig", version=__version__, lifespan=lifespan,
                  description="Misdaadcijfers per wijk en buurt, hotspots en inzetadvies.")

    @app.exception_handler(GeoveiligError)
    async def _domain_error(_request: Request, exc: GeoveiligError) -> JSONResponse:
        return problem(exc.status, type(exc).__name__, str(exc),
                       type_=f"https://geoveilig.nl/problems/{exc.code}")

    @app.get("/health", tags=["service"], summary="Gezondheid van de service")
    def health(request: Request) -> dict[str, object]:
        store: Store = request.app.state.store
        areas = request.app.state.areas
        return {
            "status": "ok",
            "version": __version__,
            "gemeente": areas.gemeente_code,
            "wijken": len(areas.wijken),
            "buurten": len(areas.buurten),
            "incidents": store.count_incidents(),
            "schema": store.schema_revision(),
        }

    return app
