"""Store tables and functions for the prevention registry (``geoveilig.prevention``).

Tables (on the shared ``metadata``; migration ``0002``):

- ``prevention_groups``: one row per group. The area is ``buurten`` (codes joined by ``;``)
  or ``geometry_wkb`` (polygon, EPSG:28992, WKB). No column can hold data about persons.
  ``team_id`` links a WhatsApp group to its team (``ON DELETE SET NULL``).
- ``prevention_status``: the status history ``group_id, status, since`` (a calendar date;
  the status holds from that date until the next row). ``ON DELETE CASCADE``.

Every write runs in one transaction; a failed import or change leaves the store as it was.
Writes record an ``audit_log`` row when an ``actor`` is given.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Literal, ParamSpec, TypeVar

import geopandas as gpd
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Connection

from .. import RD_NEW
from ..errors import InvalidInput, NotFound, StoreUnavailable
from ..prevention.registry import (
    AREA_BUURTEN,
    Registry,
    make_registry,
    merge_registries,
    normalise_status,
    to_date,
)
from .models import audit_log, import_batches, metadata
from .protocols import HasEngine

__all__ = [
    "add_group", "list_groups", "load_demo_registry", "load_registry", "prevention_groups",
    "prevention_status", "remove_group", "save_registry", "set_status",
]

prevention_groups = Table(
    "prevention_groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_id", String(64), nullable=False, unique=True),
    Column("type", String(32), nullable=False),
    Column("label", Text),
    Column("team_id", String(64),
           ForeignKey("prevention_groups.group_id", ondelete="SET NULL")),
    Column("area_kind", String(16), nullable=False),
    Column("buurten", Text),
    Column("geometry_wkb", LargeBinary),
    Column("postcodes", Text),
    Column("members", Integer),
    Column("synthetic", Integer, nullable=False, default=0),
    Column("updated_at", BigInteger, nullable=False),
)

prevention_status = Table(
    "prevention_status",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_id", String(64),
           ForeignKey("prevention_groups.group_id", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("since", Date, nullable=False),
    UniqueConstraint("group_id", "since"),
    Index(None, "since"),
)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _guard(func: Callable[_P, _R]) -> Callable[_P, _R]:
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return func(*args, **kwargs)
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(f"database niet bereikbaar: {exc.orig}") from exc
    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


def _read(conn: Connection) -> Registry:
    g = conn.execute(sa.select(prevention_groups).order_by(prevention_groups.c.group_id)).all()
    h = conn.execute(sa.select(prevention_status.c.group_id, prevention_status.c.status,
                               prevention_status.c.since)
                     .order_by(prevention_status.c.group_id, prevention_status.c.since)).all()
    groups = gpd.GeoDataFrame({
        "group_id": [r.group_id for r in g],
        "type": [r.type for r in g],
        "label": [r.label for r in g],
        "team_id": [r.team_id for r in g],
        "area_kind": [r.area_kind for r in g],
        "buurten": [tuple(r.buurten.split(";")) if r.buurten else () for r in g],
        "postcodes": [r.postcodes for r in g],
        "members": pd.array([r.members for r in g], dtype="Int64"),
        "synthetic": [bool(r.synthetic) for r in g],
    }, geometry=gpd.GeoSeries([shapely.from_wkb(r.geometry_wkb) if r.geometry_wkb else None
                               for r in g], crs=RD_NEW), crs=RD_NEW)
    history = pd.DataFrame({
        "group_id": [r.group_id for r in h],
        "status": [r.status for r in h],
        "since": pd.to_datetime([pd.Timestamp(r.since) for r in h]),
    })
    return Registry(groups=groups, history=history)


def _text(value: object) -> str | None:
    """A text cell or None: pandas' NaN/None for a missing value becomes NULL (SQLite turns a
    bound NaN into NULL by itself, PostgreSQL would store the string 'NaN')."""
    return value if isinstance(value, str) and value != "" else None


def _write(conn: Connection, registry: Registry, *, replace_ids: list[str] | None) -> None:
    """Insert the registry's groups (teams first, for the team link) and history; with
    ``replace_ids`` delete those groups first, with None delete everything."""
    if replace_ids is None:
        conn.execute(prevention_status.delete())
        conn.execute(prevention_groups.update().values(team_id=None))
        conn.execute(prevention_groups.delete())
    elif replace_ids:
        conn.execute(prevention_status.delete().where(
            prevention_status.c.group_id.in_(replace_ids)))
        # keep links of other groups to a replaced team: re-pointed after insert
        conn.execute(prevention_groups.delete().where(
            prevention_groups.c.group_id.in_(replace_ids)))
    g = registry.groups
    now = int(time.time())
    rows = [{
        "group_id": r["group_id"], "type": r["type"], "label": _text(r["label"]),
        "team_id": None, "area_kind": r["area_kind"],
        "buurten": ";".join(r["buurten"]) or None,
        "geometry_wkb": None if r["area_kind"] == AREA_BUURTEN or r["geometry"] is None
        else shapely.to_wkb(r["geometry"]),
        "postcodes": _text(r["postcodes"]),
        "members": None if pd.isna(r["members"]) else int(r["members"]),
        "synthetic": int(bool(r["synthetic"])), "updated_at": now,
    } for r in g.to_dict("records")]
    if rows:
        conn.execute(prevention_groups.insert(), rows)
        links = [{"gid": r["group_id"], "tid": r["team_id"]} for r in g.to_dict("records")
                 if _text(r["team_id"])]
        if links:
            conn.execute(prevention_groups.update()
                         .where(prevention_groups.c.group_id == sa.bindparam("gid"))
                         .values(team_id=sa.bindparam("tid")), links)
    h = registry.history
    if len(h):
        conn.execute(prevention_status.insert(), [
            {"group_id": gid, "status": st, "since": since.date()}
            for gid, st, since in zip(h["group_id"], h["status"], h["since"], strict=True)])


def _audit(conn: Connection, actor: str | None, action: str, target: str | None,
           detail: dict[str, Any] | None = None) -> None:
    if actor is None:
        return
    conn.execute(audit_log.insert().values(at=int(time.time()), actor=actor, action=action,
                                           target=target,
                                           detail=json.dumps(detail) if detail else None))


@_guard
def load_registry(store: HasEngine) -> Registry:
    """The whole registry (groups and status history) from the store."""
    with store.engine.connect() as conn:
        return _read(conn)


@_guard
def save_registry(
    store: HasEngine,
    registry: Registry,
    *,
    mode: Literal["replace", "merge"] = "merge",
    source_name: str | None = None,
    content_sha256: str | None = None,
    n_rows: int | None = None,
    known_buurten: list[str] | None = None,
    actor: str | None = None,
) -> dict[str, int]:
    """Store ``registry`` in one transaction. ``merge``: groups with a known ``group_id`` are
    replaced (with their whole history), others added, the rest kept. ``replace``: the stored
    registry is replaced. The result is validated as a whole (team links!) before anything
    is written. Returns counts ``added``, ``replaced``, ``total``."""
    if mode not in ("replace", "merge"):
        raise InvalidInput(f"onbekende modus '{mode}': kies replace of merge", where="mode")
    with store.engine.begin() as conn:
        current = _read(conn)
        ids = list(registry.groups["group_id"])
        existing = set(current.groups["group_id"])
        result = registry if mode == "replace" else merge_registries(current, registry)
        # validate the combined registry (links to teams that would disappear, codes)
        make_registry(result.groups.assign(geometry=result.groups.geometry),
                      result.history, known_buurten=known_buurten)
        _write(conn, result, replace_ids=None)
        if source_name is not None:
            conn.execute(import_batches.insert().values(
                kind="prevention", imported_at=int(time.time()), source_name=source_name,
                content_sha256=content_sha256 or "", n_rows=n_rows or len(ids),
                accepted=len(ids), rejected=0,
                already_present=0, synthetic=int(registry.synthetic)))
        replaced = sum(1 for i in ids if i in existing)
        _audit(conn, actor, f"prevention.import.{mode}", source_name,
               {"groups": len(ids), "replaced": replaced})
    return {"added": len(ids) - replaced, "replaced": replaced, "total": len(result.groups)}


@_guard
def add_group(
    store: HasEngine,
    *,
    group_id: str,
    type: str,
    status: str,
    since: date | datetime | str,
    label: str | None = None,
    buurten: list[str] | str | None = None,
    geometry: shapely.Geometry | None = None,
    team_id: str | None = None,
    members: int | None = None,
    postcodes: str | None = None,
    synthetic: bool = False,
    known_buurten: list[str] | None = None,
    actor: str | None = None,
) -> None:
    """Add one group with its first status. Raises ``InvalidInput`` if the id exists and
    ``ImportRejected`` (row 1, column, reason) for invalid fields."""
    with store.engine.begin() as conn:
        if conn.execute(sa.select(prevention_groups.c.id).where(
                prevention_groups.c.group_id == group_id)).first() is not None:
            raise InvalidInput(f"groep '{group_id}' bestaat al", where="group_id")
        current = _read(conn)
        record = {"group_id": group_id, "type": type, "label": label, "team_id": team_id,
                  "buurten": buurten, "geometry": geometry, "members": members,
                  "postcodes": postcodes, "synthetic": synthetic}
        # validated together with the stored groups, so a team link must point to a team
        both = make_registry(
            [*_records(current), record],
            [*current.history.to_dict("records"),
             {"group_id": group_id, "status": status, "since": since}],
            known_buurten=known_buurten)
        new = Registry(
            groups=both.groups.loc[both.groups["group_id"] == group_id].reset_index(drop=True),
            history=both.history.loc[both.history["group_id"] == group_id])
        _write(conn, new, replace_ids=[])
        _audit(conn, actor, "prevention.add", group_id, {"status": status,
                                                         "since": str(since)})


def _records(reg: Registry) -> list[dict[str, Any]]:
    g = reg.groups
    return [{**r, "buurten": list(r["buurten"]),
             "members": None if pd.isna(r["members"]) else int(r["members"])}
            for r in g.to_dict("records")]


@_guard
def set_status(store: HasEngine, group_id: str, status: str, since: date | datetime | str,
               *, actor: str | None = None) -> None:
    """Record that ``group_id`` has ``status`` from ``since`` on (a status already recorded
    on that date is overwritten). Earlier history is kept, so coverage on past dates stays."""
    canon = normalise_status(status)
    if canon is None:
        raise InvalidInput(f"onbekende status '{status}': kies in_oprichting, actief of "
                           "gestopt", where="status")
    day = to_date(since, what="datum").date()
    with store.engine.begin() as conn:
        if conn.execute(sa.select(prevention_groups.c.id).where(
                prevention_groups.c.group_id == group_id)).first() is None:
            raise NotFound(f"groep '{group_id}' bestaat niet", where="group_id")
        conn.execute(prevention_status.delete().where(
            prevention_status.c.group_id == group_id, prevention_status.c.since == day))
        conn.execute(prevention_status.insert().values(group_id=group_id, status=canon,
                                                       since=day))
        conn.execute(prevention_groups.update().where(
            prevention_groups.c.group_id == group_id).values(updated_at=int(time.time())))
        _audit(conn, actor, "prevention.status", group_id, {"status": canon,
                                                            "since": day.isoformat()})


@_guard
def remove_group(store: HasEngine, group_id: str, *, actor: str | None = None) -> None:
    """Delete a group and its history (for registrations made in error; a group that stops
    gets the status ``gestopt`` instead, so past coverage stays right). WhatsApp groups
    linked to a removed team lose the link."""
    with store.engine.begin() as conn:
        if conn.execute(sa.select(prevention_groups.c.id).where(
                prevention_groups.c.group_id == group_id)).first() is None:
            raise NotFound(f"groep '{group_id}' bestaat niet", where="group_id")
        conn.execute(prevention_groups.update().where(
            prevention_groups.c.team_id == group_id).values(team_id=None))
        conn.execute(prevention_status.delete().where(
            prevention_status.c.group_id == group_id))
        conn.execute(prevention_groups.delete().where(
            prevention_groups.c.group_id == group_id))
        _audit(conn, actor, "prevention.remove", group_id)


@_guard
def list_groups(store: HasEngine, when: date | datetime | str | None = None) -> pd.DataFrame:
    """The groups without geometry, with the status on ``when`` (default: today's status as
    recorded, i.e. the latest row) and ``status_since``."""
    reg = load_registry(store)
    day = when if when is not None else pd.Timestamp.max.normalize()
    out = pd.DataFrame(reg.groups.drop(columns="geometry"))
    out["buurten"] = ["|".join(b) for b in out["buurten"]]
    out["status"] = reg.status_on(day).to_numpy()
    out["status_since"] = reg.since_on(day).to_numpy()
    return out


@_guard
def load_demo_registry(store: HasEngine, registry: Registry, *, source_name: str,
                       known_buurten: list[str] | None = None, force: bool = False,
                       actor: str | None = None) -> dict[str, int]:
    """Replace the registry by the synthetic demo ``registry``, but never overwrite real
    (non-synthetic) groups unless ``force``: raises ``InvalidInput`` then."""
    if not registry.synthetic:
        raise InvalidInput("dit register is niet als demo (synthetic) gemarkeerd")
    with store.engine.connect() as conn:
        real = conn.execute(sa.select(sa.func.count()).select_from(prevention_groups).where(
            prevention_groups.c.synthetic == 0)).scalar_one()
    if real and not force:
        raise InvalidInput(f"het preventieregister bevat {real} echte groep(en); de demo "
                           "overschrijft die niet (gebruik --force om ze te vervangen)")
    return save_registry(store, registry, mode="replace", source_name=source_name,
                         known_buurten=known_buurten, actor=actor)
