"""Analysis endpoints (analyst role): the backtest scores of the hotspot methods and the
"did it help?" evaluation of a registered deployment. Both are slow enough to run as cached
jobs (``jobs.run_job``: 200 with the result, or 202 with a status URL). Routes call the
library (``hotspots.backtest``, ``placement.service.deployment_effect``)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from .. import crimetypes, disclosure
from ..areas import gemeente_of
from ..errors import Conflict, NotFound
from ..jobs import JobEnv, register_handler
from ..layers import allows, context_grid
from ..placement.service import deployment_effect
from ..scope import scope_env, select_areas
from ..store.deployments import list_deployments
from . import params
from .auth import audit, caller, require_gemeenten
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
    methods, window, n_origins = values["methods"], values["window"], values["origins"]
    who = caller(request)
    audit(request, who, "backtest", raw["crimeType"])
    svc = services(request)
    gemeente = select_areas(svc.areas, values["gemeente"], required=True).gemeente_code
    payload = {"crimeType": raw["crimeType"], "methods": methods, "window": window,
               "origins": n_origins, "gemeente": gemeente}
    # below the police the backtest sees incident times by month, as hotspots and plans
    args = {**payload, "months": not disclosure.exact_times(who.role)}
    env = svc.job_env()
    return run_job(request, "backtest", payload,
                   lambda progress: run_backtest(env, args, progress),
                   spec={"handler": "backtest", "args": args}, gemeenten=[gemeente])


def run_backtest(env: JobEnv, args: dict[str, Any], progress: Progress) -> JobResult:
    """The job handler of ``GET /backtest`` (any worker)."""
    from ..hotspots import backtest

    env = scope_env(env, args.get("gemeente"))
    store = disclosure.MonthStore(env.store) if args["months"] else env.store
    incidents = store.incidents(crime_types=list(crimetypes.expand(args["crimeType"])))
    result = backtest(incidents, context_grid(env.context()), args["methods"],
                      window=args["window"], n_origins=args["origins"],
                      crime_type=args["crimeType"])
    body = {
        "crimeType": args["crimeType"], "window": args["window"],
        "origins": [o.isoformat() for o in result.origins],
        "bestMethod": result.best_method, "verdict": result.verdict,
        "summary": json.loads(result.summary.to_json(orient="records")),
        "warnings": list(result.warnings),
    }
    return JobResult(json.dumps(body, ensure_ascii=False).encode())


def _effect(request: Request, deployment_id: str, raw: dict[str, str]) -> Response:
    _require(request, "deployments")
    params.parse(params.EFFECT, raw)  # bad parameters are refused before queueing
    try:
        dep = int(deployment_id)
    except ValueError:
        raise NotFound(f"onbekende inzet '{deployment_id}'") from None
    svc = services(request)
    store = svc.store
    found = list_deployments(store)
    found = found.loc[found["id"] == dep]
    if found.empty:
        raise NotFound(f"onbekende inzet '{deployment_id}'")
    touched = [str(c) for c in gemeente_of(found["buurt_code"]) if c is not None]
    require_gemeenten(caller(request), gemeente_of(found["buurt_code"]),
                      f"onbekende inzet '{deployment_id}'")
    if found["start"].isna().all():
        raise Conflict(f"inzet {dep} is {found['status'].iloc[0]}: een effect is pas te meten "
                       "na plaatsing")
    who = caller(request)
    audit(request, who, "effect", str(dep))
    payload = {"deployment": dep, "crimeType": raw.get("crimeType")}
    # below the police the evaluation counts incidents by month, as hotspots and plans do
    args = {**payload, "months": not disclosure.exact_times(who.role)}
    env = svc.job_env(store)
    return run_job(request, "effect", payload,
                   lambda progress: run_effect(env, args, progress),
                   spec={"handler": "effect", "args": args}, gemeenten=touched or None)


def run_effect(env: JobEnv, args: dict[str, Any], progress: Progress) -> JobResult:
    """The job handler of ``GET /deployments/{id}/effect`` (any worker)."""
    source = disclosure.MonthStore(env.store) if args["months"] else env.store
    types = crimetypes.expand(args["crimeType"]) if args.get("crimeType") else None
    est = deployment_effect(source, args["deployment"], types)
    body = est.as_dict()
    body["counts"] = json.loads(est.counts.to_json())
    return JobResult(json.dumps(body, ensure_ascii=False, default=str).encode())


register_handler("backtest", run_backtest)
register_handler("effect", run_effect)


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
