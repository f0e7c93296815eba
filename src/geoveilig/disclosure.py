"""Disclosure control: the one place where public outputs are protected (see
``docs/privacy.md`` for the model, its parameters and what it guarantees).

Every count the public sees (map layers, the evaluation report as JSON, CSV and HTML, map
downloads, and later vector tiles) goes through a ``Policy``:

- **Fixed cells only.** Public tables exist only for calendar years, quarters and months
  (``check_public_period``) and for the published crime types and groups, one at a time
  (``published_row``): no date ranges, no weeks, no home-made lists of types. Every public
  count is then one *cell* ``level | area code | row | period`` (``cell_id``), and the same
  cell has the same name whichever output shows it.
- **Cell-key perturbation** (as CBS, ABS and Eurostat use it). Each cell gets a key from a
  keyed hash of its name (HMAC-SHA256 with the deployment's secret, ``Policy.secret``); the
  key picks a deterministic noise ``e`` in -3..+3 from the perturbation table ``PTABLE``. A
  true count ``n`` is published as ``0`` when ``n == 0``, as suppressed (``None``) when
  ``1 <= n < threshold`` (5), and as ``max(threshold, n + e)`` otherwise. The same cell
  always gets the same noise: asking again (another format, page, sort order, the layer
  instead of the report) returns the same number, so averaging repeated answers gives
  nothing.
- Differences of published cells therefore always carry the sum of the noises of the cells
  used; the suppressed cell itself is never published, so at least one noise term remains.

Roles: analyst and police keep exact numbers (``protects(role)`` is False for them).

The core never reads settings: the edges pass a ``Policy`` built from the deployment secret
(``Policy.from_secret``; the API takes ``GEOVEILIG_DISCLOSURE_KEY`` or a key file in the
data folder made once). Without one, ``process_policy()`` uses a random secret per process
(consistent within the process, not across restarts).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import crimetypes
from .errors import InvalidInput
from .times import local_series

if TYPE_CHECKING:
    import geopandas as gpd
    from sqlalchemy.engine import Engine

    from .store.protocols import IncidentReader, StoreLike

#: Perturbation table: noise value -> probability (symmetric, mean 0, variance 1.58).
PTABLE: tuple[tuple[int, float], ...] = ((-3, 0.03), (-2, 0.08), (-1, 0.20), (0, 0.38),
                                         (1, 0.20), (2, 0.08), (3, 0.03))
#: Counts from 1 up to this value minus one are never published to the public.
THRESHOLD = 5
#: Roles that see exact numbers.
EXACT_ROLES = frozenset({"analyst", "police"})
#: The label printed instead of a suppressed count.
SUPPRESSED_TEXT = f"minder dan {THRESHOLD}"


def protects(role: str) -> bool:
    """Whether outputs for ``role`` go through disclosure control (the public does)."""
    return role not in EXACT_ROLES


# --- what may be asked -----------------------------------------------------------------------

def published_rows() -> tuple[str, ...]:
    """The rows the public may ask for: the total, the groups, every category."""
    return (crimetypes.TOTAL_SLUG, *(g for g in crimetypes.GROUPS if g != crimetypes.TOTAL_SLUG),
            *crimetypes.SLUGS)


@lru_cache(maxsize=1)
def _row_by_members() -> dict[frozenset[str], str]:
    out: dict[frozenset[str], str] = {}
    for row in published_rows():
        out.setdefault(frozenset(crimetypes.GROUPS.get(row, (row,))), row)
    return out


def published_row(slugs: Iterable[str]) -> str | None:
    """The published row (``totaal``, a group, a category) that covers exactly ``slugs``, or
    None for an arbitrary combination."""
    return _row_by_members().get(frozenset(slugs))


def check_public_row(slugs: Iterable[str]) -> str:
    row = published_row(slugs)
    if row is None:
        raise InvalidInput("zonder sleutel alleen één misdrijftype of groep tegelijk (bv. "
                           "woninginbraak of hic), geen eigen lijst", where="crimeType")
    return row


def period_key(start: date, end: date) -> str | None:
    """``2017``, ``2017-Q1`` or ``2017-03`` when [start, end) is a calendar year, quarter or
    month; None otherwise."""
    if start.day != 1:
        return None
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day != 1:
        return None
    if months == 12 and start.month == 1:
        return str(start.year)
    if months == 3 and start.month in (1, 4, 7, 10):
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    if months == 1:
        return f"{start.year}-{start.month:02d}"
    return None


def check_public_period(start: date, end: date) -> str:
    key = period_key(start, end)
    if key is None:
        raise InvalidInput("zonder sleutel alleen hele kalenderjaren, kwartalen of maanden "
                           "(bv. 2017, 2017-Q1, 2017-03), geen eigen datums of weken",
                           where="period")
    return key


# --- the policy --------------------------------------------------------------------------------

def cell_id(level: str, code: str, row: str, period: str) -> str:
    """The canonical name of a public cell."""
    return f"{level}|{code}|{row}|{period}"


_CUM = np.cumsum([p for _e, p in PTABLE])
_NOISE = np.array([e for e, _p in PTABLE], dtype=np.int64)


@dataclass(frozen=True)
class Policy:
    """The cell-key method with a deployment secret (see the module docstring)."""

    secret: bytes
    threshold: int = THRESHOLD

    @classmethod
    def from_secret(cls, text: str | bytes, **kw: Any) -> Policy:
        raw = text.encode() if isinstance(text, str) else text
        if len(raw) < 16:
            raise InvalidInput("de sleutel voor disclosure control is te kort (minstens 16 "
                               "tekens)", where="GEOVEILIG_DISCLOSURE_KEY")
        return cls(raw, **kw)

    def cell_keys(self, cells: Sequence[str]) -> np.ndarray:
        """The cell key of each cell: uniform in [0, 1), deterministic, secret."""
        out = np.empty(len(cells), dtype=float)
        for i, c in enumerate(cells):
            digest = hmac.new(self.secret, c.encode(), hashlib.sha256).digest()
            out[i] = int.from_bytes(digest[:8], "big") / 2.0**64
        return out

    def noise(self, cells: Sequence[str]) -> np.ndarray:
        idx = np.searchsorted(_CUM, self.cell_keys(cells), side="right")
        return _NOISE[np.minimum(idx, len(_NOISE) - 1)]

    def protect(self, counts: Sequence[Any] | np.ndarray | pd.Series, cells: Sequence[str]
                ) -> tuple[pd.Series, np.ndarray]:
        """Published values (Int64, <NA> where suppressed or unknown) and the suppression
        mask for true ``counts`` of ``cells``."""
        n = pd.to_numeric(pd.Series(list(counts), dtype=object), errors="coerce")
        known = n.notna().to_numpy()
        values = n.fillna(0).to_numpy(dtype=np.int64)
        small = known & (values > 0) & (values < self.threshold)
        perturbed = np.maximum(self.threshold, values + self.noise(cells))
        out = np.where(values == 0, 0, perturbed)
        series = pd.Series(pd.array(out, dtype="Int64"))
        series[~known | small] = pd.NA
        return series, small


_PROCESS: list[Policy] = []


def process_policy() -> Policy:
    """A policy with a random secret for this process (when the edge gives none)."""
    if not _PROCESS:
        _PROCESS.append(Policy(secrets.token_bytes(32)))
    return _PROCESS[0]


def policy_for(secret: str | None, key_file: Path | None) -> Policy:
    """The deployment's policy: ``secret`` when given, else the secret in ``key_file``
    (created once with 32 random bytes, readable by the owner only), else a per-process
    secret."""
    if secret:
        return Policy.from_secret(secret)
    if key_file is None:
        return process_policy()
    try:
        return Policy.from_secret(key_file.read_bytes().strip())
    except FileNotFoundError:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(32).encode()
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(token)
        return Policy.from_secret(token)


# --- outputs -----------------------------------------------------------------------------------

def check_public_query(params: Mapping[str, Any]) -> None:
    """A layer request of the public: one published row, a calendar unit (``crimeType``,
    ``period``/``year`` as parsed by ``geoveilig.layers``)."""
    slugs = params.get("crimeType")
    if slugs:
        check_public_row(slugs)
    for name in ("period", "year"):
        p = params.get(name)
        if p is not None:
            check_public_period(p.start, p.end)


def protect_area_counts(frame: pd.DataFrame, policy: Policy, level: str,
                        columns: Sequence[str] = ("count",)) -> pd.DataFrame:
    """An area-count layer (``code``, ``crime_type``, ``period`` as ``layers.area_counts``
    makes it) as the public may see it: each count column perturbed, ``None`` where
    suppressed, ``<column>_suppressed`` true there."""
    out = frame.copy()
    if len(out) == 0:
        for col in columns:
            out[f"{col}_suppressed"] = pd.Series(dtype=bool)
        return out
    rows = [published_row(crimetypes.expand(spec)) or spec for spec in out["crime_type"]]
    if {"period_start", "period_end"} <= set(out.columns):
        periods = [_layer_period(a, b, label) for a, b, label in
                   zip(out["period_start"], out["period_end"], out["period"], strict=True)]
    else:
        periods = [str(p) for p in out["period"]]
    cells = [cell_id(level, str(c), r, p)
             for c, r, p in zip(out["code"], rows, periods, strict=True)]
    for col in columns:
        if col not in out:
            continue
        values, small = policy.protect(out[col].to_numpy(), cells)
        out[col] = values.astype(object).where(values.notna(), None).to_numpy()
        out[f"{col}_suppressed"] = small
    return out


def _layer_period(start: str, last_day: str, label: str) -> str:
    """The canonical key of a layer's period (``2017-01-01/2017-01-31`` is ``2017-01``)."""
    a = date.fromisoformat(str(start))
    b = date.fromisoformat(str(last_day)) + pd.Timedelta(days=1)
    return period_key(a, b) or str(label)


def protect_comparison(comp: Any, policy: Policy) -> Any:
    """A ``stats.Comparison`` as the public may see it: every count perturbed or
    suppressed, percentages, suppression, binomial tests and signals recomputed from the
    published counts, rates scaled to them, the trend statistics (made from exact yearly
    counts) left out and their verdict hidden where the count is suppressed."""
    from . import stats

    f = comp.frame.copy()
    level = comp.level
    codes = f["area_code"].astype(str).to_list()
    rows = f["crime_type"].astype(str).to_list()

    def cells(key: str) -> list[str]:
        return [cell_id(level, c, r, key) for c, r in zip(codes, rows, strict=True)]

    true_b = f["count"].to_numpy(dtype=float)
    b, small_b = policy.protect(f["count"].to_numpy(), cells(comp.period.key))
    f["count"] = b.array
    f["count_suppressed"] = small_b
    b_f = b.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    rounding: dict[int, stats.Rounding] = dict(comp.rounding)
    rows_arr = np.asarray(rows, dtype=object)
    for k, p in comp.references:
        col = f"count_{k}y"
        if f[col].isna().all():
            continue
        a, _small_a = policy.protect(f[col].to_numpy(), cells(p.key))
        f[col] = a.array
        a_f = a.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        hidden = np.isnan(a_f) | np.isnan(b_f)
        change = np.where(hidden, np.nan, stats.percent_change(np.nan_to_num(a_f),
                                                               np.nan_to_num(b_f)))
        rule_mask = comp.rule.apply(rows_arr, k, np.nan_to_num(a_f), np.nan_to_num(b_f))
        mode = rounding.get(k, rounding.get(0, "half-away"))
        text = [comp.rule.symbol if (h or s) else
                (stats.format_percent(c, mode) if np.isfinite(c) else "n.v.t.")
                for c, h, s in zip(change, hidden, rule_mask, strict=True)]
        share = comp.period.days / (comp.period.days + p.days)
        pv = np.where(hidden, np.nan, stats.binomial_test(np.nan_to_num(a_f).astype(np.int64),
                                                          np.nan_to_num(b_f).astype(np.int64),
                                                          share))
        f[f"change_{k}y"] = change
        f[f"change_{k}y_text"] = text
        f[f"suppressed_{k}y"] = hidden | rule_mask
        f[f"p_{k}y"] = pv
        f[f"signal_{k}y"] = [SUPPRESSED_TEXT if h else stats._signal_text(pp, bb - aa,
                                                                          comp.alpha)
                             for h, pp, aa, bb in zip(hidden, pv, a_f, b_f, strict=True)]
    f["trend_s"] = np.nan
    f["trend_p"] = np.nan
    f["trend_signal"] = np.where(small_b, SUPPRESSED_TEXT, f["trend_signal"].astype(object))
    for col in ("per_1000_inhabitants", "per_1000_dwellings"):
        if col in f:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(true_b > 0, b_f / true_b, np.where(true_b == 0, 1.0, np.nan))
            f[col] = (f[col].to_numpy(dtype=float) * ratio).round(2)
    return replace(comp, frame=f)


def protect_yearly(yearly: pd.DataFrame, policy: Policy, code: str) -> pd.DataFrame:
    """The gemeente series (rows x period keys) with each cell perturbed or suppressed
    (NaN)."""
    out = yearly.astype(float).copy()
    for key in yearly.columns:
        cells = [cell_id("gemeente", code, str(r), str(key)) for r in yearly.index]
        values, _small = policy.protect(yearly[key].to_numpy(), cells)
        out[key] = values.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return out


def protect_evaluation(ev: Any, policy: Policy, areas: Any) -> Any:
    """A ``stats.Evaluation`` (the HTML report) as the public may see it."""
    from . import stats

    gem = protect_comparison(ev.gemeente, policy)
    wijken = protect_comparison(ev.wijken, policy) if ev.wijken is not None else None
    extra = tuple(protect_comparison(c, policy) for c in ev.extra)
    code = str(ev.gemeente.frame["area_code"].iloc[0]) if len(ev.gemeente.frame) else ""
    yearly = protect_yearly(ev.yearly, policy, code)
    hic = stats.area_layer(wijken, areas, "hic") if wijken is not None else None
    return replace(ev, gemeente=gem, wijken=wijken, extra=extra, yearly=yearly,
                   hic_wijken=hic)


# --- the analyst tier: incident times only to the month ----------------------------------------

#: Below this role, hotspot and planning computations see incident times only by calendar
#: month and start on the first day of a month (see docs/privacy.md).
EXACT_TIME_ROLE = "police"
_TIME_COLUMNS = ("occurred_at", "occurred_from", "occurred_to")


def exact_times(role: str) -> bool:
    """Whether ``role`` may compute with incident times to the day (the police)."""
    return role == EXACT_TIME_ROLE


def month_start(value: date | pd.Timestamp) -> date:
    """The first day of the calendar month of ``value``."""
    d = value.date() if isinstance(value, pd.Timestamp) else value
    return d.replace(day=1)


#: Day of the month every incident time is moved to for roles below the police (the middle
#: of the month keeps the average age of an event right for recency-weighted methods).
MONTH_DAY = 15


def month_times(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every incident time moved to 00:00 on day ``MONTH_DAY`` of its
    calendar month (Europe/Amsterdam): times by month only, and still before the first day
    of the next month (every origin a non-police role can use)."""
    from . import TIMEZONE

    out = frame.copy()
    for col in _TIME_COLUMNS:
        if col not in out or len(out) == 0:
            continue
        t = pd.to_datetime(out[col])
        aware = t.dt.tz is not None
        local = t.dt.tz_convert(TIMEZONE).dt.tz_localize(None) if aware else t
        first = local.dt.to_period("M").dt.start_time + pd.Timedelta(days=MONTH_DAY - 1)
        if aware:
            first = local_series(first)
        out[col] = first.where(t.notna())
    return out


class MonthStore:
    """A read view of a ``Store`` whose ``incidents()`` carry times by month only
    (``month_times``); everything else is the store's own. A ``StoreLike``."""

    def __init__(self, store: StoreLike) -> None:
        self._store = store

    @property
    def engine(self) -> Engine:
        return self._store.engine

    def incidents(self, **filters: Any) -> gpd.GeoDataFrame:
        return month_times(self._store.incidents(**filters))

    def count_incidents(self, **filters: Any) -> int:
        return self._store.count_incidents(**filters)

    def time_range(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        return self._store.time_range()

    def batches(self) -> pd.DataFrame:
        return self._store.batches()

    def has_synthetic_data(self) -> bool:
        return self._store.has_synthetic_data()

    def data_version(self) -> str:
        return self._store.data_version()

    def data_versions(self) -> dict[str, str]:
        return self._store.data_versions()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def month_origin(store: IncidentReader, origin: date | None) -> date | None:
    """The forecast origin a non-police role gets: the first day of the month of ``origin``;
    without one, the first day of the month after the last stored incident (every stored
    incident lies before it; None when nothing is stored)."""
    if origin is not None:
        return month_start(origin)
    from . import TIMEZONE

    rng = store.time_range()
    if rng is None:
        return None
    last = rng[1].tz_convert(TIMEZONE) if rng[1].tzinfo is not None else rng[1]
    return (month_start(last.date()) + pd.DateOffset(months=1)).date()
