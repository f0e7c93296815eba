"""Stored plans: every planning run (alarms, cameras, BuurtTent) with its parameters, the data
version it used, who asked (role and key id), when, its objective (with its unit), bound and
gap, and every site with its explanation.

A plan's sites are kept in ``plan_sites`` in their original order (``seq``): the point
(``x``, ``y``, RD metres), ``rank`` (0 for units already in place, 1.. for new sites and
moves), ``status`` (nieuw, verplaatst, bestaand, gepland), ``expected_covered`` and the full
explanation row as JSON (``properties``). Plans are never changed after they are saved.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import BigInteger, Column, Float, ForeignKey, Index, Integer, String, Table, Text

from .. import RD_NEW, TIMEZONE
from .._json import json_value
from ..errors import InvalidInput, NotFound
from ..spatial import require_rd
from .models import metadata
from .protocols import HasEngine

__all__ = ["PLAN_KINDS", "Requester", "get_plan", "list_plans", "plan_sites", "save_plan"]

#: Planning kinds and the deployment kind their sites become.
PLAN_KINDS: dict[str, str] = {"alarms": "alarm", "cameras": "camera", "buurttent": "buurttent"}

plans = Table(
    "plans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("params", Text, nullable=False),
    Column("data_version", Text),
    Column("role", String(16), nullable=False),
    Column("key_id", String(32)),
    Column("actor", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("objective", Float, nullable=False),
    Column("objective_unit", Text, nullable=False),
    Column("bound", Float),
    Column("gap", Float),
    Column("proven", Integer, nullable=False),
    Column("solver", String(64)),
    Column("status", Text),
    Column("total_risk", Float),
    Column("summary", Text, nullable=False),
    Column("notes", Text, nullable=False),
    Index(None, "kind", "created_at"),
)

plan_site_table = Table(
    "plan_sites",
    metadata,
    Column("plan_id", Integer, ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("rank", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("x", Float, nullable=False),
    Column("y", Float, nullable=False),
    Column("expected_covered", Float),
    Column("properties", Text, nullable=False),
)


@dataclass(frozen=True)
class Requester:
    """Who asked for a planning run: role, API key id (None for the CLI) and a readable actor
    (``key:<id> (<name>)`` or ``cli:<user>``)."""

    role: str
    actor: str
    key_id: str | None = None


def _engine(store: HasEngine) -> sa.Engine:
    return store.engine


def _clean(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): json_value(v, stringify=True) for k, v in mapping.items()}


def save_plan(store: HasEngine, *, kind: str, sites: gpd.GeoDataFrame, params: Mapping[str, Any],
              objective: float, objective_unit: str, bound: float | None, gap: float | None,
              proven: bool, solver: str, status: str, total_risk: float | None, summary: str,
              notes: Sequence[str], requester: Requester, data_version: str | None) -> int:
    """Store one planning run and its sites (EPSG:28992 points); returns the plan id."""
    if kind not in PLAN_KINDS:
        raise InvalidInput(f"onbekend soort plan '{kind}'")
    require_rd(sites, "plan (plaatsen)")
    props = sites.drop(columns=[sites.geometry.name, "candidate_index"], errors="ignore")
    rows = []
    for seq, (rec, geom) in enumerate(zip(props.to_dict("records"), sites.geometry,
                                          strict=True)):
        clean = _clean(rec)
        rows.append({"seq": seq, "rank": int(clean.get("rank") or 0),
                     "status": str(clean.get("status") or "nieuw"),
                     "x": float(geom.x), "y": float(geom.y),
                     "expected_covered": clean.get("expected_covered"),
                     "properties": json.dumps(clean, ensure_ascii=False)})
    g = None if gap is None or not math.isfinite(float(gap)) else float(gap)
    with _engine(store).begin() as conn:
        plan_id = int(conn.execute(plans.insert().values(
            kind=kind, params=json.dumps(_clean(params), ensure_ascii=False, sort_keys=True),
            data_version=data_version, role=requester.role, key_id=requester.key_id,
            actor=requester.actor, created_at=int(time.time()), objective=float(objective),
            objective_unit=objective_unit,
            bound=None if bound is None or not math.isfinite(float(bound)) else float(bound),
            gap=g, proven=int(bool(proven)), solver=solver, status=status,
            total_risk=None if total_risk is None else float(total_risk), summary=summary,
            notes=json.dumps(list(notes), ensure_ascii=False),
        ).returning(plans.c.id)).scalar_one())
        if rows:
            conn.execute(plan_site_table.insert(), [{**r, "plan_id": plan_id} for r in rows])
    return plan_id


def _plan_frame(rows: Sequence[Any]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[c.name for c in plans.columns])
    frame["created_at"] = pd.to_datetime(frame["created_at"], unit="s", utc=True
                                         ).dt.tz_convert(TIMEZONE)
    frame["proven"] = frame["proven"].astype(bool)
    return frame


def list_plans(store: HasEngine, *, kind: str | None = None) -> pd.DataFrame:
    """Stored plans, newest first, with the number of sites per status."""
    stmt = sa.select(plans).order_by(plans.c.id.desc())
    if kind is not None:
        stmt = stmt.where(plans.c.kind == kind)
    counts = sa.select(plan_site_table.c.plan_id, plan_site_table.c.status,
                       sa.func.count().label("n")).group_by(plan_site_table.c.plan_id,
                                                            plan_site_table.c.status)
    with _engine(store).connect() as conn:
        frame = _plan_frame(conn.execute(stmt).all())
        per = pd.DataFrame(conn.execute(counts).all(), columns=["plan_id", "status", "n"])
    for status in ("nieuw", "verplaatst", "bestaand", "gepland"):
        n = per.loc[per["status"] == status].set_index("plan_id")["n"]
        frame[f"n_{status}"] = frame["id"].map(n).fillna(0).astype(int)
    return frame


def get_plan(store: HasEngine, plan_id: int) -> dict[str, Any]:
    """One plan's record (parameters and notes decoded); ``NotFound`` for an unknown id."""
    with _engine(store).connect() as conn:
        row = conn.execute(sa.select(plans).where(plans.c.id == int(plan_id))).first()
    if row is None:
        raise NotFound(f"onbekend plan {plan_id}")
    rec = _plan_frame([row]).iloc[0].to_dict()
    rec["params"] = json.loads(rec["params"])
    rec["notes"] = json.loads(rec["notes"])
    rec["id"] = int(rec["id"])
    return rec


def latest_plan_ids(store: HasEngine, roles: Sequence[str] | None = None) -> dict[str, int]:
    """The newest plan id of each kind (of the plans asked by one of ``roles``, when given)."""
    stmt = sa.select(plans.c.kind, sa.func.max(plans.c.id)).group_by(plans.c.kind)
    if roles is not None:
        stmt = stmt.where(plans.c.role.in_(list(roles)))
    with _engine(store).connect() as conn:
        return {k: int(i) for k, i in conn.execute(stmt).all()}


def plans_version(store: HasEngine) -> tuple[int | None, int]:
    """(newest plan id, number of plans): changes whenever a plan is saved."""
    with _engine(store).connect() as conn:
        return tuple(conn.execute(sa.select(sa.func.max(plans.c.id),
                                            sa.func.count()).select_from(plans)).one())


def plan_sites(store: HasEngine, plan_id: int | Sequence[int]) -> gpd.GeoDataFrame:
    """The sites of one plan (or several) as points (EPSG:28992) in their original order:
    ``plan_id``, ``seq``, ``rank``, ``status``, ``expected_covered`` and every explanation
    column of the planning run. ``NotFound`` when a plan does not exist."""
    ids = [int(plan_id)] if isinstance(plan_id, (int, np.integer)) else [int(i) for i in plan_id]
    t = plan_site_table.c
    with _engine(store).connect() as conn:
        known = {int(i) for i in conn.execute(sa.select(plans.c.id).where(
            plans.c.id.in_(ids))).scalars()}
        missing = sorted(set(ids) - known)
        if missing:
            raise NotFound(f"onbekend plan {', '.join(map(str, missing))}")
        rows = conn.execute(sa.select(plan_site_table).where(t.plan_id.in_(ids))
                            .order_by(t.plan_id, t.seq)).all()
    base = pd.DataFrame(rows, columns=[c.name for c in plan_site_table.columns])
    extra = pd.DataFrame([json.loads(p) for p in base["properties"]], index=base.index)
    extra = extra.drop(columns=[c for c in ("rank", "status", "expected_covered")
                                if c in extra.columns])
    frame = pd.concat([base.drop(columns=["properties"]), extra], axis=1)
    frame["rank"] = frame["rank"].astype(int)
    frame["expected_covered"] = pd.to_numeric(frame["expected_covered"], errors="coerce")
    geometry = gpd.points_from_xy(frame["x"].astype(float), frame["y"].astype(float))
    return gpd.GeoDataFrame(frame.drop(columns=["x", "y"]), geometry=geometry, crs=RD_NEW)
