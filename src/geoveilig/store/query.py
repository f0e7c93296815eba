"""Incident filters validated once, for every backend.

``incident_query`` turns the arguments of ``Store.incidents``/``Store.count_incidents`` into an
``IncidentQuery`` (epoch-second bounds, crime-type slugs, wijk/buurt codes, a closed RD box);
``InvalidInput`` says which argument is wrong. The backends (``store.backend``) answer it: the
chunk backend on its zone maps and with Arrow (``IncidentQuery.where``/``mask``), the row
backend as SQL conditions (``store.rows``). A polygon ``within`` narrows the box to its own
bounds here; the exact test is the backend's (``inside`` for backends without PostGIS).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import TypeAlias

import numpy as np
import pandas as pd
import shapely

from .. import TIMEZONE
from ..errors import InvalidInput
from ..times import local_timestamp
from .chunks import ChunkQuery

__all__ = ["IncidentQuery", "from_epoch", "incident_query", "inside", "only_inside", "to_epoch",
           "with_xy"]

#: the validated filter (defined with the chunk zone maps it is tested on, ``store.chunks``)
IncidentQuery = ChunkQuery

TimeBound: TypeAlias = datetime | date | str | pd.Timestamp
_POLYGONAL = (3, 6, 7)  # Polygon, MultiPolygon, GeometryCollection


def to_epoch(value: TimeBound) -> int:
    """A date/time (naive = Europe/Amsterdam, ``geoveilig.times``) as epoch seconds (UTC)."""
    return int(local_timestamp(value).tz_convert("UTC").timestamp())


def from_epoch(values: pd.Series) -> pd.Series:
    """Epoch seconds (UTC; missing = NaN/None) as Europe/Amsterdam timestamps (NaT)."""
    return pd.to_datetime(values, unit="s", utc=True).dt.tz_convert(TIMEZONE)


def incident_query(
    start: TimeBound | None = None,
    end: TimeBound | None = None,
    crime_types: Iterable[str] | None = None,
    area_codes: Iterable[str] | None = None,
    bbox: Sequence[float] | None = None,
    within: shapely.Geometry | None = None,
) -> IncidentQuery:
    """The filters validated (``InvalidInput`` says which is wrong), in epoch seconds; a
    polygon ``within`` narrows the bbox to its own."""
    lo = to_epoch(start) if start is not None else None
    hi = to_epoch(end) if end is not None else None
    if lo is not None and hi is not None and hi <= lo:
        raise InvalidInput(f"lege of omgekeerde periode: {start} tot {end}")
    wijk = buurt = None
    if area_codes is not None:
        codes = [str(c) for c in area_codes]
        if not any(c.startswith("GM") for c in codes):
            bad = [c for c in codes if not c.startswith(("WK", "BU"))]
            if bad:
                raise InvalidInput(f"onbekende gebiedscode(s): {', '.join(bad)}")
            wijk = frozenset(c for c in codes if c.startswith("WK"))
            buurt = frozenset(c for c in codes if c.startswith("BU"))
    box = None
    if bbox is not None:
        if len(bbox) != 4 or bbox[0] > bbox[2] or bbox[1] > bbox[3]:
            raise InvalidInput(f"ongeldige bbox {list(bbox)}: verwacht minx,miny,maxx,maxy")
        box = (float(bbox[0]), float(bbox[1]), float(bbox[2]), float(bbox[3]))
    if within is not None:
        if not isinstance(within, shapely.Geometry) or within.is_empty or \
                shapely.get_type_id(within) not in _POLYGONAL:
            raise InvalidInput("ongeldig gebied 'within': verwacht een (multi)polygoon in "
                               "RD-meters (EPSG:28992)")
        x0, y0, x1, y1 = within.bounds
        if box is not None:  # candidates in both boxes
            x0, y0 = max(x0, box[0]), max(y0, box[1])
            x1, y1 = min(x1, box[2]), min(y1, box[3])
        box = (x0, y0, x1, y1)
    nothing = box is not None and (box[0] > box[2] or box[1] > box[3])
    return IncidentQuery(start=lo, end=hi,
                         crime_types=frozenset(crime_types) if crime_types is not None else None,
                         wijk_codes=wijk, buurt_codes=buurt, bbox=None if nothing else box,
                         nothing=nothing)


def with_xy(columns: Sequence[str]) -> list[str]:
    """``columns`` and the coordinates a backend needs for the exact polygon test."""
    return [*columns, *(c for c in ("x", "y") if c not in columns)]


def only_inside(frame: pd.DataFrame, within: shapely.Geometry,
                columns: Sequence[str]) -> pd.DataFrame:
    """The rows of ``frame`` (read with ``with_xy(columns)``) inside ``within``, ``columns``
    only."""
    if len(frame):
        frame = frame.loc[inside(within, frame["x"], frame["y"])].reset_index(drop=True)
    return frame[list(columns)]


def inside(within: shapely.Geometry, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Which points (RD metres) lie in the polygon ``within``, its boundary included: the
    exact test after a backend selected the candidates in its bbox."""
    return shapely.intersects_xy(within, np.asarray(x, dtype=float),
                                 np.asarray(y, dtype=float))
