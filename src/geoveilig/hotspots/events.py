"""Incidents as plain arrays, time windows and the input checks every method shares.

Methods accept either an incident GeoDataFrame (columns ``x``, ``y``, ``occurred_at``; or a
point geometry) or an :class:`Events` object built once from it (faster in a backtest). Times
are kept as UTC epoch seconds; the analysis moment of an incident is ``occurred_at``. Naive
times (and origins) are Europe/Amsterdam wall clock, by the one rule of :mod:`geoveilig.times`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import TIMEZONE
from ..errors import CrsError, InvalidInput
from ..times import local_series, local_timestamp, within_range

DAY = 86_400


class InsufficientData(InvalidInput):
    """Too few incidents for a method (before the origin, or in a window)."""

    code = "insufficient-data"


@dataclass(frozen=True)
class Events:
    """Incident locations (projected metres) and times (UTC epoch seconds), sorted by time."""

    x: np.ndarray
    y: np.ndarray
    t: np.ndarray  # int64 epoch seconds

    def __len__(self) -> int:
        return int(self.t.size)

    def before(self, origin: pd.Timestamp) -> Events:
        """Only the events strictly before ``origin`` (the guard against leakage)."""
        k = int(np.searchsorted(self.t, to_epoch(origin), side="left"))
        return Events(self.x[:k], self.y[:k], self.t[:k])

    def between(self, start: pd.Timestamp, end: pd.Timestamp) -> Events:
        """Events with ``start <= t < end``."""
        a = int(np.searchsorted(self.t, to_epoch(start), side="left"))
        b = int(np.searchsorted(self.t, to_epoch(end), side="left"))
        return Events(self.x[a:b], self.y[a:b], self.t[a:b])

    @property
    def first(self) -> pd.Timestamp | None:
        return from_epoch(int(self.t[0])) if len(self) else None

    @property
    def last(self) -> pd.Timestamp | None:
        return from_epoch(int(self.t[-1])) if len(self) else None


def to_epoch(ts: pd.Timestamp | str) -> int:
    return int(as_timestamp(ts).tz_convert("UTC").value // 1_000_000_000)


def from_epoch(sec: int) -> pd.Timestamp:
    return pd.Timestamp(sec, unit="s", tz="UTC").tz_convert(TIMEZONE)


def as_timestamp(value: object, name: str = "origin") -> pd.Timestamp:
    """A tz-aware timestamp; naive dates/times are read as Europe/Amsterdam wall clock
    (:func:`geoveilig.times.local_timestamp`)."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"ongeldige datum/tijd voor {name}: {value!r}", where=name) from exc
    if ts is pd.NaT:
        raise InvalidInput(f"ontbrekende datum/tijd voor {name}", where=name)
    return within_range(local_timestamp(ts), value, where=name)


_WINDOW = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(d|dag|dagen|w|wk|weken|week|m|mnd|maand|maanden)?\s*$",
    re.IGNORECASE)


def parse_window(value: object, name: str = "window") -> pd.Timedelta:
    """``"14d"``, ``"2w"``, ``"1m"`` (= 30 days), a number of days, or a Timedelta.
    Raises ``InvalidInput`` for anything non-positive or unreadable."""
    if isinstance(value, pd.Timedelta | np.timedelta64) or hasattr(value, "total_seconds"):
        td = pd.Timedelta(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        td = pd.Timedelta(days=float(value))
    else:
        m = _WINDOW.match(str(value))
        if not m:
            raise InvalidInput(f"ongeldige periode voor {name}: {value!r} "
                               "(gebruik bijvoorbeeld 14d, 2w of 1m)")
        n = float(m.group(1))
        unit = (m.group(2) or "d").lower()
        days = n * (7 if unit.startswith("w") else 30 if unit.startswith("m") else 1)
        td = pd.Timedelta(days=days)
    if td <= pd.Timedelta(0):
        raise InvalidInput(f"{name} moet een positieve periode zijn, niet {value!r}")
    return td


def format_window(td: pd.Timedelta) -> str:
    days = td / pd.Timedelta(days=1)
    return f"{days:g}d"


def check_metric_crs(crs: object, where: str = "incidenten") -> None:
    """Refuse data without a CRS or in a geographic (degrees) CRS."""
    if crs is None:
        raise CrsError(f"{where}: geen coördinatenstelsel (CRS); verwacht een geprojecteerd "
                       "stelsel in meters, zoals EPSG:28992")
    from pyproj import CRS

    c = CRS.from_user_input(crs)
    if c.is_geographic or not c.is_projected:
        raise CrsError(f"{where}: coördinatenstelsel {c.to_string()} is niet in meters; "
                       "projecteer eerst (bijvoorbeeld naar EPSG:28992)")
    unit = c.axis_info[0].unit_name if c.axis_info else "metre"
    if unit not in ("metre", "meter", "m"):
        raise CrsError(f"{where}: coördinatenstelsel {c.to_string()} heeft eenheid {unit}, "
                       "verwacht meters")


def as_events(incidents: object, crs: object | None = None) -> Events:
    """Build :class:`Events` from an incident (Geo)DataFrame (or pass Events through).

    Rows without a time or location are dropped. If the frame has a CRS it must be metric and,
    when ``crs`` (the grid's) is given, equal to it."""
    if isinstance(incidents, Events):
        return incidents
    if not isinstance(incidents, pd.DataFrame):
        raise InvalidInput("incidenten moeten een (Geo)DataFrame zijn")
    frame_crs = getattr(incidents, "crs", None)
    if frame_crs is not None:
        check_metric_crs(frame_crs)
        if crs is not None:
            from pyproj import CRS

            if CRS.from_user_input(frame_crs) != CRS.from_user_input(crs):
                raise CrsError(f"incidenten ({CRS.from_user_input(frame_crs).to_string()}) en "
                               f"raster ({CRS.from_user_input(crs).to_string()}) hebben een "
                               "verschillend coördinatenstelsel")
    if "occurred_at" not in incidents.columns:
        raise InvalidInput("incidenten missen de kolom occurred_at")
    if {"x", "y"} <= set(incidents.columns):
        x = pd.to_numeric(incidents["x"], errors="coerce").to_numpy(float)
        y = pd.to_numeric(incidents["y"], errors="coerce").to_numpy(float)
    elif hasattr(incidents, "geometry"):
        x = incidents.geometry.x.to_numpy(float)
        y = incidents.geometry.y.to_numpy(float)
    else:
        raise InvalidInput("incidenten missen de kolommen x en y (of een geometrie)")
    when = local_series(incidents["occurred_at"]).dt.tz_convert("UTC")
    ok = np.isfinite(x) & np.isfinite(y) & when.notna().to_numpy()
    t = pd.DatetimeIndex(when[ok]).as_unit("s").asi8.astype(np.int64)
    order = np.argsort(t, kind="stable")
    return Events(x[ok][order], y[ok][order], t[order])


def history(incidents: object, origin: pd.Timestamp, *, crs: object | None = None,
            min_events: int = 1, method: str = "") -> Events:
    """The events strictly before ``origin``; raises ``InvalidInput`` when the origin lies
    before the data, ``InsufficientData`` when fewer than ``min_events`` remain."""
    ev = as_events(incidents, crs)
    origin = as_timestamp(origin)
    if len(ev) and origin <= ev.first:
        raise InvalidInput(f"startmoment {origin:%Y-%m-%d %H:%M} ligt vóór (of op) het eerste "
                           f"incident ({ev.first:%Y-%m-%d}); er zijn geen gegevens om op te "
                           "bouwen", where="origin")
    past = ev.before(origin)
    if len(past) < min_events:
        label = f"methode {method}: " if method else ""
        raise InsufficientData(f"{label}te weinig incidenten vóór {origin:%Y-%m-%d} "
                               f"({len(past)}, minimaal {min_events} nodig)")
    return past
