"""Planning endpoints: ``POST /v1/recommendations/{kind}`` (JSON in, GeoJSON out), run as
cached jobs (``jobs.run_job``). The placement module plugs a kind in with one call:

    register_planner(Planner(
        kind="alarms", title="Mobiele alarmsystemen", role="analyst",
        request_model=AlarmRequest,                      # pydantic model of the JSON body
        compute=lambda ctx, req, progress: recommend_alarms(ctx.areas, ctx.store, ...)))

``compute(ctx, request, progress)`` returns a GeoDataFrame in EPSG:28992 (served as GeoJSON in
CRS84, or RD with ``?crs=``) or a ``JobResult``. Identical requests (same body, same data
version) are answered from the job cache; slow ones get 202 and a status URL. A kind the
caller's role may not use answers like an unknown kind (404).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from .. import disclosure
from ..errors import InvalidInput, NotFound
from ..jobs import JobEnv, register_handler
from ..layers import GEMEENTE_PARAM, LayerContext, allows
from ..scope import scope_env, select_areas
from ..store.plans import Requester
from . import features as ft
from .auth import caller
from .jobs import JobResult, Progress, run_job
from .services import services


@dataclass(frozen=True)
class Planner:
    kind: str
    title: str
    compute: Callable[[LayerContext, Any, Progress], gpd.GeoDataFrame | JobResult]
    request_model: type[BaseModel]
    role: str = "analyst"
    description: str = ""


_PLANNERS: dict[str, Planner] = {}


def register_planner(planner: Planner) -> Planner:
    _PLANNERS[planner.kind] = planner
    return planner


def unregister_planner(kind: str) -> None:
    _PLANNERS.pop(kind, None)


def planners() -> list[Planner]:
    return list(_PLANNERS.values())


def to_geojson(frame: gpd.GeoDataFrame, crs: str) -> JobResult:
    """A GeoDataFrame (EPSG:28992) as GeoJSON bytes in ``crs`` (CRS84 or RD)."""
    out = frame if crs == ft.RD else frame.to_crs("OGC:CRS84")
    return JobResult(out.to_json(drop_id=True, to_wgs84=False).encode(),
                     "application/geo+json")


_MESSAGES = {
    "greater_than_equal": "moet minstens {ge} zijn",
    "less_than_equal": "mag hoogstens {le} zijn",
    "greater_than": "moet groter zijn dan {gt}",
    "less_than": "moet kleiner zijn dan {lt}",
    "missing": "ontbreekt",
    "extra_forbidden": "onbekend veld",
    "int_parsing": "moet een geheel getal zijn",
    "int_from_float": "moet een geheel getal zijn",
    "float_parsing": "moet een getal zijn",
    "bool_parsing": "moet true of false zijn",
    "string_pattern_mismatch": "ongeldige waarde",
    "date_parsing": "ongeldige datum (gebruik JJJJ-MM-DD)",
    "date_from_datetime_parsing": "ongeldige datum (gebruik JJJJ-MM-DD)",
    "model_type": "verwacht een JSON-object",
}


def _dutch(error: Any) -> str:
    """A pydantic validation error in Dutch (the English text when the type is unknown)."""
    template = _MESSAGES.get(error.get("type", ""))
    if template is None:
        return str(error.get("msg", "ongeldige waarde"))
    try:
        return template.format(**(error.get("ctx") or {}))
    except (KeyError, IndexError):
        return template


def requester(who: Any) -> Requester:
    """The caller as it is recorded with a plan: role, key id and actor."""
    key_id = who.actor[4:].split(" ", 1)[0] if who.actor.startswith("key:") else None
    return Requester(role=who.role, actor=who.actor, key_id=key_id)


def run_planner(env: JobEnv, args: dict[str, Any], progress: Progress) -> JobResult:
    """The job handler of ``POST /recommendations/{kind}``, in any worker: ``args`` holds the
    kind, the validated request body, the output CRS, the requester and whether incident
    times are seen by month (below the police)."""
    planner = _PLANNERS.get(args["kind"])
    if planner is None:
        raise NotFound(f"onbekend soort advies '{args['kind']}'")
    req = planner.request_model.model_validate(args["request"])
    env = scope_env(env, args.get("gemeente"))
    store = disclosure.MonthStore(env.store) if args["months"] else env.store
    ctx = env.context(store, Requester(**args["requester"]))
    result = planner.compute(ctx, req, progress)
    return result if isinstance(result, JobResult) else to_geojson(result, args["crs"])


register_handler("recommendations", run_planner)


def planning_router(prefix: str = "/v1") -> APIRouter:
    router = APIRouter(prefix=prefix, include_in_schema=False)

    @router.post("/recommendations/{kind}")
    async def recommend(kind: str, request: Request) -> Response:
        who = await run_in_threadpool(caller, request)
        planner = _PLANNERS.get(kind)
        if planner is None or not allows(who.role, planner.role):
            raise NotFound(f"onbekend soort advies '{kind}'")
        raw = dict(request.query_params)
        ft.check_unknown(raw, ("crs", GEMEENTE_PARAM.name))
        crs = ft.parse_crs(raw.get("crs"))
        gemeente_raw = raw.get(GEMEENTE_PARAM.name)
        gemeente = select_areas(  # a plan is about one gemeente: required with several
            services(request).areas,
            None if gemeente_raw is None else GEMEENTE_PARAM.parse_value(gemeente_raw),
            required=True).gemeente_code
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InvalidInput("de body is geen geldige JSON", where="body") from None
        except RecursionError:
            raise InvalidInput("de body is te diep genest", where="body") from None
        try:
            req = planner.request_model.model_validate(body)
        except ValidationError as exc:
            detail = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: "
                               f"{_dutch(e)}" for e in exc.errors())
            raise InvalidInput(detail, where="body") from None
        svc = services(request)
        months = not disclosure.exact_times(who.role) and "origin" in type(req).model_fields
        if months:
            # below the police: incident times by month, origins on the first of a month
            req = req.model_copy(update={"origin": await run_in_threadpool(
                disclosure.month_origin, disclosure.MonthStore(svc.store),
                req.origin)})  # type: ignore[attr-defined]
        payload = {"request": req.model_dump(mode="json"), "crs": crs, "gemeente": gemeente}
        args = {**payload, "kind": kind, "months": months,
                "requester": dataclasses.asdict(requester(who))}
        env = svc.job_env()
        return await run_in_threadpool(
            run_job, request, f"recommendations/{kind}", payload,
            lambda progress: run_planner(env, args, progress),
            spec={"handler": "recommendations", "args": args}, gemeenten=[gemeente])

    return router
