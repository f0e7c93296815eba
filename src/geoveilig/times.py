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

__all__ = ["EARLIEST", "LATEST", "TIMEZONE", "epoch_seconds", "local_day", "local_series",
           "local_timestamp", "parse_local", "reference_date", "within_range"]

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
    """:func:`local_timestamp` for user input: a Dutch :class:`InvalidInput` on bad values,
    also on a time outside ``EARLIEST``-``LATEST``."""
    try:
        ts = local_timestamp(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidInput(f"ongeldige datum '{value}': gebruik JJJJ-MM-DD of "
                           "JJJJ-MM-DDTuu:mm", where=where) from exc
    return within_range(ts, value, where=where)


#: The times the library computes with: those a time in ns holds (1677-09-21 to 2262-04-11),
#: a day from each end (a naive time's offset could cross it). pandas reads a date such as
#: 3000-01-01 in another unit; the columns it meets are in ns, where it would overflow.
EARLIEST = pd.Timestamp("1677-09-22", tz="UTC")
LATEST = pd.Timestamp("2262-04-10", tz="UTC")


def within_range(ts: pd.Timestamp, value: object, *, where: str | None = None
                 ) -> pd.Timestamp:
    """``ts`` (aware) when it lies within ``EARLIEST``-``LATEST``; a Dutch
    :class:`InvalidInput` naming ``value`` otherwise."""
    if not EARLIEST <= ts <= LATEST:
        text = value
        if isinstance(value, datetime):  # as the user wrote it: a date, or a date and time
            text = f"{value:%Y-%m-%d}" if (value.hour, value.minute, value.second) == (0, 0, 0) \
                else f"{value:%Y-%m-%d %H:%M}"
        raise InvalidInput(f"datum '{text}' valt buiten wat geoveilig kan verwerken "
                           "(1678 t/m 2261)", where=where)
    return ts


def local_series(values: pd.Series | pd.DatetimeIndex | np.ndarray) -> pd.Series:
    """A datetime column as aware Europe/Amsterdam (naive = Amsterdam wall clock).

    Missing values stay ``NaT``; the index of a Series is kept."""
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if not pd.api.types.is_datetime64_any_dtype(s.dtype):
        s = pd.to_datetime(s, errors="coerce", format="ISO8601")
    if s.dt.tz is None:
        n = len(s)
        unit = np.datetime_data(s.dtype)[0]
        utc = _by_hour_table(s.to_numpy().view(np.int64), unit) if n >= HOUR_TABLE_FROM \
            else None
        if utc is not None:
            return pd.Series(utc.view(f"datetime64[{unit}]"), index=s.index,
                             copy=False).dt.tz_localize("UTC").dt.tz_convert(TIMEZONE)
        return s.dt.tz_localize(TIMEZONE, ambiguous=np.zeros(n, dtype=bool),
                                nonexistent=_SHIFT)
    return s.dt.tz_convert(TIMEZONE)


#: From this many values ``local_series`` localises naive times through a table of the hours
#: they span (``_by_hour_table``); 10⁶ times of one year: ~20 ms against ~50 ms for pandas'
#: ``tz_localize`` with an ``ambiguous`` array.
HOUR_TABLE_FROM = 4096
#: ... and when they span at most this many hours per time (a table is work per hour)
HOURS_PER_TIME = 0.25
_NAT = np.iinfo(np.int64).min


def _by_hour_table(raw: np.ndarray, unit: str) -> np.ndarray | None:
    """Naive wall-clock times (int64 in ``unit``, NaT as the int64 minimum) as UTC by the
    rule of ``local_series``, computed once per hour they span: pandas localises the first
    and the last instant of each hour, and every time gets its hour's offset. Exact wherever
    an hour has one offset from its start to its end, which the table checks (the Dutch
    clock changes on the hour; a change inside an hour, as in 1937, falls back to pandas).
    None (pandas decides) when no time is valid, when the hours spanned outnumber
    ``HOURS_PER_TIME`` per time, or when the table does not hold."""
    per_hour = 3600 * _PER_SECOND[unit]
    valid = raw != _NAT
    if not valid.any():
        return None
    hour = raw[valid] // per_hour
    first, last = int(hour.min()), int(hour.max())
    if last - first + 1 > HOURS_PER_TIME * len(raw):
        return None
    start = np.arange(first, last + 1, dtype=np.int64) * per_hour
    ends = np.concatenate([start, start + (per_hour - 1)])
    try:
        local = pd.Series(ends.view(f"datetime64[{unit}]")).dt.tz_localize(
            TIMEZONE, ambiguous=np.zeros(len(ends), dtype=bool), nonexistent=_SHIFT)
    except (OverflowError, pd.errors.OutOfBoundsDatetime):  # an hour at the end of the range
        return None
    shift = np.asarray(local.array.asi8) - ends
    if local.dtype.unit != unit or not np.array_equal(shift[:len(start)], shift[len(start):]):
        return None
    out = raw.copy()
    hour -= first
    out[valid] += shift[hour]
    return out


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
