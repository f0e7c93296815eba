"""Previous versions of corrected and withdrawn incidents (``incident_history``, migration
0008): written by ``Store.import_incidents`` with ``update``, read by ``Store.history``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .models import incident_history
from .query import from_epoch
from .rows import fetch

if TYPE_CHECKING:
    from . import Store

__all__ = ["history", "record"]

_FIELDS = ("crime_type", "occurred_at", "occurred_from", "occurred_to", "x", "y",
           "buurt_code", "wijk_code", "address")


def _plain_value(value: object) -> object:
    """A value as JSON and the database take it (numpy scalars and NaN/NA unwrapped)."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value.item() if isinstance(value, np.generic) else value


def record(conn: Connection, old: pd.DataFrame, new: pd.DataFrame, batch_id: int, actor: str,
           now: int) -> None:
    """One ``incident_history`` row per replaced version (in the import's transaction): the
    old version (logical rows, ``chunks.COLUMNS``), and the fields that changed (``{field:
    [old, new]}``; a withdrawal, an id not in ``new``, names no new values)."""
    current = new.set_index("incident_id")
    rows = []
    for rec in old.to_dict("records"):
        iid = rec["incident_id"]
        if iid in current.index:
            now_row = current.loc[iid]
            changes = {}
            for f in _FIELDS:
                was = _plain_value(rec[f])
                value = now_row.get(f)
                if f.startswith("occurred"):
                    value = None if pd.isna(value) else int(
                        pd.Timestamp(value).tz_convert("UTC").timestamp())
                value = _plain_value(value)
                if was != value:
                    changes[f] = [was, value]
            action = "update"
        else:
            changes, action = {}, "withdraw"
        rows.append({
            "incident_id": iid, "action": action, "changed_at": now, "actor": actor,
            "batch_id": batch_id, "changes": json.dumps(changes, ensure_ascii=False),
            **{f: _plain_value(rec[f]) for f in _FIELDS},
            "content_hash": int(rec["content_hash"]),
            "previous_batch_id": int(rec["batch_id"]),
        })
    if rows:
        conn.execute(incident_history.insert(), rows)


def history(store: Store, incident_id: str | None = None) -> pd.DataFrame:
    """The previous versions of corrected and withdrawn incidents (oldest first), with
    ``changed_at`` as a Europe/Amsterdam timestamp and ``changes`` as a dict."""
    stmt = sa.select(incident_history).order_by(incident_history.c.id)
    if incident_id is not None:
        stmt = stmt.where(incident_history.c.incident_id == incident_id)
    frame = store._read(lambda conn: fetch(conn, stmt))
    if len(frame):
        frame["changed_at"] = from_epoch(frame["changed_at"])
        frame["changes"] = [json.loads(c) for c in frame["changes"]]
    return frame
