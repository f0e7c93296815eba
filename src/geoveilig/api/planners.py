"""The three planning kinds behind ``POST /v1/recommendations/{kind}`` (``alarms``,
``cameras``, ``buurttent``) and the ``recommendations`` collection: the sites of a stored plan
(``planId``), or of the newest plan of each kind, read from the store (the same in every worker
and after a restart). The planning itself, and saving the plan, is ``placement.service``.

Request bodies (JSON, camelCase; unknown fields are refused):

- alarms: ``count`` (1-500: the number of NEW sites; moves are listed apart), ``radius``
  (m, default 150), ``origin`` (date, default the day after the last incident), ``window``
  ("28d"), ``keepExisting``, ``minSpacing`` (m),
  ``durationDays``, ``method`` (hotspot method, default prospective)
- cameras: as alarms, ``radius`` default 75
- buurttent: ``count``, ``year``, ``minGapWeeks`` (default 8), ``slot`` (default "W-SAT")

The answer is a GeoJSON FeatureCollection (CRS84) of ranked sites with their explanation, plus
a ``summary`` member: planId, objective and objectiveUnit, bound, gap, proven, solver, status,
the number of new sites, moves and units that stay, and notes. ``keepExisting`` defaults to
``placement.service.KEEP_EXISTING`` (as in the CLI and on the map).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

import geopandas as gpd
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from ..errors import GeoveiligError, InvalidInput
from ..layers import (
    MAX_YEAR,
    MIN_YEAR,
    Layer,
    LayerContext,
    _method,
    _window,
    choice_param,
    int_param,
    register_layer,
)
from ..placement import service
from ..placement.policies import Recommendation
from ..store.plans import get_plan, latest_plan_ids, plan_sites
from .jobs import JobResult, Progress
from .planning import Planner, register_planner


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SitesRequest(_Body):
    count: int = Field(ge=1, le=500, description="aantal (extra) plaatsen")
    radius: float | None = Field(default=None, gt=0, le=2000, description="straal in meters")
    origin: date | None = Field(default=None, description="vanaf datum")
    window: str = Field(default="28d", pattern=r"^\s*\d+(\.\d+)?\s*[dw]?\s*$",
                        description="voorspelvenster, bijv. 28d of 4w")
    keep_existing: bool = Field(default=service.KEEP_EXISTING, alias="keepExisting")
    min_spacing: float | None = Field(default=None, gt=0, alias="minSpacing")
    method: str = Field(default="prospective", description="hotspotmethode (een risico in "
                        "incidenten: prospective, kde, naive of learned)")

    @field_validator("method")
    @classmethod
    def _placement_method(cls, value: str) -> str:
        try:
            return service.check_placement_method(value)
        except InvalidInput as exc:
            raise PydanticCustomError("placement_method", exc.message) from None


    # Complete validation before a job is queued (400, never 202 and then a failed job).
    @field_validator("window")
    @classmethod
    def _check_window(cls, value: str) -> str:
        return _checked(_window, value)

    @field_validator("method")
    @classmethod
    def _check_method(cls, value: str) -> str:
        return _checked(_method, value)

    @field_validator("origin")
    @classmethod
    def _check_origin(cls, value: date | None) -> date | None:
        if value is not None and not MIN_YEAR <= value.year <= MAX_YEAR:
            raise PydanticCustomError("out_of_range", f"datum ligt buiten {MIN_YEAR}-{MAX_YEAR}")
        return value


def _checked(parse: Any, value: str) -> str:
    """``value`` through one of the layer parameter parsers, its Dutch message as a pydantic
    error."""
    try:
        parse(value)
    except GeoveiligError as exc:
        raise PydanticCustomError("invalid", exc.message.replace("{", "(").replace("}", ")")
                                  ) from None
    return value


class AlarmRequest(SitesRequest):
    duration_days: int | None = Field(default=None, ge=1, le=365, alias="durationDays")


class BuurtTentRequest(_Body):
    count: int = Field(ge=1, le=104, description="aantal bezoeken")
    year: int = Field(ge=2000, le=2100)
    min_gap_weeks: float = Field(default=8, ge=0, le=52, alias="minGapWeeks")
    slot: str = Field(default="W-SAT", pattern=r"^[A-Z]+(-[A-Z]{3})?$")
    keep_existing: bool = Field(default=service.KEEP_EXISTING,
                                alias="keepExisting")  # ignored, for the form

    @field_validator("slot")
    @classmethod
    def _check_slot(cls, value: str) -> str:
        from pandas.tseries.frequencies import to_offset

        try:
            step = to_offset(value)
            dates = pd.date_range("2001-01-01", periods=2, freq=step)
        except (ValueError, TypeError):
            raise PydanticCustomError(
                "invalid", f"ongeldige slot-frequentie '{value}': gebruik bv. W-SAT") from None
        if len(dates) < 2 or dates[1] - dates[0] < pd.Timedelta(days=1):
            raise PydanticCustomError("invalid", "slot moet minstens een dag per stap zijn")
        return value


def _result(kind: str, plan: service.Plan) -> JobResult:
    rec: Recommendation = plan.recommendation
    sites = rec.sites.drop(columns=[c for c in ("candidate_index",) if c in rec.sites])
    sites = sites.assign(kind=kind, plan_id=plan.plan_id)
    fc = json.loads(sites.to_crs("OGC:CRS84").to_json(drop_id=True, to_wgs84=False))
    counts = plan.counts()
    fc["summary"] = {
        "planId": plan.plan_id, "kind": kind, "objective": rec.objective,
        "objectiveUnit": plan.objective_unit, "bound": rec.bound,
        "gap": rec.gap if pd.notna(rec.gap) else None, "proven": rec.proven,
        "solver": rec.solver, "status": rec.status, "total_risk": rec.total_risk,
        "newSites": counts["new"], "moves": counts["moved"], "kept": counts["kept"],
        "text": plan.summary(), "notes": list(plan.notes),
    }
    return JobResult(json.dumps(fc, default=str).encode(), "application/geo+json")


def _alarms(ctx: LayerContext, req: AlarmRequest, progress: Progress) -> JobResult:
    plan = service.plan_alarms(
        ctx.store, ctx.areas, count=req.count,
        radius=req.radius or service.DEFAULT_RADIUS_M["alarm"], origin=req.origin,
        window=req.window, keep_existing=req.keep_existing, min_spacing=req.min_spacing,
        duration_days=req.duration_days, method=req.method, requester=ctx.requester)
    return _result("alarms", plan)


def _cameras(ctx: LayerContext, req: SitesRequest, progress: Progress) -> JobResult:
    plan = service.plan_cameras(
        ctx.store, ctx.areas, count=req.count,
        radius=req.radius or service.DEFAULT_RADIUS_M["camera"], origin=req.origin,
        window=req.window, keep_existing=req.keep_existing, min_spacing=req.min_spacing,
        method=req.method, requester=ctx.requester)
    return _result("cameras", plan)


def _buurttent(ctx: LayerContext, req: BuurtTentRequest, progress: Progress) -> JobResult:
    plan = service.plan_buurttent_year(ctx.store, ctx.areas, count=req.count, year=req.year,
                                       min_gap_weeks=req.min_gap_weeks, slot=req.slot,
                                       requester=ctx.requester)
    return _result("buurttent", plan)


def build_recommendations(ctx: LayerContext, params: Mapping[str, Any]) -> gpd.GeoDataFrame:
    """The sites of stored plan ``planId``, or of the newest plan of each kind (or of
    ``kind``), with ``plan_id``, ``kind`` and ``site_id`` = ``<plan>-<seq>``."""
    from ..errors import NotFound
    from ..layers import ROLES, allows

    kind = params.get("kind")
    # a plan computed for the police (on exact incident times) is not shown below the police
    role = getattr(ctx.requester, "role", None) or "analyst"
    visible = [r for r in ROLES if allows(role, r)]
    if params.get("planId") is not None:
        plan = get_plan(ctx.store, params["planId"])
        if plan["role"] not in visible:
            raise NotFound(f"onbekend plan {params['planId']}")
        ids = [plan["id"]] if kind in (None, plan["kind"]) else []
        kinds = {plan["id"]: plan["kind"]}
    else:
        latest = latest_plan_ids(ctx.store, visible)
        ids = [i for k, i in sorted(latest.items()) if kind in (None, k)]
        kinds = {i: k for k, i in latest.items()}
    if not ids:
        return gpd.GeoDataFrame({"site_id": pd.Series(dtype=str), "kind": pd.Series(dtype=str),
                                 "plan_id": pd.Series(dtype=int), "rank": pd.Series(dtype=int)},
                                geometry=[], crs="EPSG:28992")
    out = plan_sites(ctx.store, ids)
    out["kind"] = out["plan_id"].map(kinds)
    out["site_id"] = out["plan_id"].astype(str) + "-" + out["seq"].astype(str)
    return out


#: the kinds of stored plans (the ``kind`` parameter of the recommendations layer)
PLAN_KINDS = ("alarms", "cameras", "buurttent")


register_planner(Planner(
    kind="alarms", title="Mobiele alarmsystemen", compute=_alarms, request_model=AlarmRequest,
    description="Waar de (extra) mobiele alarmsystemen het meeste voorspelde inbraakrisico "
                "in woongebied dekken, met rotatieadvies voor geplaatste systemen."))
register_planner(Planner(
    kind="cameras", title="Flexibele camera's", compute=_cameras, request_model=SitesRequest,
    description="Waar flexibele camera's het meeste voorspelde risico op straatcriminaliteit "
                "dekken."))
register_planner(Planner(
    kind="buurttent", title="BuurtTent-bezoeken", compute=_buurttent,
    request_model=BuurtTentRequest,
    description="Een gedateerd schema van BuurtTent-bezoeken: HIC-risico x zwakke "
                "preventiedekking."))
register_layer(Layer(
    id="recommendations", title="Aanbevolen plaatsen (opgeslagen plannen)",
    description="De plaatsen van een opgeslagen plan (planId), of van het nieuwste plan per "
                "soort (alarmsystemen, camera's, BuurtTent), met hun toelichting.",
    builder=build_recommendations, role="analyst",
    params=(choice_param("kind", "Soort advies: alarms, cameras of buurttent.", PLAN_KINDS,
                         example="alarms"),
            int_param("planId", "Nummer van een opgeslagen plan (standaard: het nieuwste per "
                      "soort).", 1, example="1")),
    id_column="site_id", queryables=("kind", "status", "buurt_code", "wijk_code"),
    geometry_type="Point", keywords=("advies", "inzet"), per_role=True,
    depends_on=("plans",)))
