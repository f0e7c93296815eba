"""Published figures in the store, beside incidents (migration 0010):

* ``published_counts``: registered crimes per area, year, month (0 = the whole year) and police
  crime class; ``count`` NULL = not published.
* ``area_figures``: inhabitants, dwellings and land area per area and year (CBS key figures).
* ``perception``: Veiligheidsmonitor indicators per area and year with their margins.

Every row carries ``source`` (``politie``, ``cbs``, ``cbs-veiligheidsmonitor`` or
``synthetisch``), ``table_id`` and ``retrieved_at`` (UTC epoch seconds), and ``synthetic``
(1 for demo data), so fetched and synthetic figures are never confused. Writing replaces the
rows with the same key (a re-fetch updates, it does not duplicate). Plain SQLAlchemy Core: the
same on SQLite and PostgreSQL.

Several gemeenten share these tables. The key of a gemeente's rows is the CBS area code
itself: ``GM0794``, ``WK079410`` and ``BU07941002`` all carry the gemeente number in characters
3-6, so the readers take ``gemeenten`` (``GM....`` codes) and select on that part of the code
(``gemeente_filter``, indexed: migration 0016); a write replaces only rows of the area codes
it writes, so a fetch for one gemeente never touches another's."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import BigInteger, Column, Float, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.engine import Engine

from ..errors import InvalidInput
from .models import metadata
from .protocols import HasEngine

__all__ = ["area_figures", "gemeente_filter", "perception", "published_counts", "read_counts",
           "read_figures", "read_perception", "sources_summary", "write_counts", "write_figures",
           "write_perception"]

published_counts = Table(
    "published_counts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(40), nullable=False),
    Column("table_id", String(16), nullable=False),
    Column("area_code", String(10), nullable=False),
    Column("area_level", String(10), nullable=False),
    Column("year", Integer, nullable=False),
    Column("month", Integer, nullable=False),
    Column("crime_class", String(16), nullable=False),
    Column("crime_label", Text, nullable=False),
    Column("count", Integer),
    Column("retrieved_at", BigInteger, nullable=False),
    Column("synthetic", Integer, nullable=False, default=0),
    UniqueConstraint("table_id", "area_code", "year", "month", "crime_class"),
)

area_figures = Table(
    "area_figures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(40), nullable=False),
    Column("table_id", String(16), nullable=False),
    Column("area_code", String(10), nullable=False),
    Column("area_level", String(10), nullable=False),
    Column("year", Integer, nullable=False),
    Column("inhabitants", Integer),
    Column("dwellings", Integer),
    Column("land_area_ha", Float),
    Column("retrieved_at", BigInteger, nullable=False),
    Column("synthetic", Integer, nullable=False, default=0),
    UniqueConstraint("table_id", "area_code", "year"),
)

perception = Table(
    "perception", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(40), nullable=False),
    Column("table_id", String(16), nullable=False),
    Column("area_code", String(10), nullable=False),
    Column("area_level", String(10), nullable=False),
    Column("year", Integer, nullable=False),
    Column("indicator", String(80), nullable=False),
    Column("label", Text, nullable=False),
    Column("unit", String(40), nullable=False),
    Column("value", Float),
    Column("lower", Float),
    Column("upper", Float),
    Column("retrieved_at", BigInteger, nullable=False),
    Column("synthetic", Integer, nullable=False, default=0),
    UniqueConstraint("table_id", "area_code", "year", "indicator"),
)

_KEYS = {
    "published_counts": ("table_id", "area_code", "year", "month", "crime_class"),
    "area_figures": ("table_id", "area_code", "year"),
    "perception": ("table_id", "area_code", "year", "indicator"),
}


def _engine(store: HasEngine) -> Engine:
    engine = getattr(store, "engine", store)
    if not isinstance(engine, Engine):
        raise InvalidInput("verwacht een Store of SQLAlchemy-engine")
    return engine


def _records(frame: pd.DataFrame, table: Table) -> list[dict[str, object]]:
    cols = [c.name for c in table.columns if c.name != "id"]
    missing = [c for c in cols if c not in frame.columns and c != "synthetic"]
    if missing:
        raise InvalidInput(f"kolommen ontbreken voor {table.name}: {', '.join(missing)}")
    out = frame.copy()
    at = pd.to_datetime(out["retrieved_at"], utc=True)
    out["retrieved_at"] = (at - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    if "synthetic" not in out:
        out["synthetic"] = (out["source"] == "synthetisch").astype(int)
    recs = out[cols].astype(object).where(out[cols].notna(), None).to_dict("records")
    for r in recs:  # numpy scalars -> Python (psycopg)
        for k, v in r.items():
            if isinstance(v, np.generic):
                r[k] = v.item()
    return recs


def _replace(store: HasEngine, table: Table, frame: pd.DataFrame) -> int:
    """Write ``frame``; rows with the same key as an existing row replace it."""
    if frame.empty:
        return 0
    recs = _records(frame, table)
    keys = _KEYS[table.name]
    with _engine(store).begin() as conn:
        # delete the keys being written, per (table_id, year) block to keep statements small
        blocks = frame.groupby(["table_id", "year"])["area_code"].unique()
        for (table_id, year), codes in blocks.items():
            for i in range(0, len(codes), 500):
                conn.execute(sa.delete(table).where(
                    table.c.table_id == table_id, table.c.year == int(year),
                    table.c.area_code.in_([str(c) for c in codes[i:i + 500]]),
                    *(table.c[k].in_(sorted({str(x) for x in frame[k]}))
                      for k in keys if k in ("crime_class", "indicator"))))
        for i in range(0, len(recs), 5000):
            conn.execute(sa.insert(table), recs[i:i + 5000])
    return len(recs)


def write_counts(store: HasEngine, frame: pd.DataFrame) -> int:
    """Store published counts (columns of ``sources.parse.COUNT_COLUMNS``)."""
    return _replace(store, published_counts, frame)


def write_figures(store: HasEngine, frame: pd.DataFrame) -> int:
    """Store key figures (columns of ``sources.parse.FIGURE_COLUMNS``)."""
    return _replace(store, area_figures, frame)


def write_perception(store: HasEngine, frame: pd.DataFrame) -> int:
    """Store perception indicators (columns of ``sources.parse.PERCEPTION_COLUMNS``)."""
    return _replace(store, perception, frame)


def gemeente_filter(table: Table, gemeenten: Sequence[str] | None
                    ) -> list[sa.ColumnElement[bool]]:
    """The condition "the area belongs to one of ``gemeenten``" (characters 3-6 of its code
    are the gemeente number); no condition for None."""
    if gemeenten is None:
        return []
    numbers = sorted({str(g).strip().upper().removeprefix("GM") for g in gemeenten})
    return [gemeente_number(table).in_(numbers)]


def gemeente_number(table: Table) -> sa.ColumnElement[str]:
    """``substr(area_code, 3, 4)`` with the positions written in the SQL (not bound), so
    it is the expression of the index ``ix_<table>_gemeente`` (migration 0016) on SQLite and
    PostgreSQL alike."""
    return sa.func.substr(table.c.area_code, sa.literal_column("3"), sa.literal_column("4"))


def _read(store: HasEngine, table: Table, where: Sequence[sa.ColumnElement[bool]],
          order: Sequence[str]) -> pd.DataFrame:
    cols = [c for c in table.columns if c.name != "id"]
    stmt = sa.select(*cols).where(*where).order_by(*(table.c[o] for o in order))
    with _engine(store).connect() as conn:
        rows = conn.execute(stmt).all()
    frame = pd.DataFrame(rows, columns=[c.name for c in cols])
    frame["retrieved_at"] = pd.to_datetime(frame["retrieved_at"].astype("int64"), unit="s",
                                           utc=True)
    frame["synthetic"] = frame["synthetic"].astype(bool)
    return frame


def read_counts(store: HasEngine, *, area_codes: Sequence[str] | None = None,
                years: Sequence[int] | None = None, monthly: bool | None = None,
                source: str | None = None, gemeenten: Sequence[str] | None = None
                ) -> pd.DataFrame:
    """Published counts; ``monthly=True`` only month rows, ``False`` only year rows;
    ``gemeenten``: only the areas of these gemeenten (``GM....``)."""
    t = published_counts
    where: list[sa.ColumnElement[bool]] = gemeente_filter(t, gemeenten)
    if area_codes is not None:
        where.append(t.c.area_code.in_(list(area_codes)))
    if years is not None:
        where.append(t.c.year.in_([int(y) for y in years]))
    if monthly is True:
        where.append(t.c.month > 0)
    elif monthly is False:
        where.append(t.c.month == 0)
    if source is not None:
        where.append(t.c.source == source)
    out = _read(store, t, where, ("area_code", "year", "month", "crime_class"))
    out["count"] = out["count"].astype("Int64")
    return out


def read_figures(store: HasEngine, *, area_codes: Sequence[str] | None = None,
                 gemeenten: Sequence[str] | None = None) -> pd.DataFrame:
    t = area_figures
    where = gemeente_filter(t, gemeenten)
    if area_codes is not None:
        where.append(t.c.area_code.in_(list(area_codes)))
    out = _read(store, t, where, ("area_code", "year"))
    for c in ("inhabitants", "dwellings"):
        out[c] = out[c].astype("Int64")
    return out


def read_perception(store: HasEngine, *, area_codes: Sequence[str] | None = None,
                    gemeenten: Sequence[str] | None = None) -> pd.DataFrame:
    t = perception
    where = gemeente_filter(t, gemeenten)
    if area_codes is not None:
        where.append(t.c.area_code.in_(list(area_codes)))
    return _read(store, t, where, ("area_code", "indicator", "year"))


def sources_summary(store: HasEngine, *, gemeenten: Sequence[str] | None = None
                    ) -> pd.DataFrame:
    """Per table and gemeente: source, kind, years, rows and last retrieval (for
    ``geoveilig cbs show``); ``gemeenten``: only those."""
    parts = []
    for kind, t in (("misdrijven", published_counts), ("kerncijfers", area_figures),
                    ("veiligheidsbeleving", perception)):
        number = gemeente_number(t)
        stmt = (sa.select(t.c.table_id, t.c.source, number, sa.func.min(t.c.year),
                          sa.func.max(t.c.year), sa.func.count(), sa.func.max(t.c.retrieved_at))
                .where(*gemeente_filter(t, gemeenten))
                .group_by(t.c.table_id, t.c.source, number).order_by(t.c.table_id, number))
        with _engine(store).connect() as conn:
            for table_id, source, gm, y0, y1, n, at in conn.execute(stmt):
                parts.append({"kind": kind, "table_id": table_id, "source": source,
                              "gemeente": f"GM{gm}",
                              "years": f"{y0}-{y1}" if y0 != y1 else str(y0), "rows": n,
                              "retrieved_at": pd.Timestamp(int(at), unit="s", tz="UTC")})
    return pd.DataFrame(parts, columns=["kind", "table_id", "source", "gemeente", "years",
                                        "rows", "retrieved_at"])
