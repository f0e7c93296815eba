"""``GET /v1/reports/evaluation``: the evaluation table ("Hoe staat de stad ervoor?") as JSON,
CSV or the self-contained HTML report. Aggregates only; per buurt needs the analyst role (small
areas, small counts). The route parses its declared parameters (``api.params.REPORT``) and
calls the report service (``geoveilig.report_service``), which the CLI uses too."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from .. import disclosure, stats
from ..errors import InvalidInput
from ..layers import allows
from ..report_service import ReportRequest, evaluation_report
from ..scope import for_gemeente
from . import params
from .auth import caller
from .services import services

MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8",
         "html": "text/html; charset=utf-8"}


def evaluation(request: Request, raw: dict[str, str]) -> Response:
    values = params.parse(params.REPORT, raw)
    fmt, level = values["f"], values["level"]
    role = caller(request).role
    if level == "buurt" and not allows(role, "analyst"):
        raise InvalidInput("per buurt alleen met een sleutel van de gemeente of politie "
                           "(kleine aantallen)", where="level")
    year, quarter = values["year"], values["quarter"]
    if values["period"] is not None:
        target = values["period"]
    elif year is None:
        raise InvalidInput("geef year (bijv. 2017) of period (bijv. 2018-Q1)", where="year")
    else:
        target = stats.Period.of_quarter(year, quarter) if quarter else stats.Period.of_year(year)
    public = disclosure.protects(role)
    if public:  # fixed cells only (calendar units), see geoveilig.disclosure
        disclosure.check_public_period(target.start.date(), target.end.date())
    seed = values["preset"] == "seed"
    req = ReportRequest(target=target, fmt=fmt, level=level, rows=values["crimeType"],
                        rule=stats.LowCountRule.seed() if seed else stats.LowCountRule(),
                        rounding=stats.SEED_ROUNDING if seed else None)
    svc = services(request)
    areas, store = for_gemeente(svc.areas, svc.store, values["gemeente"], required=True)
    made = evaluation_report(store, areas, req, policy=svc.disclosure if public else None)
    return Response(made.text, media_type=MEDIA[fmt])


def reports_router(prefix: str = "/v1") -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["rapporten"])

    @router.get("/reports/evaluation", summary="De evaluatietabel (JSON, CSV of HTML)",
                responses={400: {"description": "ongeldige parameter (problem+json)"}})
    async def get_evaluation(request: Request) -> Response:
        """Aantallen per categorie voor een jaar of periode, het verschil met 1 en 5 jaar
        eerder (-* bij kleine aantallen), met significantie; `preset=seed` bootst de tabel
        van de evaluatie 2017 precies na. Parameters: `year` (+ `quarter`) of `period`,
        `level` (gemeente, wijk; buurt met sleutel), `crimeType`, `preset`, `f`
        (json, csv, html)."""
        return await run_in_threadpool(evaluation, request, dict(request.query_params))

    return router
