"""``GET /v1/reports/evaluation``: the evaluation table ("Hoe staat de stad ervoor?") as JSON,
CSV or the self-contained HTML report. Aggregates only; per buurt needs the analyst role (small
areas, small counts). The route calls ``geoveilig.report`` / ``geoveilig.stats``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from .. import disclosure, stats
from .. import report as report_mod
from ..errors import InvalidInput
from ..layers import allows
from ..sources import report as published_report
from . import features as ft
from .auth import caller

MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8",
         "html": "text/html; charset=utf-8"}
ALLOWED = ("year", "quarter", "period", "level", "crimeType", "preset", "f")


def _int(raw: dict[str, str], name: str, lo: int, hi: int) -> int | None:
    if name not in raw:
        return None
    try:
        value = int(raw[name])
    except ValueError:
        raise InvalidInput(f"{name} moet een geheel getal zijn, niet '{raw[name]}'",
                           where=name) from None
    if not lo <= value <= hi:
        raise InvalidInput(f"{name} moet tussen {lo} en {hi} liggen", where=name)
    return value


def evaluation(request: Request, raw: dict[str, str]) -> Response:
    ft.check_unknown(raw, ALLOWED)
    fmt = raw.get("f", "json")
    if fmt not in MEDIA:
        raise InvalidInput(f"niet ondersteund formaat f={fmt}: kies json, csv of html",
                           where="f")
    level = raw.get("level", "gemeente")
    if level not in ("gemeente", "wijk", "buurt"):
        raise InvalidInput(f"onbekend niveau '{level}': kies gemeente, wijk of buurt",
                           where="level")
    if level == "buurt" and not allows(caller(request).role, "analyst"):
        raise InvalidInput("per buurt alleen met een sleutel van de gemeente of politie "
                           "(kleine aantallen)", where="level")
    year = _int(raw, "year", 2000, 2100)
    quarter = _int(raw, "quarter", 1, 4)
    if "period" in raw:
        target = stats.Period.parse(raw["period"])
    elif year is None:
        raise InvalidInput("geef year (bijv. 2017) of period (bijv. 2018-Q1)", where="year")
    else:
        target = stats.Period.of_quarter(year, quarter) if quarter else stats.Period.of_year(year)
    public = disclosure.protects(caller(request).role)
    if public:  # fixed cells only (calendar units), see geoveilig.disclosure
        disclosure.check_public_period(target.start.date(), target.end.date())
    rows = stats.resolve_rows(raw["crimeType"]) if raw.get("crimeType") else stats.SEED_ROWS
    preset = raw.get("preset")
    if preset not in (None, "seed"):
        raise InvalidInput(f"onbekende preset '{preset}': alleen 'seed'", where="preset")
    rule = stats.LowCountRule.seed() if preset == "seed" else stats.LowCountRule()
    rounding = stats.parse_rounding(stats.SEED_ROUNDING if preset == "seed" else None)
    areas = request.app.state.areas
    # no incidents but published counts (geoveilig cbs fetch): the report on those counts, as
    # the CLI gives it (already public figures, with the low-count rule; whole years only)
    published = published_report.without_incidents(
        request.app.state.store, target, fmt=fmt, level=level, rule=rule,
        gemeente_name=areas.gemeente_name or "de gemeente")
    if published is not None:
        return Response(published, media_type=MEDIA[fmt])
    incidents, coverage = report_mod.incidents_for(request.app.state.store, [target])
    kw = {"rule": rule, "coverage": coverage, "rounding": rounding}
    policy = request.app.state.disclosure
    if fmt == "html":
        ev = stats.evaluation(incidents, areas, target, rows=rows, **kw)  # type: ignore[arg-type]
        if public:
            ev = disclosure.protect_evaluation(ev, policy, areas)
        text = report_mod.render_html(
            ev, synthetic=request.app.state.store.has_synthetic_data())
    else:
        comp = stats.compare(incidents, target, areas=areas, level=level, rows=rows, **kw)  # type: ignore[arg-type]
        if public:
            comp = disclosure.protect_comparison(comp, policy)
        text = report_mod.to_csv(comp) if fmt == "csv" else report_mod.to_json(comp)
    return Response(text, media_type=MEDIA[fmt])


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
