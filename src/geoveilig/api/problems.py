"""RFC 9457 problem+json in one place: domain errors, FastAPI's validation errors (400, not
422), HTTP errors and anything unexpected (a 500 problem without internals)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import GeoveiligError

PROBLEM = "application/problem+json"
BASE = "https://geoveilig.nl/problems/"
log = logging.getLogger("geoveilig.api")

TITLES = {400: "Ongeldige invoer", 401: "Niet geauthenticeerd", 404: "Niet gevonden",
          405: "Methode niet toegestaan", 406: "Niet aanvaardbaar", 409: "Conflict",
          413: "Te groot", 415: "Mediatype niet ondersteund", 429: "Te veel verzoeken",
          500: "Interne fout", 503: "Niet beschikbaar"}


#: core field names (English, snake_case: ``GeoveiligError.where``) -> the API's parameter
#: names; a problem's ``parameter`` is always the name the caller used
API_NAMES = {"crime_type": "crimeType", "crime_types": "crimeType", "plan_id": "planId",
             "month": "period", "week": "period", "deployment": "deploymentId",
             "min_spacing": "minSpacing", "keep_existing": "keepExisting",
             "duration_days": "durationDays"}


def api_name(where: str) -> str:
    return API_NAMES.get(where, where)


def problem(status: int, detail: str, *, code: str | None = None, title: str | None = None,
            headers: dict[str, str] | None = None, **extra: object) -> JSONResponse:
    body = {"type": BASE + code if code else "about:blank",
            "title": title or TITLES.get(status, "Fout"), "status": status, "detail": detail,
            **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(GeoveiligError)
    async def _domain(_request: Request, exc: GeoveiligError) -> JSONResponse:
        extra = {"parameter": api_name(exc.where)} if exc.where and exc.status == 400 else {}
        retry = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry)} if retry is not None else None
        return problem(exc.status, exc.message, code=exc.code, headers=headers, **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query"))
            parts.append(f"{loc or 'invoer'}: {err.get('msg')}")
        return problem(400, "; ".join(parts) or "ongeldige invoer", code="invalid-input")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = "onbekend pad"
        if exc.status_code == 405:
            detail = "deze methode is hier niet toegestaan"
        return problem(exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("onverwachte fout", exc_info=exc)
        return problem(500, "er ging iets mis in de service; de fout is gelogd",
                       code="internal")
