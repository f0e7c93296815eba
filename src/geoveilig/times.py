"""One rule for time in the whole library.

Every timestamp the library computes with is timezone-aware in Europe/Amsterdam. A *naive*
value (no offset) is read as Amsterdam wall-clock time, exactly as the importer reads the times
in a police file: in the autumn hour that occurs twice the second (winter-time, standard) reading
is taken, and a wall-clock time that does not exist (the spring hour) is moved one hour forward.
Aware values are converted, never re-labelled.

Use :func:`local_timestamp` for one value and :func:`local_series` for a column; do not write
``tz_localize`` anywhere else.
"""
from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd

from . import TIMEZONE
from .errors import InvalidInput

__all__ = ["TIMEZONE", "epoch_seconds", "local_day", "local_series", "local_timestamp",
           "parse_local", "reference_date"]

_SHIFT = pd.Timedelta(hours=1)


def local_timestamp(value: pd.Timestamp | datetime | date | str | np.datetime64) -> pd.Timestamp:
    """``value`` as an aware Europe/Amsterdam timestamp (naive = Amsterdam wall clock).

    Raises ``ValueError``/``TypeError`` from pandas for values it cannot read; use
    :func:`parse_local` for user input, which raises :class:`InvalidInput` in Dutch."""
    ts = pd.Timestamp(value)
    if ts is pd.NaT:
        raise ValueError("NaT has no time zone")
    if ts.tzinfo is None:
        return ts.tz_localize(TIMEZONE, ambiguous=False, nonexistent=_SHIFT)
    return ts.tz_convert(TIMEZONE)


def local_day(value: pd.Timestamp | datetime | date | str | np.datetime64) -> pd.Timestamp:
    """The Amsterdam calendar day of ``value`` as a naive midnight timestamp (the form the
    prevention registry and the day-based tables use); naive values are Amsterdam wall clock."""
    return local_timestamp(value).tz_localize(None).normalize()


def parse_local(value: pd.Timestamp | datetime | date | str, *, where: str | None = None
                ) -> pd.Timestamp:
    """:func:`local_timestamp` for user input: a Dutch :class:`InvalidInput` on bad values."""
    try:
        return local_timestamp(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidInput(f"ongeldige datum '{value}': gebruik JJJJ-MM-DD of "
                           "JJJJ-MM-DDTuu:mm", where=where) from exc


def local_series(values: pd.Series | pd.DatetimeIndex | np.ndarray) -> pd.Series:
    """A datetime column as aware Europe/Amsterdam (naive = Amsterdam wall clock).

    Missing values stay ``NaT``; the index of a Series is kept."""
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if not pd.api.types.is_datetime64_any_dtype(s.dtype):
        s = pd.to_datetime(s, errors="coerce", format="ISO8601")
    if s.dt.tz is None:
        n = len(s)
        return s.dt.tz_localize(TIMEZONE, ambiguous=np.zeros(n, dtype=bool),
                                nonexistent=_SHIFT)
    return s.dt.tz_convert(TIMEZONE)


def reference_date(last_incident: pd.Timestamp | datetime | None,
                   today: date | None = None) -> tuple[date, str]:
    """The date that a default of "now" stands for: today, or the day after the last stored
    incident when the data end before today (an analysis on an extract of last year must not
    look at an empty recent period). Returns the date and a Dutch note saying which date was
    used and why, for the output."""
    today = today or pd.Timestamp.now(tz=TIMEZONE).date()
    if last_incident is not None:
        last = local_timestamp(last_incident).date()
        if last < today:
            day = last + pd.Timedelta(days=1)
            return day, (f"peildatum {day.isoformat()}: de dag na het laatste incident "
                         f"({last.isoformat()}), want de gegevens eindigen voor vandaag")
    return today, f"peildatum {today.isoformat()} (vandaag)"


_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def epoch_seconds(values: pd.Series | pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Whole seconds since 1970 (UTC, floored) of a datetime column and its missing mask,
    whatever the column's resolution (pandas 3 reads text as microseconds, older code made
    nanoseconds): ``(int64 array, bool array)``. Naive values follow :func:`local_series`."""
    s = local_series(values) if not isinstance(values, pd.Series) or values.dt.tz is None \
        else values
    unit = np.datetime_data(s.dt.tz_convert("UTC").dt.tz_localize(None).dtype)[0]
    raw = np.asarray(s.array.asi8) if len(s) else np.empty(0, np.int64)
    null = raw == np.iinfo(np.int64).min
    return np.floor_divide(raw, _PER_SECOND[unit]), null
