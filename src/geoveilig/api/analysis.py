"""Analysis endpoints (analyst role): the backtest scores of the hotspot methods and the
"did it help?" evaluation of a registered deployment. Both are slow enough to run as cached
jobs (``jobs.run_job``: 200 with the result, or 202 with a status URL). Routes call the
library (``hotspots.backtest``, ``placement.service.deployment_effect``)."""

from __future__ import annotations

import json
from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from .. import disclosure
from ..errors import Conflict, NotFound
from ..layers import allows, context_grid
from ..placement.service import deployment_effect
from ..store.deployments import list_deployments
from . import params
from .auth import audit, caller
from .jobs import JobResult, Progress, run_job
from .services import services

ROLE = "analyst"


def _require(request: Request, what: str) -> None:
    who = caller(request)
    if not allows(who.role, ROLE):
        raise NotFound(f"onbekende bron '{what}'")  # the same answer as for unknown paths


def _backtest(request: Request, raw: dict[str, str]) -> Response:
    _require(request, "backtest")
    values = params.parse(params.BACKTEST, raw)
    types, methods = values["crimeType"], values["methods"]
    window, n_origins = values["window"], values["origins"]
    who = caller(request)
    ctx = services(request).context()
    if not disclosure.exact_times(who.role):
        # below the police the backtest sees incident times by month, as hotspots and plans
        ctx = replace(ctx, store=disclosure.MonthStore(ctx.store))
    audit(request, who, "backtest", raw["crimeType"])

    def compute(progress: Progress) -> JobResult:
        from ..hotspots import backtest

        incidents = ctx.store.incidents(crime_types=list(types))
        result = backtest(incidents, context_grid(ctx), methods, window=window,
                          n_origins=n_origins, crime_type=raw["crimeType"])
        body = {
            "crimeType": raw["crimeType"], "window": window,
            "origins": [o.isoformat() for o in result.origins],
            "bestMethod": result.best_method, "verdict": result.verdict,
            "summary": json.loads(result.summary.to_json(orient="records")),
            "warnings": list(result.warnings),
        }
        return JobResult(json.dumps(body, ensure_ascii=False).encode())

    payload = {"crimeType": raw["crimeType"], "methods": methods, "window": window,
               "origins": n_origins}
    return run_job(request, "backtest", payload, compute)


def _effect(request: Request, deployment_id: str, raw: dict[str, str]) -> Response:
    _require(request, "deployments")
    types = params.parse(params.EFFECT, raw)["crimeType"]
    try:
        dep = int(deployment_id)
    except ValueError:
        raise NotFound(f"onbekende inzet '{deployment_id}'") from None
    store = services(request).store
    found = list_deployments(store)
    found = found.loc[found["id"] == dep]
    if found.empty:
        raise NotFound(f"onbekende inzet '{deployment_id}'")
    if found["start"].isna().all():
        raise Conflict(f"inzet {dep} is {found['status'].iloc[0]}: een effect is pas te meten "
                       "na plaatsing")
    who = caller(request)
    audit(request, who, "effect", str(dep))
    # below the police the evaluation counts incidents by month, as hotspots and plans do
    source = store if disclosure.exact_times(who.role) else disclosure.MonthStore(store)

    def compute(progress: Progress) -> JobResult:
        est = deployment_effect(source, dep, types)
        body = est.as_dict()
        body["counts"] = json.loads(est.counts.to_json())
        return JobResult(json.dumps(body, ensure_ascii=False, default=str).encode())

    return run_job(request, "effect", {"deployment": dep, "crimeType": raw.get("crimeType")},
                   compute)


def analysis_router(prefix: str = "/v1") -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["analyse"])

    @router.get("/backtest", summary="Backtest van de hotspotmethoden (trefkans, PAI, PEI)")
    async def backtest(request: Request) -> Response:
        """Rollende toets van elke hotspotmethode op het verleden voor `crimeType`
        (`methods`, `window`, `origins`), met de vooraf vastgelegde maatstaf en de beste
        methode. Rol analyst."""
        return await run_in_threadpool(_backtest, request, dict(request.query_params))

    @router.get("/deployments/{deployment_id}/effect",
                summary="Heeft de inzet geholpen? (verschil-in-verschillen)")
    async def effect(deployment_id: str, request: Request) -> Response:
        """Incidenten rond een geregistreerde inzet in een lange voorperiode (vóór het
        selectievenster), tijdens en na, vergeleken met controleplaatsen die dezelfde regel
        koos: schatting, 95%-interval, p-waarde, kleinste aantoonbare daling en een oordeel in
        gewone taal ("te vroeg om te zeggen" met de reden als de aantallen te klein zijn; "geen
        vergelijkingsgebied" als er geen controle is). Rol analyst."""
        return await run_in_threadpool(_effect, request, deployment_id,
                                       dict(request.query_params))

    return router
