"""The backtest cache (table ``backtest_cache``, migration ``0013``): a finished
:class:`~geoveilig.hotspots.BacktestResult` under a key that
:func:`geoveilig.hotspots.service.backtest_key` derives from the data it saw and every
parameter, including where it ends (so a verdict is never reused for another origin).

The frames are stored as Parquet (types and time zones survive), the rest as JSON; nothing is
unpickled. The newest ``KEEP`` entries are kept.
"""

from __future__ import annotations

import io
import json
import time
from typing import TYPE_CHECKING

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import BigInteger, Column, Index, LargeBinary, String, Table, Text

from .. import TIMEZONE
from .models import metadata

if TYPE_CHECKING:
    from ..hotspots.backtesting import BacktestResult
    from . import Store

__all__ = ["KEEP", "backtest_cache", "get_backtest", "put_backtest"]

#: entries kept (oldest dropped first); one entry is ~10-50 kB
KEEP = 500

backtest_cache = Table(
    "backtest_cache",
    metadata,
    Column("cache_key", String(64), primary_key=True),
    Column("crime_type", Text),
    Column("end_at", BigInteger),
    Column("created_at", BigInteger, nullable=False),
    Column("meta", Text, nullable=False),
    Column("scores", LargeBinary, nullable=False),
    Column("summary", LargeBinary, nullable=False),
    Index("ix_backtest_cache_created_at", "created_at"),
)


def _parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def put_backtest(store: Store, key: str, result: BacktestResult) -> None:
    """Store ``result`` under ``key`` (an existing entry is replaced)."""
    c = result.criterion
    meta = {
        "criterion": {"metric": c.metric, "baseline": c.baseline, "level": c.level,
                      "min_lower": c.min_lower, "min_origins": c.min_origins},
        "best_method": result.best_method, "criterion_met": result.criterion_met,
        "window_s": result.window.total_seconds(),
        "origins": [o.isoformat() for o in result.origins], "crime_type": result.crime_type,
        "n_boot": result.n_boot, "seed": result.seed, "warnings": list(result.warnings),
        "block": result.block,
    }
    row = {"cache_key": key, "crime_type": result.crime_type,
           "end_at": int(result.end.timestamp()), "created_at": int(time.time()),
           "meta": json.dumps(meta, ensure_ascii=False), "scores": _parquet(result.scores),
           "summary": _parquet(result.summary)}
    with store.engine.begin() as conn:
        conn.execute(backtest_cache.delete().where(backtest_cache.c.cache_key == key))
        conn.execute(backtest_cache.insert().values(**row))
        n = conn.execute(sa.select(sa.func.count()).select_from(backtest_cache)).scalar_one()
        if n > KEEP:
            old = sa.select(backtest_cache.c.cache_key).order_by(
                backtest_cache.c.created_at).limit(n - KEEP)
            conn.execute(backtest_cache.delete().where(backtest_cache.c.cache_key.in_(
                [r[0] for r in conn.execute(old)])))


def get_backtest(store: Store, key: str) -> BacktestResult | None:
    """The result stored under ``key``, or None."""
    from ..hotspots.backtesting import BacktestResult, SuccessCriterion

    with store.engine.connect() as conn:
        row = conn.execute(sa.select(backtest_cache).where(
            backtest_cache.c.cache_key == key)).first()
    if row is None:
        return None
    meta = json.loads(row.meta)
    return BacktestResult(
        scores=pd.read_parquet(io.BytesIO(row.scores)),
        summary=pd.read_parquet(io.BytesIO(row.summary)),
        criterion=SuccessCriterion(**meta["criterion"]),
        best_method=meta["best_method"], criterion_met=bool(meta["criterion_met"]),
        window=pd.Timedelta(seconds=meta["window_s"]),
        origins=tuple(pd.Timestamp(o).tz_convert(TIMEZONE) for o in meta["origins"]),
        crime_type=meta["crime_type"], n_boot=int(meta["n_boot"]), seed=int(meta["seed"]),
        warnings=tuple(meta["warnings"]), block=int(meta["block"]))
