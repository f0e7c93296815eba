"""The three planning kinds behind ``POST /v1/recommendations/{kind}`` (``alarms``,
``cameras``, ``buurttent``) and the ``recommendations`` collection (the last planning run of
each kind in this service process). The planning itself is ``placement.service``.

Request bodies (JSON, camelCase; unknown fields are refused):

- alarms: ``count`` (1-500), ``radius`` (m, default 150), ``origin`` (date, default the day
  after the last incident), ``window`` ("28d"), ``keepExisting``, ``minSpacing`` (m),
  ``durationDays``, ``method`` (hotspot method, default prospective)
- cameras: as alarms, ``radius`` default 75
- buurttent: ``count``, ``year``, ``minGapWeeks`` (default 8), ``slot`` (default "W-SAT")

The answer is a GeoJSON FeatureCollection (CRS84) of ranked sites with their explanation, plus
a ``summary`` member: objective, bound, gap, proven, solver, status, method and notes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import date
from typing import Any

import geopandas as gpd
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from ..errors import GeoveiligError
from ..layers import (
    MAX_YEAR,
    MIN_YEAR,
    Layer,
    LayerContext,
    Param,
    _method,
    _window,
    register_layer,
)
from ..placement import service
from ..placement.policies import Recommendation
from .jobs import JobResult, Progress
from .planning import Planner, register_planner

_LAST: dict[str, gpd.GeoDataFrame] = {}
_LOCK = threading.Lock()


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SitesRequest(_Body):
    count: int = Field(ge=1, le=500, description="aantal (extra) plaatsen")
    radius: float | None = Field(default=None, gt=0, le=2000, description="straal in meters")
    origin: date | None = Field(default=None, description="vanaf datum")
    window: str = Field(default="28d", pattern=r"^\s*\d+(\.\d+)?\s*[dw]?\s*$",
                        description="voorspelvenster, bijv. 28d of 4w")
    keep_existing: bool = Field(default=False, alias="keepExisting")
    min_spacing: float | None = Field(default=None, gt=0, alias="minSpacing")
    method: str = Field(default="prospective", description="hotspotmethode")


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
    keep_existing: bool = Field(default=False, alias="keepExisting")  # ignored, for the form

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
    sites = sites.assign(kind=kind)
    with _LOCK:
        _LAST[kind] = sites
    fc = json.loads(sites.to_crs("OGC:CRS84").to_json(drop_id=True, to_wgs84=False))
    fc["summary"] = {
        "kind": kind, "objective": rec.objective, "bound": rec.bound,
        "gap": rec.gap if pd.notna(rec.gap) else None, "proven": rec.proven,
        "solver": rec.solver, "status": rec.status, "total_risk": rec.total_risk,
        "text": rec.summary(), "notes": list(plan.notes),
    }
    return JobResult(json.dumps(fc, default=str).encode(), "application/geo+json")


def _alarms(ctx: LayerContext, req: AlarmRequest, progress: Progress) -> JobResult:
    plan = service.plan_alarms(
        ctx.store, ctx.areas, count=req.count, radius=req.radius or 150.0, origin=req.origin,
        window=req.window, keep_existing=req.keep_existing, min_spacing=req.min_spacing,
        duration_days=req.duration_days, method=req.method)
    return _result("alarms", plan)


def _cameras(ctx: LayerContext, req: SitesRequest, progress: Progress) -> JobResult:
    plan = service.plan_cameras(
        ctx.store, ctx.areas, count=req.count, radius=req.radius or 75.0, origin=req.origin,
        window=req.window, keep_existing=req.keep_existing, min_spacing=req.min_spacing,
        method=req.method)
    return _result("cameras", plan)


def _buurttent(ctx: LayerContext, req: BuurtTentRequest, progress: Progress) -> JobResult:
    plan = service.plan_buurttent_year(ctx.store, ctx.areas, count=req.count, year=req.year,
                                       min_gap_weeks=req.min_gap_weeks, slot=req.slot)
    return _result("buurttent", plan)


def build_recommendations(ctx: LayerContext, params: Mapping[str, Any]) -> gpd.GeoDataFrame:
    """The last planning run of each kind (or of ``kind``) in this process."""
    with _LOCK:
        frames = [f for k, f in _LAST.items() if params.get("kind") in (None, k)]
    if not frames:
        return gpd.GeoDataFrame({"site_id": pd.Series(dtype=str), "kind": pd.Series(dtype=str),
                                 "rank": pd.Series(dtype=int)}, geometry=[], crs="EPSG:28992")
    out = pd.concat(frames, ignore_index=True)
    out["site_id"] = out["kind"] + "-" + out["rank"].astype(str)
    return gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:28992")


def _kind(text: str) -> str:
    from ..errors import InvalidInput

    if text not in ("alarms", "cameras", "buurttent"):
        raise InvalidInput(f"onbekend soort '{text}': alarms, cameras of buurttent",
                           where="kind")
    return text


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
    id="recommendations", title="Aanbevolen plaatsen (laatste planning)",
    description="De plaatsen van de laatste planning per soort (alarmsystemen, camera's, "
                "BuurtTent) in deze service, met hun toelichting.",
    builder=build_recommendations, role="analyst",
    params=(Param("kind", "Soort advies: alarms, cameras of buurttent.", _kind,
                  example="alarms"),),
    id_column="site_id", queryables=("kind", "buurt_code", "wijk_code"),
    geometry_type="Point", keywords=("advies", "inzet")))
