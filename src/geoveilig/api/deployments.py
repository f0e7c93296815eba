"""Deployment endpoints (analyst role, audited): record, place, end, cancel, delete.

- ``POST /v1/deployments``: one deployment (``kind``, a place as ``lon``/``lat`` (WGS84) or
  ``x``/``y`` (RD), ``plannedStart``/``plannedEnd`` or ``start`` when it is already placed,
  ``radius``, ``label``, ``note``), or planned deployments at a stored plan's sites
  (``planId`` + ``ranks``, optional ``plannedStart``/``plannedEnd``). 201 with the records.
- ``PATCH /v1/deployments/{id}``: ``{"status": "geplaatst", "at": "2018-02-01"}`` (place),
  ``{"status": "beëindigd", "at": ...}`` (end) or ``{"status": "geannuleerd"}`` (cancel).
- ``DELETE /v1/deployments/{id}``: only while planned (204).

Bad input is 400, a change the current status does not allow is 409 (``Conflict``), an
unknown id (or a caller below analyst) 404, all as problem+json. The work is done by
``store.deployments`` and ``placement.service.deployments_from_plan``.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.concurrency import run_in_threadpool

from .. import RD_NEW
from ..areas import gemeente_of
from ..errors import InvalidInput, NotFound
from ..layers import allows
from ..placement.service import deployments_from_plan
from ..store.deployments import (
    add_deployments,
    cancel_deployment,
    end_deployment,
    get_deployment,
    place_deployment,
    remove_deployment,
)
from .auth import audit, caller, require_gemeenten
from .planning import _dutch
from .services import services

ROLE = "analyst"
_MAX_ID = 2**31 - 1
_RD_BOUNDS = (0.0, 300_000.0, 300_000.0, 625_000.0)
Id = Annotated[int, Field(ge=0, le=_MAX_ID)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class NewDeployment(_Body):
    kind: Literal["alarm", "camera", "buurttent", "witte-voeten"] | None = None
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    x: float | None = None
    y: float | None = None
    radius: float | None = Field(default=None, gt=0, le=5000)
    label: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=2000)
    start: date | datetime | None = None
    planned_start: date | datetime | None = Field(default=None, alias="plannedStart")
    planned_end: date | datetime | None = Field(default=None, alias="plannedEnd")
    plan_id: int | None = Field(default=None, ge=1, le=_MAX_ID, alias="planId")
    ranks: list[Id] | None = Field(default=None, min_length=1, max_length=500)

    @field_validator("label", "note")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("bevat een NUL-teken")
        return value


class DeploymentChange(_Body):
    status: Literal["geplaatst", "beëindigd", "geannuleerd"]
    at: date | datetime | None = None


def _require(request: Request) -> Any:
    who = caller(request)
    if not allows(who.role, ROLE):
        raise NotFound("onbekend pad")  # the same answer as for an unknown path
    return who


async def _body(request: Request, model: type[BaseModel]) -> Any:
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidInput("de body is geen geldige JSON", where="body") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {_dutch(e)}"
                           for e in exc.errors())
        raise InvalidInput(detail, where="body") from None


def _iso(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).isoformat()


def record(row: pd.Series) -> dict[str, Any]:
    """One deployment as JSON (WGS84 point)."""
    lonlat = gpd.GeoSeries([row.geometry], crs=RD_NEW).to_crs("OGC:CRS84").iloc[0]
    return {
        "id": int(row["id"]), "kind": row["kind"], "label": row["label"],
        "status": row["status"], "start": _iso(row["start"]), "end": _iso(row["end"]),
        "plannedStart": _iso(row["planned_start"]), "plannedEnd": _iso(row["planned_end"]),
        "planId": None if pd.isna(row["plan_id"]) else int(row["plan_id"]),
        "planRank": None if pd.isna(row["plan_rank"]) else int(row["plan_rank"]),
        "radius": None if pd.isna(row["radius_m"]) else float(row["radius_m"]),
        "buurtCode": row["buurt_code"], "wijkCode": row["wijk_code"],
        "lon": round(lonlat.x, 7), "lat": round(lonlat.y, 7),
    }


def _create(request: Request, body: NewDeployment, who: Any) -> list[int]:
    role = who.role
    store = services(request).store
    if body.plan_id is not None or body.ranks is not None:
        if body.plan_id is None or not body.ranks:
            raise InvalidInput("geef planId en ranks samen", where="planId")
        from ..store.plans import get_plan

        if not allows(role, get_plan(store, body.plan_id)["role"]):  # a police plan: 404
            raise NotFound(f"onbekend plan {body.plan_id}")
        from ..store.plans import plan_sites

        sites = plan_sites(store, body.plan_id)  # a key for some gemeenten: its own sites only
        where = services(request).areas.assign_gemeente(sites.geometry.x.to_numpy(),
                                                        sites.geometry.y.to_numpy())
        require_gemeenten(who, where["gemeente_code"], f"onbekend plan {body.plan_id}")
        extra = [k for k in ("kind", "lon", "lat", "x", "y", "start") if getattr(body, k)
                 is not None]
        if extra:
            raise InvalidInput(f"{', '.join(extra)} hoort niet bij inzet uit een plan (de "
                               "plaats en soort komen uit het plan)", where="body")
        return deployments_from_plan(store, body.plan_id, body.ranks,
                                     planned_start=_ts(body.planned_start, "plannedStart"),
                                     planned_end=_ts(body.planned_end, "plannedEnd"),
                                     note=body.note)
    if body.kind is None:
        raise InvalidInput("kind ontbreekt (alarm, camera of buurttent)", where="kind")
    if body.lon is not None and body.lat is not None and body.x is None and body.y is None:
        point = gpd.GeoSeries([shapely.Point(body.lon, body.lat)], crs="OGC:CRS84").to_crs(
            RD_NEW).iloc[0]
    elif body.x is not None and body.y is not None and body.lon is None and body.lat is None:
        point = shapely.Point(body.x, body.y)
    else:
        raise InvalidInput("geef de plaats als lon en lat (WGS84) of als x en y (RD)",
                           where="body")
    if not (np.isfinite([point.x, point.y]).all() and _RD_BOUNDS[0] <= point.x <= _RD_BOUNDS[2]
            and _RD_BOUNDS[1] <= point.y <= _RD_BOUNDS[3]):
        raise InvalidInput("de plaats ligt buiten Nederland", where="body")
    found = services(request).areas.assign(np.array([point.x]), np.array([point.y])).iloc[0]
    if found["buurt_code"] is None:
        raise InvalidInput("de plaats ligt buiten de gemeente", where="body")
    if who.gemeenten is not None and gemeente_of([found["buurt_code"]])[0] not in who.gemeenten:
        raise InvalidInput("de plaats ligt buiten de gemeente(n) van deze sleutel "
                           f"({', '.join(who.gemeenten)})", where="body")
    frame = gpd.GeoDataFrame([{
        "kind": body.kind, "label": body.label, "radius_m": body.radius, "note": body.note,
        "start": _ts(body.start, "start"),
        "planned_start": _ts(body.planned_start, "plannedStart"),
        "planned_end": _ts(body.planned_end, "plannedEnd"), "buurt_code": found["buurt_code"],
        "wijk_code": found["wijk_code"], "source": "API"}], geometry=[point], crs=RD_NEW)
    return add_deployments(store, frame)


def _ts(value: date | datetime | None, where: str = "body") -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        return pd.Timestamp(value)
    except (ValueError, OverflowError):  # outside the years pandas can represent
        raise InvalidInput(f"datum {value} ligt buiten het bereik (1677-2262)",
                           where=where) from None


def _changed(request: Request) -> None:
    """This worker sees its own change at once (other workers within ``version_ttl``)."""
    services(request).data_changed()


def deployments_router(prefix: str = "/v1") -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["inzet"])

    @router.post("/deployments", summary="Inzet vastleggen (één, of uit een plan)",
                 status_code=201)
    async def create(request: Request) -> JSONResponse:
        """Eén inzet (soort, plaats, geplande of werkelijke start) of geplande inzet voor
        gekozen rangen van een opgeslagen plan (`planId`, `ranks`). Rol analyst."""
        who = await run_in_threadpool(_require, request)
        body = await _body(request, NewDeployment)
        ids = await run_in_threadpool(_create, request, body, who)
        await run_in_threadpool(audit, request, who, "deployment-create",
                                ",".join(map(str, ids)))
        _changed(request)
        rows = [record(await run_in_threadpool(get_deployment, services(request).store, i))
                for i in ids]
        headers = {"Location": str(request.url_for(
            "item", collection_id="deployments", feature_id=str(ids[0])))} \
            if len(ids) == 1 else None
        return JSONResponse({"deployments": rows}, status_code=201, headers=headers)

    @router.api_route("/deployments/{deployment_id}", methods=["PATCH", "DELETE"],
                      summary="Inzet plaatsen, beëindigen, annuleren of verwijderen")
    async def one(deployment_id: str, request: Request) -> Response:
        """PATCH: `{"status": "geplaatst", "at": "JJJJ-MM-DD"}` (plaatsen),
        `{"status": "beëindigd", "at": ...}` of `{"status": "geannuleerd"}`; een wijziging
        die de huidige status niet toelaat geeft 409. DELETE: alleen zolang de inzet gepland
        is. Rol analyst. (One route for both methods, so a 405 lists both in ``Allow``.)"""
        who = await run_in_threadpool(_require, request)
        dep = _id(deployment_id)
        await run_in_threadpool(_own, request, who, dep)
        if request.method == "DELETE":
            return await _delete(request, who, dep)
        return await _change(request, who, dep)

    return router


async def _change(request: Request, who: Any, dep: int) -> JSONResponse:
    body = await _body(request, DeploymentChange)
    store = services(request).store
    if body.status == "geannuleerd":
        if body.at is not None:
            raise InvalidInput("annuleren heeft geen datum", where="at")
        await run_in_threadpool(cancel_deployment, store, dep)
    else:
        if body.at is None:
            raise InvalidInput("at (de datum) ontbreekt", where="at")
        step = place_deployment if body.status == "geplaatst" else end_deployment
        at = _ts(body.at, "at")
        assert at is not None  # body.at is not None here
        await run_in_threadpool(step, store, dep, at)
    await run_in_threadpool(audit, request, who, f"deployment-{body.status}", str(dep))
    _changed(request)
    return JSONResponse(record(await run_in_threadpool(get_deployment, store, dep)))


async def _delete(request: Request, who: Any, dep: int) -> Response:
    await run_in_threadpool(remove_deployment, services(request).store, dep)
    await run_in_threadpool(audit, request, who, "deployment-delete", str(dep))
    _changed(request)
    return Response(status_code=204)


def _own(request: Request, who: Any, dep: int) -> None:
    """A key for some gemeenten changes only the deployments in its own (others: 404)."""
    if who.gemeenten is not None:
        row = get_deployment(services(request).store, dep)
        require_gemeenten(who, gemeente_of([row["buurt_code"]]), f"onbekende inzet '{dep}'")


def _id(text: str) -> int:
    if not text.isdigit() or int(text) > _MAX_ID:
        raise NotFound(f"onbekende inzet '{text}'")
    return int(text)
