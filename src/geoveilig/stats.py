"""Crime statistics per gemeente, wijk and buurt: counts, rates, the yearly comparison table
(chapter 2 of the Helmond evaluation, "Hoe staat de stad ervoor?"), the low-count rule and
significance signals. Pure functions over the incidents GeoDataFrame; no I/O, no settings.

Periods
    ``Period`` is a half-open interval ``[start, end)`` in Europe/Amsterdam: a calendar year,
    quarter, month, ISO week or any date range (``Period.parse("2017")``, ``"2018-Q1"``,
    ``"2017-03"``, ``"2017-W10"``, ``"2017-01-01/2017-06-30"`` -- the end date of a written
    range is inclusive). ``Period.shift(-1)`` is the same period one year earlier (same quarter,
    month, ISO week number, or the same dates). Incidents are counted by ``occurred_at``.

Counts and rates (``count_incidents``)
    One row per area x period x row, where a row is a category slug or a group (``totaal`` =
    every category including ``overig``; ``hic``, ...). Every area of the level is listed, with 0
    when nothing happened. Incidents without a wijk/buurt code (outside every buurt) appear
    as an extra area ``code=""`` "Buiten de wijken / onbekend" when there are any, so per-wijk
    sums always equal the gemeente total. Rates per 1,000 inhabitants / dwellings (for the
    period, not annualised) are added only when the area layer carries ``inhabitants`` /
    ``dwellings``; without them the rate columns are absent, never zero. Negative CBS values
    (secret/unknown) give an empty rate.

Percentage change
    ``100 * (count - reference) / reference``, by default rounded half away from zero to a whole
    number, and printed as in the source: ``-14%``, ``6%`` (no plus sign). A reference of 0
    gives ``n.v.t.``. ``rounding="truncate"`` cuts toward zero instead, per comparison if wanted
    (``{1: "half-away", 5: "truncate"}``). The source needs that mix: its 1-year column is
    rounded (Inbraken bedrijven 142 -> 156 = +9.9% prints 10%) while its 5-year column is only
    consistent with truncation (Zedenmisdrijven 66 in 2017 and +17% on 2012: 56 gives +17.9%,
    57 gives +15.8%, so no whole 2012 count rounds to 17%). ``SEED_ROUNDING`` is that mix.

The low-count rule (``LowCountRule``, printed as ``-*``)
    Default: the percentage is suppressed when **both** counts are below 20 (``threshold=20,
    mode="both"``). A percentage between two small numbers says little: with 5 -> 11 a single
    incident more or less moves the percentage by 10 to 20 points. ``mode="either"`` suppresses
    when one of the two is small; ``mode="off"`` never suppresses. On top of the rule, explicit
    per-row overrides ``suppress``/``show`` of ``(row, years_back)`` pairs (``years_back=0`` = all
    comparisons) are applied last.

    The source table is not consistent (see ``../shared/seed/README.md``): Overvallen 5 -> 11
    shows ``-*`` (the rule does that), Straatroven 24 -> 4 shows -83% (the rule does that: 24 is
    not below 20), but Winkeldiefstallen 280 -> 282 shows ``-*`` although the numbers are large.
    No threshold rule produces all three; the source is reproduced figure for figure by the
    default rule plus one override: ``LowCountRule.seed()`` = ``threshold=20, mode="both",
    suppress={("winkeldiefstal", 1)}``, together with ``rounding=SEED_ROUNDING`` (CLI:
    ``--preset seed``, or ``--suppress winkeldiefstal:1 --rounding 1:half-away,5:truncate``).
    We keep the override and the truncation out of the default because they are not rules but
    choices of the 2017 authors.

Significance ("which changes are real")
    * Change against a reference period: **exact conditional binomial test for two Poisson
      counts** (``binomiaaltoets``). If both periods have the same underlying rate, the target
      count given the sum ``n`` is Binomial(n, p0) with p0 = target length / (target + reference
      length). Two-sided p-value = twice the smaller tail (capped at 1). With ``alpha=0.05`` 26 ->
      39 (+50%) gives p = 0.14: within chance. Police counts vary more than Poisson (seasons,
      series of one offender, registration), so for large numbers a significant result means
      "larger than pure chance", not automatically "policy relevant".
    * Trend over the years: **Mann-Kendall trend test** (Kendall's S of the counts of the same
      period in the consecutive previous years covered by the data, up to ``trend_years`` back,
      at least 4 points). The p-value is exact (permutation distribution of S without ties; ties
      make it slightly conservative). A small but steady rise (e.g. 100, 104, 109, 113, 118, 123)
      is flagged (p = 0.003) although each yearly step is within chance. This test only looks at
      the order of the counts, so it is not fooled by overdispersion.

Bad input
    Unknown category -> ``UnknownCrimeType``; empty or reversed period, a target period outside
    or only partly inside the data -> ``InvalidInput`` with a Dutch message. A reference period
    outside the data gives empty counts (``<NA>``), the text ``geen gegevens`` and a note saying
    why -- never a silent zero.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import stats as sps

from .areas import LEVELS, Areas
from .crimetypes import BY_SLUG, GROUP_LABELS, GROUPS, SLUGS, TOTAL_LABEL, TOTAL_SLUG, _norm
from .crimetypes import resolve as _resolve
from .errors import InvalidInput, UnknownCrimeType
from .times import local_series, parse_local

Level = Literal["gemeente", "wijk", "buurt"]

#: Rows of the seed table, in its order: the total, then the 16 printed categories.
SEED_ROWS: tuple[str, ...] = (TOTAL_SLUG, *SLUGS[:-1])
#: Every category plus the total and the HIC group.
ALL_ROWS: tuple[str, ...] = (TOTAL_SLUG, "hic", *SLUGS)

UNKNOWN_AREA_CODE = ""
UNKNOWN_AREA_NAME = "Buiten de wijken / onbekend"

BINOMIAL_METHOD = ("exacte binomiaaltoets (voorwaardelijke toets voor twee Poisson-aantallen, "
                   "tweezijdig)")
TREND_METHOD = ("Mann-Kendall-trendtoets over de jaren (exacte p-waarde; bij gelijke aantallen "
                "normale benadering met correctie voor gelijke waarden)")

_MONTHS_NL = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
              "september", "oktober", "november", "december")
_DAY = pd.Timedelta(days=1)


# --------------------------------------------------------------------------------------------
# Periods
# --------------------------------------------------------------------------------------------
def _ts(value: datetime | date | str | pd.Timestamp) -> pd.Timestamp:
    return parse_local(value)


#: The period grammar (``Period.parse``): year, quarter (``2018-Q1``, ``2017q4``), ISO week
#: (``2017-W10``), month, a range with an inclusive (``a/b``) or exclusive (``a..b``) end.
#: ``{Y}`` stands for a year, ``{D}`` for the year of a date; ``period_pattern`` makes the
#: published JSON-schema pattern from the same forms.
PERIOD_FORMS: tuple[tuple[str, str], ...] = (
    ("year", r"{Y}"),
    ("quarter", r"{Y}-?[Qq]([1-4])"),
    ("week", r"{Y}-?[Ww](0?[1-9]|[1-4]\d|5[0-3])"),
    ("month", r"{Y}-(0?[1-9]|1[0-2])"),
    ("range", r"({D}-\d{2}-\d{2})\s*/\s*({D}-\d{2}-\d{2})"),
    ("until", r"({D}-\d{2}-\d{2})\s*\.\.\s*({D}-\d{2}-\d{2})"),
)


def _period_form(form: str, year: str, date_year: str) -> str:
    return form.replace("{Y}", year).replace("{D}", date_year)


def period_pattern(year: str = r"\d{4}", kinds: tuple[str, ...] | None = None) -> str:
    """A regular expression (ECMA-compatible, for an OpenAPI schema) for every text
    ``Period.parse`` reads (or only the forms ``kinds``), with ``year`` as the year (e.g. a
    bounded range)."""
    y = f"(?:{year})"
    forms = "|".join(_period_form(f, y, y).replace("(", "(?:").replace("(?:?:", "(?:")
                     for kind, f in PERIOD_FORMS if kinds is None or kind in kinds)
    return rf"^\s*(?:{forms})\s*$"


@dataclass(frozen=True)
class Period:
    """A half-open period ``[start, end)`` in Europe/Amsterdam."""

    start: pd.Timestamp
    end: pd.Timestamp
    kind: Literal["year", "quarter", "month", "week", "range"] = "range"
    year: int | None = None
    number: int | None = None  # quarter, month or ISO week number

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise InvalidInput(
                f"lege of omgekeerde periode: {self.start.date()} tot {self.end.date()} "
                "(het einde moet na het begin liggen)", where="period")

    # --- constructors --------------------------------------------------------------------
    @classmethod
    def of_year(cls, year: int) -> Period:
        year = _check_year(year)
        return cls(_ts(f"{year}-01-01"), _ts(f"{year + 1}-01-01"), "year", year)

    @classmethod
    def of_quarter(cls, year: int, quarter: int) -> Period:
        year = _check_year(year)
        if not 1 <= int(quarter) <= 4:
            raise InvalidInput(f"kwartaal moet 1 t/m 4 zijn, niet {quarter}", where="quarter")
        start = pd.Timestamp(year, 3 * (quarter - 1) + 1, 1)
        return cls(_ts(start), _ts(start + pd.DateOffset(months=3)), "quarter", year,
                   int(quarter))

    @classmethod
    def of_month(cls, year: int, month: int) -> Period:
        year = _check_year(year)
        if not 1 <= int(month) <= 12:
            raise InvalidInput(f"maand moet 1 t/m 12 zijn, niet {month}", where="month")
        start = pd.Timestamp(year, int(month), 1)
        return cls(_ts(start), _ts(start + pd.DateOffset(months=1)), "month", year, int(month))

    @classmethod
    def of_week(cls, year: int, week: int) -> Period:
        """ISO week ``week`` of ISO year ``year`` (Monday to Monday)."""
        year = _check_year(year)
        try:
            start = date.fromisocalendar(year, int(week), 1)
        except ValueError as exc:
            raise InvalidInput(f"week {week} bestaat niet in ISO-jaar {year}",
                               where="week") from exc
        return cls(_ts(start), _ts(start) + pd.DateOffset(days=7), "week", year, int(week))

    @classmethod
    def between(cls, start: datetime | date | str, end: datetime | date | str) -> Period:
        """Any range; ``end`` is exclusive (as in ``Store.incidents``)."""
        return cls(_ts(start), _ts(end), "range")

    @classmethod
    def parse(cls, text: str) -> Period:
        """``2017``, ``2018-Q1``, ``2017-03``, ``2017-W10``, ``2017-01-01/2017-06-30``
        (inclusive end date) or ``2017-01-01..2017-07-01`` (exclusive end)."""
        t = str(text).strip()
        kind, m = next(((k, found) for k, form in PERIOD_FORMS
                        if (found := re.fullmatch(_period_form(form, r"(\d{4})", r"\d{4}"), t))),
                       ("", None))
        if m is not None:
            if kind == "year":
                return cls.of_year(int(m[1]))
            if kind == "quarter":
                return cls.of_quarter(int(m[1]), int(m[2]))
            if kind == "week":
                return cls.of_week(int(m[1]), int(m[2]))
            if kind == "month":
                return cls.of_month(int(m[1]), int(m[2]))
            if kind == "range":
                return cls.between(m[1], _ts(m[2]) + pd.DateOffset(days=1))
            return cls.between(m[1], m[2])
        raise InvalidInput(
            f"onbekende periode '{text}': gebruik bijv. 2017, 2018-Q1, 2017-03, 2017-W10 of "
            "2017-01-01/2017-06-30", where="period")

    # --- derived -------------------------------------------------------------------------
    def shift(self, years: int) -> Period:
        """The same period ``years`` years later (negative: earlier)."""
        if self.kind == "year":
            return Period.of_year(self.year + years)  # type: ignore[operator]
        if self.kind == "quarter":
            return Period.of_quarter(self.year + years, self.number)  # type: ignore[operator,arg-type]
        if self.kind == "month":
            return Period.of_month(self.year + years, self.number)  # type: ignore[operator,arg-type]
        if self.kind == "week":
            return Period.of_week(self.year + years, self.number)  # type: ignore[operator,arg-type]
        off = pd.DateOffset(years=years)
        return Period.between(self.start.tz_localize(None) + off, self.end.tz_localize(None) + off)

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400.0

    @property
    def key(self) -> str:
        """Short machine label: ``2017``, ``2018-Q1``, ``2017-03``, ``2017-W10``, ``a..b``."""
        if self.kind == "year":
            return str(self.year)
        if self.kind == "quarter":
            return f"{self.year}-Q{self.number}"
        if self.kind == "month":
            return f"{self.year}-{self.number:02d}"
        if self.kind == "week":
            return f"{self.year}-W{self.number:02d}"
        return f"{self.start.date()}..{self.end.date()}"

    @property
    def label(self) -> str:
        """Dutch label: ``2017``, ``1e kwartaal 2018``, ``maart 2017``, ``week 10 van 2017``."""
        if self.kind == "year":
            return str(self.year)
        if self.kind == "quarter":
            return f"{self.number}e kwartaal {self.year}"
        if self.kind == "month":
            return f"{_MONTHS_NL[self.number - 1]} {self.year}"  # type: ignore[operator]
        if self.kind == "week":
            return f"week {self.number} van {self.year}"
        last = (self.end - _DAY).date()
        return f"{self.start.date():%d-%m-%Y} t/m {last:%d-%m-%Y}"

    def split(self, freq: Literal["year", "quarter", "month", "week"]) -> list[Period]:
        """The calendar periods of kind ``freq`` that lie fully inside this period."""
        out: list[Period] = []
        if freq == "week":
            iso = self.start.isocalendar()
            p = Period.of_week(iso[0], iso[1])
            while p.start < self.end:
                if p.start >= self.start and p.end <= self.end:
                    out.append(p)
                nxt = (p.start + pd.DateOffset(days=7)).isocalendar()
                p = Period.of_week(nxt[0], nxt[1])
            return out
        makers = {"year": lambda y, _n: Period.of_year(y),
                  "quarter": Period.of_quarter, "month": Period.of_month}
        if freq not in makers:
            raise InvalidInput(f"onbekende indeling '{freq}': kies year, quarter, month of week")
        step = {"year": 12, "quarter": 3, "month": 1}[freq]
        y, m = self.start.year, self.start.month
        m = ((m - 1) // step) * step + 1
        while True:
            n = (m - 1) // step + 1
            p = makers[freq](y, n if freq != "month" else m)
            if p.start >= self.end:
                break
            if p.start >= self.start and p.end <= self.end:
                out.append(p)
            m += step
            if m > 12:
                y, m = y + 1, m - 12
        return out


def _check_year(year: int) -> int:
    try:
        y = int(year)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"ongeldig jaar '{year}'", where="year") from exc
    if not 1900 <= y <= 2200:
        raise InvalidInput(f"ongeldig jaar {y}", where="year")
    return y


# --------------------------------------------------------------------------------------------
# Rows (categories and groups)
# --------------------------------------------------------------------------------------------
def resolve_rows(spec: str | Iterable[str]) -> tuple[str, ...]:
    """Turn ``"totaal,hic,woninginbraak"`` (or an iterable) into row keys: group names stay
    groups, anything else is resolved to a category slug. Unknown -> ``UnknownCrimeType``."""
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    rows: list[str] = []
    for raw in parts:
        key = _norm(raw).replace(" ", "-")
        if not key:
            continue
        row = key if key in GROUPS else _resolve(raw)
        if row not in rows:
            rows.append(row)
    if not rows:
        raise UnknownCrimeType("geen misdrijftype opgegeven", where="crime_type")
    return tuple(rows)


def row_label(row: str) -> str:
    if row == TOTAL_SLUG:
        return TOTAL_LABEL
    if row in GROUP_LABELS:
        return GROUP_LABELS[row]
    return BY_SLUG[row].label


def _membership(rows: Sequence[str]) -> np.ndarray:
    """(n_slugs, n_rows) 0/1 matrix: slug counts @ M = row counts."""
    m = np.zeros((len(SLUGS), len(rows)), dtype=np.int64)
    index = {s: i for i, s in enumerate(SLUGS)}
    for j, row in enumerate(rows):
        for s in GROUPS.get(row, (row,)):
            m[index[s], j] = 1
    return m


# --------------------------------------------------------------------------------------------
# Counting core
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Prepared:
    times: np.ndarray  # int64 ns UTC, sorted
    cat: np.ndarray  # slug index
    area: np.ndarray  # area index; n_areas = unknown
    codes: tuple[str, ...]
    names: tuple[str, ...]
    layer: pd.DataFrame | None  # area attributes (codes order), None for the gemeente w/o areas


def _level_check(level: str) -> None:
    if level not in LEVELS:
        raise InvalidInput(f"onbekend niveau '{level}': kies gemeente, wijk of buurt",
                           where="level")


def _times_ns(incidents: pd.DataFrame) -> np.ndarray:
    if "occurred_at" not in incidents.columns:
        raise InvalidInput("de incidenten missen de kolom occurred_at")
    t = local_series(pd.to_datetime(incidents["occurred_at"], errors="coerce"))
    if t.isna().any():
        raise InvalidInput(f"{int(t.isna().sum())} incident(en) zonder geldig tijdstip "
                           "(occurred_at)")
    return t.dt.tz_convert("UTC").to_numpy(dtype="datetime64[ns]").astype(np.int64)


def _prepare(incidents: pd.DataFrame, level: str, areas: Areas | None) -> _Prepared:
    _level_check(level)
    if "crime_type" not in incidents.columns:
        raise InvalidInput("de incidenten missen de kolom crime_type")
    times = _times_ns(incidents)
    cat = pd.Categorical(incidents["crime_type"].astype(object), categories=list(SLUGS)).codes
    if (cat < 0).any():
        bad = sorted({str(v) for v in incidents["crime_type"][cat < 0]})
        raise UnknownCrimeType(f"onbekend misdrijftype in de incidenten: {', '.join(bad[:5])}")
    layer: pd.DataFrame | None
    if level == "gemeente":
        if areas is not None:
            layer = pd.DataFrame(areas.gemeente.drop(columns="geometry"))
            codes: tuple[str, ...] = (areas.gemeente_code,)
            names: tuple[str, ...] = (areas.gemeente_name,)
        else:
            layer, codes, names = None, ("",), ("Gemeente",)
        area = np.zeros(len(incidents), dtype=np.int64)
    else:
        if areas is None:
            raise InvalidInput(f"voor tellingen per {level} zijn de wijk- en buurtgrenzen nodig")
        col = f"{level}_code"
        if col not in incidents.columns:
            raise InvalidInput(f"de incidenten missen de kolom {col}")
        gdf = areas.layer(level)  # type: ignore[arg-type]
        layer = pd.DataFrame(gdf.drop(columns="geometry")).reset_index(drop=True)
        codes = tuple(str(c) for c in layer["code"])
        names = tuple(str(n) for n in layer["name"])
        area = pd.Categorical(incidents[col].astype(object), categories=list(codes)).codes
        area = np.where(area < 0, len(codes), area).astype(np.int64)
    order = np.argsort(times, kind="stable")
    return _Prepared(times[order], np.asarray(cat, dtype=np.int64)[order], area[order],
                     codes, names, layer)


def _slug_counts(prep: _Prepared, period: Period) -> np.ndarray:
    """(n_areas + 1, n_slugs) counts in ``period``; the last area row = unknown area."""
    lo, hi = np.searchsorted(prep.times, [period.start.value, period.end.value], side="left")
    n_a, n_s = len(prep.codes) + 1, len(SLUGS)
    flat = np.bincount(prep.area[lo:hi] * n_s + prep.cat[lo:hi], minlength=n_a * n_s)
    return flat.reshape(n_a, n_s)


def data_range(incidents: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The days the incidents cover: (first day 00:00, day after the last day 00:00), or None
    without incidents. Pass your own ``coverage`` when the data's true range is known."""
    if len(incidents) == 0:
        return None
    t = local_series(pd.to_datetime(incidents["occurred_at"]))
    return t.min().normalize(), t.max().normalize() + pd.DateOffset(days=1)


def _coverage_of(period: Period, coverage: tuple[pd.Timestamp, pd.Timestamp] | None) -> float:
    if coverage is None:
        return 0.0
    lo, hi = max(period.start, coverage[0]), min(period.end, coverage[1])
    return max(0.0, (hi - lo).total_seconds()) / (period.end - period.start).total_seconds()


#: A period counts as covered by the data when at most this fraction lies outside it.
COVERAGE_TOLERANCE = 0.02


def _range_text(coverage: tuple[pd.Timestamp, pd.Timestamp] | None) -> str:
    if coverage is None:
        return "er zijn geen incidenten"
    return (f"de gegevens lopen van {coverage[0]:%d-%m-%Y} t/m "
            f"{(coverage[1] - _DAY):%d-%m-%Y}")


def check_covered(period: Period,
                  coverage: tuple[pd.Timestamp, pd.Timestamp] | None) -> None:
    """Raise ``InvalidInput`` (Dutch) unless the data cover ``period`` (see
    ``COVERAGE_TOLERANCE``): no data at all, a period outside the data, or only partly inside."""
    if coverage is None:
        raise InvalidInput("er zijn geen incidenten: importeer eerst gegevens "
                           "(geoveilig import) of laad de demo (geoveilig demo)")
    frac = _coverage_of(period, coverage)
    if frac <= 0:
        raise InvalidInput(f"geen gegevens voor {period.label}: {_range_text(coverage)}",
                           where="period")
    if frac < 1 - COVERAGE_TOLERANCE:
        raise InvalidInput(f"{period.label} valt maar voor {frac:.0%} binnen de gegevens "
                           f"({_range_text(coverage)}); kies een periode die helemaal gedekt "
                           "is", where="period")


# --------------------------------------------------------------------------------------------
# Counts and rates
# --------------------------------------------------------------------------------------------
def count_incidents(
    incidents: pd.DataFrame,
    periods: Period | str | Sequence[Period | str],
    *,
    areas: Areas | None = None,
    level: Level = "gemeente",
    rows: str | Iterable[str] = ALL_ROWS,
) -> pd.DataFrame:
    """Counts per area x period x row (category slug or group), long format.

    Columns: ``level, area_code, area_name, period, period_start, period_end, crime_type,
    label, count`` (+ ``per_1000_inhabitants`` / ``per_1000_dwellings`` when the area layer has
    those attributes). All areas of the level are listed (0 when nothing happened)."""
    given = [periods] if isinstance(periods, Period | str) else list(periods)
    plist: list[Period] = [Period.parse(p) if isinstance(p, str) else p for p in given]
    if not plist:
        raise InvalidInput("geen periode opgegeven", where="period")
    row_keys = resolve_rows(rows)
    prep = _prepare(incidents, level, areas)
    member = _membership(row_keys)
    mats = np.stack([_slug_counts(prep, p) @ member for p in plist])  # (P, A+1, R)
    n_areas = len(prep.codes)
    codes = list(prep.codes)
    names = list(prep.names)
    if mats[:, n_areas, :].sum() > 0:
        codes.append(UNKNOWN_AREA_CODE)
        names.append(UNKNOWN_AREA_NAME)
    else:
        mats = mats[:, :n_areas, :]
    n_p, n_a, n_r = mats.shape
    # order: area, period, row
    data = mats.transpose(1, 0, 2).reshape(-1)
    a_idx = np.repeat(np.arange(n_a), n_p * n_r)
    p_idx = np.tile(np.repeat(np.arange(n_p), n_r), n_a)
    r_idx = np.tile(np.arange(n_r), n_a * n_p)
    frame = pd.DataFrame({
        "level": level,
        "area_code": np.asarray(codes, dtype=object)[a_idx],
        "area_name": np.asarray(names, dtype=object)[a_idx],
        "period": np.asarray([p.key for p in plist], dtype=object)[p_idx],
        "period_start": pd.DatetimeIndex([p.start for p in plist])[p_idx],
        "period_end": pd.DatetimeIndex([p.end for p in plist])[p_idx],
        "crime_type": np.asarray(row_keys, dtype=object)[r_idx],
        "label": np.asarray([row_label(r) for r in row_keys], dtype=object)[r_idx],
        "count": data.astype(np.int64),
    })
    _add_rates(frame, prep, a_idx, "count")
    return frame


_RATE_COLUMNS = {"inhabitants": "per_1000_inhabitants", "dwellings": "per_1000_dwellings"}


def _add_rates(frame: pd.DataFrame, prep: _Prepared, a_idx: np.ndarray, count_col: str) -> None:
    """Add rate columns in place when (and only when) the layer carries the attributes."""
    if prep.layer is None:
        return
    for attr, col in _RATE_COLUMNS.items():
        if attr not in prep.layer.columns:
            continue
        base = pd.to_numeric(prep.layer[attr], errors="coerce").to_numpy(dtype=float)
        base = np.where(base > 0, base, np.nan)  # CBS: negative = secret/unknown; 0 = no rate
        base = np.append(base, np.nan)  # unknown area
        frame[col] = (frame[count_col].to_numpy(dtype=float) / base[a_idx] * 1000.0).round(2)


# --------------------------------------------------------------------------------------------
# Low-count rule
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LowCountRule:
    """When to print ``-*`` instead of a percentage (see the module docstring).

    ``threshold``/``mode``: ``both`` suppresses when both counts are below the threshold,
    ``either`` when one of them is, ``off`` never. ``suppress``/``show``: explicit overrides as
    ``(row, years_back)`` pairs (``years_back=0``: every comparison), applied last."""

    threshold: int = 20
    mode: Literal["both", "either", "off"] = "both"
    suppress: frozenset[tuple[str, int]] = field(default_factory=frozenset)
    show: frozenset[tuple[str, int]] = field(default_factory=frozenset)
    symbol: str = "-*"

    def __post_init__(self) -> None:
        if self.mode not in ("both", "either", "off"):
            raise InvalidInput(f"onbekende modus '{self.mode}' voor de regel voor kleine "
                               "aantallen: kies both, either of off")
        if self.threshold < 0:
            raise InvalidInput("de drempel voor kleine aantallen kan niet negatief zijn")
        for row, _k in (*self.suppress, *self.show):
            resolve_rows([row])

    @classmethod
    def seed(cls) -> LowCountRule:
        """The setting that reproduces the 2017 Helmond table exactly: the default rule plus
        the source's editorial ``-*`` for Winkeldiefstallen 2017 vs 2016."""
        return cls(threshold=20, mode="both", suppress=frozenset({("winkeldiefstal", 1)}))

    @staticmethod
    def parse_override(text: str) -> tuple[str, int]:
        """``winkeldiefstal:1`` -> ("winkeldiefstal", 1); ``overval`` -> ("overval", 0)."""
        name, _, k = str(text).partition(":")
        row = resolve_rows([name])[0]
        k = k.strip().lower().rstrip("yj") or "0"
        if not k.isdigit():
            raise InvalidInput(f"ongeldige uitzondering '{text}': gebruik categorie:jaren, "
                               "bijv. winkeldiefstal:1", where="--suppress")
        return row, int(k)

    def describe(self) -> str:
        if self.mode == "off":
            base = "Alle percentages worden getoond."
        elif self.mode == "both":
            base = (f"{self.symbol} = geen percentage omdat beide aantallen kleiner zijn dan "
                    f"{self.threshold}.")
        else:
            base = (f"{self.symbol} = geen percentage omdat een van beide aantallen kleiner is "
                    f"dan {self.threshold}.")
        extra = []
        for row, k in sorted(self.suppress):
            when = "alle vergelijkingen" if k == 0 else f"de vergelijking met {k} jaar eerder"
            extra.append(f"{row_label(row)} ({when}) wordt altijd als {self.symbol} getoond")
        for row, k in sorted(self.show):
            when = "alle vergelijkingen" if k == 0 else f"de vergelijking met {k} jaar eerder"
            extra.append(f"{row_label(row)} ({when}) wordt altijd met percentage getoond")
        return base + (" Uitzonderingen: " + "; ".join(extra) + "." if extra else "")

    def apply(self, rows: np.ndarray, years_back: int, a: np.ndarray,
              b: np.ndarray) -> np.ndarray:
        """Boolean mask: suppress the percentage of reference ``a`` -> target ``b``."""
        a = np.asarray(a, dtype=float)
        b = np.asarray(b, dtype=float)
        if self.mode == "both":
            out = (a < self.threshold) & (b < self.threshold)
        elif self.mode == "either":
            out = (a < self.threshold) | (b < self.threshold)
        else:
            out = np.zeros(len(a), dtype=bool)
        for pairs, value in ((self.suppress, True), (self.show, False)):
            for row, k in pairs:
                if k in (0, years_back):
                    out = np.where(rows == row, value, out)
        return out


# --------------------------------------------------------------------------------------------
# Percentages and tests
# --------------------------------------------------------------------------------------------
def round_half_away(x: np.ndarray | float) -> np.ndarray:
    """Round to whole numbers, halves away from zero (2.5 -> 3, -2.5 -> -3)."""
    arr = np.asarray(x, dtype=float)
    return np.sign(arr) * np.floor(np.abs(arr) + 0.5) + 0.0


def percent_change(reference: np.ndarray, target: np.ndarray) -> np.ndarray:
    """100 * (target - reference) / reference; NaN where reference is 0 or missing."""
    a = np.asarray(reference, dtype=float)
    b = np.asarray(target, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a > 0, 100.0 * (b - a) / a, np.nan)


Rounding = Literal["half-away", "truncate"]
ROUNDINGS: tuple[str, ...] = ("half-away", "truncate")
#: The rounding that reproduces the 2017 source table: its 1-year column is rounded (142 -> 156
#: = +9.9% prints 10%), its 5-year column truncated (66 vs 56 = +17.9% prints 17%).
SEED_ROUNDING: dict[int, Rounding] = {1: "half-away", 5: "truncate"}


def round_percent(x: np.ndarray | float, mode: Rounding = "half-away") -> np.ndarray:
    """Whole percentages: ``half-away`` (default, 2.5 -> 3, -2.5 -> -3) or ``truncate``
    (toward zero, 17.9 -> 17, -9.9 -> -9)."""
    if mode == "truncate":
        return np.trunc(np.asarray(x, dtype=float)) + 0.0
    if mode != "half-away":
        raise InvalidInput(f"onbekende afronding '{mode}': kies half-away of truncate",
                           where="rounding")
    return round_half_away(x)


def format_percent(value: float, mode: Rounding = "half-away") -> str:
    """``-14%``, ``6%`` (as printed in the source)."""
    return f"{int(round_percent(value, mode))}%"


def parse_rounding(spec: str | Mapping[int, str] | None) -> dict[int, Rounding]:
    """``"truncate"`` (every comparison) or ``"1:half-away,5:truncate"`` (per years back; the
    rest half-away) -> ``{years_back: mode}`` (key 0 = default for every comparison)."""
    if spec is None:
        return {0: "half-away"}
    if isinstance(spec, Mapping):
        items = {int(k): str(v) for k, v in spec.items()}
    else:
        items = {}
        for part in str(spec).split(","):
            if not part.strip():
                continue
            k, sep, mode = part.strip().rpartition(":")
            if sep and not k.strip().rstrip("yj").isdigit():
                raise InvalidInput(f"ongeldige afronding '{part}': gebruik bijv. "
                                   "1:half-away,5:truncate", where="--rounding")
            items[int(k.strip().rstrip("yj")) if sep else 0] = mode.strip()
    for mode in items.values():
        if mode not in ROUNDINGS:
            raise InvalidInput(f"onbekende afronding '{mode}': kies half-away of truncate",
                               where="--rounding")
    items.setdefault(0, "half-away")
    return items  # type: ignore[return-value]


def binomial_test(reference: np.ndarray, target: np.ndarray,
                  share: float | np.ndarray = 0.5) -> np.ndarray:
    """Two-sided exact conditional test of two Poisson counts: under equal rates
    target | (reference + target) ~ Binomial(n, share) with share = target length /
    total length. p = min(1, 2 * smaller tail). Vectorised; NaN where a count is missing."""
    a = np.asarray(reference, dtype=float)
    b = np.asarray(target, dtype=float)
    n = a + b
    ok = np.isfinite(n)
    p = np.full(len(a), np.nan)
    nn, bb = n[ok], b[ok]
    sh = np.broadcast_to(np.asarray(share, dtype=float), a.shape)[ok]
    lower = sps.binom.cdf(bb, nn, sh)
    upper = sps.binom.sf(bb - 1, nn, sh)
    p[ok] = np.minimum(1.0, 2.0 * np.minimum(lower, upper))
    p[ok & (n == 0)] = 1.0
    return p


@lru_cache(maxsize=32)
def _mahonian(n: int) -> np.ndarray:
    """Number of permutations of n items with k inversions, k = 0..n(n-1)/2."""
    row = np.array([1], dtype=float)
    for m in range(2, n + 1):
        nxt = np.zeros(len(row) + m - 1)
        for j in range(m):
            nxt[j:j + len(row)] += row
        row = nxt
    return row


def mann_kendall(series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mann-Kendall trend test on the rows of ``series`` (n_rows, n_points), oldest first.
    Returns Kendall's S and the two-sided p-value, computed as ``scipy.stats.kendalltau``
    against time does (method "auto"): the exact permutation distribution for a row without
    ties, and the normal approximation with the tie-corrected variance
    ``[n(n-1)(2n+5) - sum t(t-1)(2t+5)] / 18`` for a row with ties (equal counts are common
    for small numbers; the no-ties distribution would understate p there)."""
    x = np.asarray(series, dtype=float)
    n = x.shape[1]
    i, j = np.triu_indices(n, k=1)
    s = np.sign(x[:, j] - x[:, i]).sum(axis=1)
    counts = _mahonian(n)
    total = counts.sum()
    n_pairs = n * (n - 1) // 2
    s_values = n_pairs - 2 * np.arange(len(counts))  # S for k inversions
    abs_s = np.abs(s_values)
    p = np.array([counts[abs_s >= abs(v) - 1e-9].sum() / total for v in s])
    var0 = n * (n - 1) * (2 * n + 5) / 18.0
    for r in range(x.shape[0]):
        _vals, t = np.unique(x[r], return_counts=True)
        if (t > 1).any():
            var = var0 - float(np.sum(t * (t - 1) * (2 * t + 5))) / 18.0
            p[r] = 2.0 * sps.norm.sf(abs(s[r]) / np.sqrt(var)) if var > 0 else 1.0
    return s, np.minimum(1.0, p)


def _signal_text(p: float, direction: float, alpha: float) -> str:
    if not np.isfinite(p):
        return "geen gegevens"
    if p < alpha:
        return "significant hoger" if direction > 0 else "significant lager"
    return "binnen toeval"


#: How many years back the yearly series (the report's small multiples) goes at most.
YEARLY_MAX_YEARS = 10

#: The trend test needs at least this many years: with 4 points no ordering reaches p < 0.05.
MIN_TREND_YEARS = 5


def _trend_text(p: float, s: float, alpha: float, n_points: int) -> str:
    if n_points < MIN_TREND_YEARS:
        return "te weinig jaren"
    if not np.isfinite(p):
        return "geen gegevens"
    if p < alpha:
        return "stijgende trend" if s > 0 else "dalende trend"
    return "geen trend"


# --------------------------------------------------------------------------------------------
# The comparison table
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    """A target period against the same period ``years_back`` years earlier, per area and row.

    ``frame`` columns: ``level, area_code, area_name, crime_type, label, count`` and per
    comparison k in ``years_back``: ``count_{k}y`` (Int64, <NA> outside the data),
    ``change_{k}y`` (float %, unrounded), ``change_{k}y_text`` (as printed: ``-14%``, ``-*``,
    ``n.v.t.``, ``geen gegevens``), ``suppressed_{k}y``, ``p_{k}y``, ``signal_{k}y``; then
    ``trend_s``, ``trend_p``, ``trend_signal``, ``trend_points`` (+ rate columns when the areas
    carry attributes)."""

    frame: pd.DataFrame
    period: Period
    references: tuple[tuple[int, Period], ...]
    level: str
    rule: LowCountRule
    alpha: float
    trend_periods: tuple[Period, ...]
    notes: tuple[str, ...] = ()
    gemeente_name: str = ""
    rounding: tuple[tuple[int, Rounding], ...] = ((0, "half-away"),)

    @property
    def methods(self) -> dict[str, str]:
        first = self.trend_periods[0].key if self.trend_periods else "-"
        return {"verschil": BINOMIAL_METHOD,
                "trend": f"{TREND_METHOD}, {first} t/m {self.period.key}",
                "kleine aantallen": self.rule.describe(),
                "afronding": self.rounding_text()}

    def rounding_text(self) -> str:
        modes = dict(self.rounding)
        words = {"half-away": "afgerond op hele procenten",
                 "truncate": "afgekapt op hele procenten (naar nul)"}
        per = [f"{p.key}: {words[modes.get(k, modes[0])]}" for k, p in self.references]
        if len({modes.get(k, modes[0]) for k, _p in self.references} | {modes[0]}) == 1:
            return "Percentages " + words[modes[0]] + "."
        return "Percentages t.o.v. " + "; ".join(per) + "."

    def seed_layout(self, with_signals: bool = True) -> pd.DataFrame:
        """The table as printed in the source (one area): ``categorie, aantal_<ref1>,
        aantal_<target>, verschil_<target>_vs_<ref>...`` (+ significance columns named after
        their method). For several areas, ``gebied`` columns lead."""
        f = self.frame
        t = self.period.key
        cols: dict[str, object] = {}
        if self.level != "gemeente" or f["area_code"].nunique() > 1:
            cols["gebiedscode"] = f["area_code"].to_numpy()
            cols["gebied"] = f["area_name"].to_numpy()
        cols["categorie"] = f["label"].to_numpy()
        refs = list(self.references)
        if refs:
            k0, p0 = refs[0]
            cols[f"aantal_{p0.key}"] = f[f"count_{k0}y"].to_numpy()
        cols[f"aantal_{t}"] = f["count"].to_numpy()
        for k, p in refs:
            cols[f"verschil_{t}_vs_{p.key}"] = f[f"change_{k}y_text"].to_numpy()
        if with_signals:
            for k, p in refs:
                cols[f"binomiaaltoets_{t}_vs_{p.key}"] = f[f"signal_{k}y"].to_numpy()
            if self.trend_periods:
                cols[f"mann_kendall_trend_{self.trend_periods[0].key}_{t}"] = \
                    f["trend_signal"].to_numpy()
        return pd.DataFrame(cols)


def compare(
    incidents: pd.DataFrame,
    period: Period | str,
    *,
    areas: Areas | None = None,
    level: Level = "gemeente",
    rows: str | Iterable[str] = SEED_ROWS,
    years_back: Sequence[int] = (1, 5),
    rule: LowCountRule | None = None,
    alpha: float = 0.05,
    trend_years: int = 5,
    coverage: tuple[pd.Timestamp, pd.Timestamp] | Literal["auto"] | None = "auto",
    rounding: str | Mapping[int, str] | None = None,
) -> Comparison:
    """The comparison table of ``period`` against the same period ``years_back`` years earlier
    (default 1 and 5, as in the source), per area of ``level``, with the low-count rule and the
    significance signals. ``coverage`` = the (start, end) the data covers; ``"auto"`` takes the
    days of the first and last incident (``data_range``). ``rounding``: ``half-away``
    (default), ``truncate`` or per comparison, e.g. ``SEED_ROUNDING`` (see ``parse_rounding``)."""
    period = Period.parse(period) if isinstance(period, str) else period
    rule = rule or LowCountRule()
    if not 0 < alpha < 1:
        raise InvalidInput(f"alpha moet tussen 0 en 1 liggen, niet {alpha}", where="alpha")
    ks = sorted({int(k) for k in years_back})
    if any(k <= 0 for k in ks):
        raise InvalidInput("vergelijk alleen met eerdere jaren (positieve aantallen jaren)",
                           where="comparison")
    row_keys = resolve_rows(rows)
    round_modes = parse_rounding(rounding)
    cov = data_range(incidents) if coverage == "auto" else coverage
    check_covered(period, cov)
    prep = _prepare(incidents, level, areas)
    notes: list[str] = []
    c = _PeriodCounts.collect(prep, _membership(row_keys), cov, period, ks, trend_years, notes)

    n_a = len(prep.codes)
    keep_unknown = any(m is not None and m[n_a].sum() > 0
                       for m in [c.target, *c.trend_mats, *(r[2] for r in c.refs)])
    n_keep = n_a + 1 if keep_unknown else n_a
    if keep_unknown:
        notes.append("Een deel van de incidenten ligt buiten de wijk- en buurtgrenzen; zij staan "
                     f"als '{UNKNOWN_AREA_NAME}' in de tabel.")
    n_r = len(row_keys)
    a_idx = np.repeat(np.arange(n_keep), n_r)
    r_idx = np.tile(np.arange(n_r), n_keep)
    rows_arr = np.asarray(row_keys, dtype=object)[r_idx]
    b = c.target[:n_keep].reshape(-1)
    frame = pd.DataFrame({
        "level": level,
        "area_code": np.asarray([*prep.codes, UNKNOWN_AREA_CODE][:n_keep], dtype=object)[a_idx],
        "area_name": np.asarray([*prep.names, UNKNOWN_AREA_NAME][:n_keep], dtype=object)[a_idx],
        "crime_type": rows_arr,
        "label": np.asarray([row_label(r) for r in row_keys], dtype=object)[r_idx],
        "count": b.astype(np.int64),
    })
    for k, p, m in c.refs:
        _add_reference(frame, k, None if m is None else m[:n_keep].reshape(-1), b, rows_arr,
                       share=period.days / (period.days + p.days), rule=rule, alpha=alpha,
                       rounding=round_modes.get(k, round_modes[0]))
    _add_trend(frame, [m[:n_keep].reshape(-1) for m in c.trend_mats], alpha, notes)
    _add_rates(frame, prep, a_idx, "count")
    return Comparison(
        frame=frame, period=period, references=tuple((k, p) for k, p, _ in c.refs),
        level=level, rule=rule, alpha=alpha, trend_periods=tuple(c.trend_periods),
        notes=tuple(notes), gemeente_name=areas.gemeente_name if areas is not None else "",
        rounding=tuple(sorted(round_modes.items())),
    )


# --- the steps of compare ---------------------------------------------------------------------
@dataclass(frozen=True)
class _PeriodCounts:
    """Counts (areas + 1 unknown) x rows of the target period, of the consecutive earlier years
    the data cover (``trend_periods``/``trend_mats``, oldest first, ending with the target)
    and of each reference ``(years back, period, counts or None when not covered)``."""

    target: np.ndarray
    trend_periods: list[Period]
    trend_mats: list[np.ndarray]
    refs: list[tuple[int, Period, np.ndarray | None]]

    @classmethod
    def collect(cls, prep: _Prepared, member: np.ndarray,
                cov: tuple[pd.Timestamp, pd.Timestamp] | None, period: Period,
                ks: list[int], trend_years: int, notes: list[str]) -> _PeriodCounts:
        def counts_for(p: Period) -> np.ndarray | None:
            if _coverage_of(p, cov) < 1 - COVERAGE_TOLERANCE:
                return None
            return _slug_counts(prep, p) @ member  # (A+1, R)

        target = counts_for(period)
        assert target is not None
        # trend: consecutive earlier years covered by the data
        trend_periods = [period]
        trend_mats = [target]
        for k in range(1, max(trend_years, 0) + 1):
            p = period.shift(-k)
            m = counts_for(p)
            if m is None:
                break
            trend_periods.insert(0, p)
            trend_mats.insert(0, m)
        refs: list[tuple[int, Period, np.ndarray | None]] = []
        for k in ks:
            p = period.shift(-k)
            m = counts_for(p)
            if m is None:
                notes.append(f"Vergelijking met {p.label}: geen gegevens, want {p.label} valt "
                             f"(deels) buiten de gegevens ({_range_text(cov)}).")
            refs.append((k, p, m))
        return cls(target, trend_periods, trend_mats, refs)


def _add_reference(frame: pd.DataFrame, k: int, a: np.ndarray | None, b: np.ndarray,
                   rows_arr: np.ndarray, *, share: float, rule: LowCountRule, alpha: float,
                   rounding: Rounding) -> None:
    """The columns of the comparison with ``k`` years back (counts ``a``, target ``b``;
    ``a`` None = the data do not cover that period). ``share``: the target period's share of
    the days of both periods (the binomial test's null)."""
    if a is None:
        frame[f"count_{k}y"] = pd.array([pd.NA] * len(frame), dtype="Int64")
        frame[f"change_{k}y"] = np.nan
        frame[f"change_{k}y_text"] = "geen gegevens"
        frame[f"suppressed_{k}y"] = False
        frame[f"p_{k}y"] = np.nan
        frame[f"signal_{k}y"] = "geen gegevens"
        return
    change = percent_change(a, b)
    suppressed = rule.apply(rows_arr, k, a, b)
    text = np.where(np.isfinite(change),
                    [format_percent(c, rounding) if np.isfinite(c) else "" for c in change],
                    "n.v.t.")
    text = np.where(suppressed, rule.symbol, text)
    pv = binomial_test(a, b, share)
    frame[f"count_{k}y"] = pd.array(a, dtype="Int64")
    frame[f"change_{k}y"] = change
    frame[f"change_{k}y_text"] = text
    frame[f"suppressed_{k}y"] = suppressed
    frame[f"p_{k}y"] = pv
    frame[f"signal_{k}y"] = [_signal_text(pp, bb - aa, alpha)
                             for pp, aa, bb in zip(pv, a, b, strict=True)]


def _add_trend(frame: pd.DataFrame, yearly: list[np.ndarray], alpha: float,
               notes: list[str]) -> None:
    """The Mann-Kendall trend columns over the ``yearly`` counts (oldest first)."""
    series = np.stack(yearly, axis=1)
    n_pts = series.shape[1]
    if n_pts >= MIN_TREND_YEARS:
        s, pt = mann_kendall(series)
    else:
        s, pt = np.full(len(frame), np.nan), np.full(len(frame), np.nan)
        notes.append(f"Trendtoets niet mogelijk: te weinig jaren ({n_pts} jaar gegevens, "
                     f"minimaal {MIN_TREND_YEARS} nodig).")
    frame["trend_s"] = s
    frame["trend_p"] = pt
    frame["trend_signal"] = [_trend_text(pp, ss, alpha, n_pts) for pp, ss in zip(pt, s,
                                                                                   strict=True)]
    frame["trend_points"] = n_pts


# --------------------------------------------------------------------------------------------
# Map-ready data and the yearly evaluation bundle
# --------------------------------------------------------------------------------------------
def area_layer(comparison: Comparison, areas: Areas, row: str = "hic") -> gpd.GeoDataFrame:
    """The areas of the comparison's level as a GeoDataFrame (EPSG:28992) with the statistics
    of ``row`` as properties: ``count``, ``count_{k}y``, ``change_{k}y``, ``change_{k}y_text``,
    ``signal_{k}y``, ``p_{k}y``, ``trend_signal`` (+ rates). Ready for the API and maps."""
    row = resolve_rows([row])[0]
    f = comparison.frame
    if row not in set(f["crime_type"]):
        raise InvalidInput(f"{row_label(row)} staat niet in deze tabel", where="crime_type")
    sub = f[f["crime_type"] == row].drop(columns=["level", "area_name"])
    layer = areas.layer(comparison.level)  # type: ignore[arg-type]
    out = layer.merge(sub, left_on="code", right_on="area_code", how="left").drop(
        columns="area_code")
    out["period"] = comparison.period.key
    return gpd.GeoDataFrame(out, geometry="geometry", crs=layer.crs)


def map_layers(incidents: pd.DataFrame, areas: Areas, period: Period | str, *,
               row: str = "hic", **kwargs: object) -> dict[str, gpd.GeoDataFrame]:
    """``{"wijk": ..., "buurt": ...}`` area layers with the statistics of ``row``."""
    return {lvl: area_layer(compare(incidents, period, areas=areas, level=lvl,
                                    rows=(row,), **kwargs), areas, row)  # type: ignore[arg-type]
            for lvl in ("wijk", "buurt")}


@dataclass(frozen=True)
class Evaluation:
    """Everything the yearly report shows (``report.render_html`` draws it)."""

    gemeente: Comparison
    wijken: Comparison | None
    extra: tuple[Comparison, ...]
    yearly: pd.DataFrame  # rows x the same period in earlier years (gemeente), see period_series
    hic_wijken: gpd.GeoDataFrame | None


def yearly_counts(incidents: pd.DataFrame, years: Iterable[int], *,
                  rows: str | Iterable[str] = SEED_ROWS,
                  coverage: tuple[pd.Timestamp, pd.Timestamp] | Literal["auto"] | None = "auto",
                  ) -> pd.DataFrame:
    """Gemeente counts per row (index: row key) x year (columns), only years fully covered by
    the data (others are left out, never shown as zero)."""
    cov = data_range(incidents) if coverage == "auto" else coverage
    ps = [Period.of_year(y) for y in years]
    ps = [p for p in ps if _coverage_of(p, cov) >= 1 - COVERAGE_TOLERANCE]
    row_keys = resolve_rows(rows)
    if not ps:
        return pd.DataFrame(index=pd.Index(row_keys, name="crime_type"))
    long = count_incidents(incidents, ps, rows=row_keys)
    table = long.pivot(index="crime_type", columns="period", values="count")
    return table.reindex(row_keys)


def period_series(incidents: pd.DataFrame, period: Period | str, *,
                  rows: str | Iterable[str] = SEED_ROWS, max_years: int = YEARLY_MAX_YEARS,
                  coverage: tuple[pd.Timestamp, pd.Timestamp] | Literal["auto"] | None = "auto",
                  ) -> pd.DataFrame:
    """Gemeente counts per row (index) of ``period`` and the same period in the consecutive
    earlier years the data cover (columns, oldest first, at most ``max_years`` back): e.g.
    2012..2017 for 2017, or 2013-Q1..2018-Q1 for 2018-Q1."""
    period = Period.parse(period) if isinstance(period, str) else period
    cov = data_range(incidents) if coverage == "auto" else coverage
    check_covered(period, cov)
    ps = [period]
    for k in range(1, max_years + 1):
        p = period.shift(-k)
        if _coverage_of(p, cov) < 1 - COVERAGE_TOLERANCE:
            break
        ps.insert(0, p)
    row_keys = resolve_rows(rows)
    long = count_incidents(incidents, ps, rows=row_keys)
    table = long.pivot(index="crime_type", columns="period", values="count")
    return table.reindex(index=list(row_keys), columns=[p.key for p in ps])


def evaluation(
    incidents: pd.DataFrame,
    areas: Areas,
    period: Period | str,
    *,
    extra_periods: Sequence[Period | str] = (),
    rows: str | Iterable[str] = SEED_ROWS,
    years_back: Sequence[int] = (1, 5),
    rule: LowCountRule | None = None,
    alpha: float = 0.05,
    coverage: tuple[pd.Timestamp, pd.Timestamp] | Literal["auto"] | None = "auto",
    rounding: str | Mapping[int, str] | None = None,
) -> Evaluation:
    """The yearly evaluation: the gemeente table, the per-wijk tables, extra comparisons (e.g. a
    quarter), the yearly series and the wijk map of the change in HIC."""
    period = Period.parse(period) if isinstance(period, str) else period
    cov = data_range(incidents) if coverage == "auto" else coverage
    kw = {"years_back": years_back, "rule": rule, "alpha": alpha, "coverage": cov,
          "rounding": rounding}
    rows = resolve_rows(rows)
    gem = compare(incidents, period, areas=areas, level="gemeente", rows=rows, **kw)  # type: ignore[arg-type]
    wijk_rows = rows if "hic" in rows else (*rows, "hic")
    wijken = compare(incidents, period, areas=areas, level="wijk", rows=wijk_rows, **kw)  # type: ignore[arg-type]
    extra = tuple(compare(incidents, p, areas=areas, level="gemeente", rows=rows, **kw)  # type: ignore[arg-type]
                  for p in extra_periods)
    yearly = period_series(incidents, period, rows=rows, coverage=cov)
    hic = area_layer(wijken, areas, "hic")
    return Evaluation(gemeente=gem, wijken=wijken, extra=extra, yearly=yearly, hic_wijken=hic)

