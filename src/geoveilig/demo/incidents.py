"""Synthetic incidents for Helmond, 2012 to the first quarter of 2018.

THESE INCIDENTS ARE SYNTHETIC. They are generated, not registered by anyone; ids start with
``DEMO-``. Only the yearly totals per category are real: for 2016 and 2017 they equal the
table of the municipality's evaluation of the Aanvalsplan Veiligheid (chapter 2), and 2012
counts reproduce its printed 5-year changes. Years in between are interpolated (woninginbraak
2015 follows the document's "-28% in 2016"); Q1 2018 is a quarter of 2017 with a further fall
in burglaries, as the document mentions. Everything else — where, when, how clustered — is an
illustration of plausible structure:

- burglaries (woninginbraak, schuur/garagebox) in residential buurten, a share of them as
  near-repeats (within ~100 m and a few weeks of an earlier one), more in autumn and winter
  evenings, each with a from/to window (found later) whose midpoint is the analysis moment;
  an elevated level in the Annabuurt (Annawijk) in 2017, where the alarm systems went;
- shop theft and pickpocketing around the centre and the shopping centres;
- bicycle theft around the station and the centre;
- street robberies concentrated along one footpath in 2016 (the document names the
  Sjef de Kimpepad; its position here is illustrative, not surveyed), falling in 2017;
- violence around the centre on weekend nights;
- seasonality by month, weekday and hour per category.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import RD_NEW, TIMEZONE, safecsv
from ..areas import Areas
from ..crimetypes import SLUGS, TOTAL_SLUG, resolve
from ..times import local_series

YEARS = (2012, 2013, 2014, 2015, 2016, 2017)
LAST_DAY = pd.Timestamp("2018-03-31 23:59:59", tz=TIMEZONE)


@dataclass(frozen=True)
class SeedRow:
    slug: str
    count_2016: int
    count_2017: int
    change_1y: int | None  # printed % change 2017 vs 2016 (None = "-*")
    change_5y: int | None  # printed % change 2017 vs 2012


def read_seed_table(path: str | Path) -> list[SeedRow]:
    """Read the seed CSV (``helmond_misdrijven_2012_2016_2017.csv``)."""
    def pct(text: str) -> int | None:
        text = text.strip()
        return None if text.startswith("-*") else int(text.rstrip("%"))

    rows = []
    with open(path, encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            label = rec["categorie"].strip()
            slug = TOTAL_SLUG if label.startswith("Totaal") else resolve(label)
            rows.append(SeedRow(slug, int(rec["aantal_2016"]), int(rec["aantal_2017"]),
                                pct(rec["verschil_2017_vs_2016"]),
                                pct(rec["verschil_2017_vs_2012"])))
    return rows


#: The seed table as printed (kept in code so the generator runs without ../shared).
SEED: tuple[SeedRow, ...] = (
    SeedRow("totaal", 5272, 4531, -14, -30),
    SeedRow("woninginbraak", 374, 398, 6, -15),
    SeedRow("openlijk-geweld", 26, 39, 50, 11),
    SeedRow("vernieling", 577, 606, 5, -29),
    SeedRow("fietsendiefstal", 1030, 576, -44, -50),
    SeedRow("inbraak-bedrijf", 142, 156, 10, -13),
    SeedRow("zedenmisdrijf", 57, 66, 16, 17),
    SeedRow("bedreiging", 313, 275, -12, 8),
    SeedRow("mishandeling", 360, 324, -10, -18),
    SeedRow("diefstal-motorvoertuig", 74, 57, -23, -43),
    SeedRow("diefstal-bromfiets", 94, 71, -24, -42),
    SeedRow("diefstal-uit-motorvoertuig", 362, 308, -15, -57),
    SeedRow("winkeldiefstal", 280, 282, None, 8),
    SeedRow("inbraak-schuur-garage", 155, 136, -12, -48),
    SeedRow("straatroof", 24, 4, -83, -84),
    SeedRow("overval", 5, 11, None, None),
    SeedRow("zakkenrollerij", 70, 76, 9, -52),
)

#: Overvallen 2012 is not printed ("-*"); this is an assumption of the demo.
OVERVAL_2012 = 8


def count_from_change(later: int, pct: int) -> int:
    """The earlier count, nearest to ``later / (1 + pct/100)``, whose change prints as
    ``pct``: preferably both when rounded half away from zero and when truncated toward zero.
    Where no count satisfies both, a count whose truncated change is ``pct`` is taken: the
    seed's Zedenmisdrijven (66 in 2017, +17% on 2012) has no integer 2012 count that rounds to
    17% (56 gives +17.9%, 57 gives +15.8%), so the printed 5-year column is only reproducible
    as truncated percentages (see the report's rounding setting)."""
    import math

    guess = later / (1 + pct / 100)
    candidates = [n for n in (round(guess) + d for d in sorted(range(-60, 61), key=abs)) if n > 0]

    def rounded(n: int) -> int:
        v = (later / n - 1) * 100
        return math.floor(abs(v) + 0.5) * (1 if v >= 0 else -1)

    def truncated(n: int) -> int:
        return math.trunc((later / n - 1) * 100)

    tests: list[Callable[[int], bool]] = [
        lambda n: rounded(n) == pct and truncated(n) == pct,
        lambda n: truncated(n) == pct,
        lambda n: rounded(n) == pct]
    for test in tests:
        for n in candidates:
            if test(n):
                return n
    raise ValueError(f"no count reproduces {pct}% for {later}")


def yearly_counts(seed: tuple[SeedRow, ...] = SEED) -> pd.DataFrame:
    """Counts per category (rows, SLUGS order incl. ``overig``) and year (2012-2017), plus
    ``2018Q1``. The total row of the seed is met through ``overig``."""
    by = {r.slug: r for r in seed}
    counts: dict[str, dict[object, int]] = {}
    for slug in SLUGS:
        if slug == "overig":
            continue
        r = by[slug]
        c2012 = OVERVAL_2012 if r.change_5y is None else count_from_change(r.count_2017,
                                                                          r.change_5y)
        row: dict[object, int] = {2012: c2012, 2016: r.count_2016, 2017: r.count_2017}
        anchor_year, anchor = 2012, c2012
        if slug == "woninginbraak":  # the document: -28% in 2016 after 2015
            row[2015] = count_from_change(r.count_2016, -28)
        for y in (2013, 2014, 2015):
            if y in row:
                continue
            end_year = 2015 if 2015 in row and y < 2015 else 2016
            end = row[end_year]
            frac = (y - anchor_year) / (end_year - anchor_year)
            row[y] = round(anchor * (end / anchor) ** frac)
        counts[slug] = row
    total = by[TOTAL_SLUG]
    total_2012 = count_from_change(total.count_2017, total.change_5y or 0)
    totals = {2012: total_2012, 2016: total.count_2016, 2017: total.count_2017}
    for y in (2013, 2014, 2015):
        totals[y] = round(total_2012 * (total.count_2016 / total_2012) ** ((y - 2012) / 4))
    counts["overig"] = {y: totals[y] - sum(counts[s][y] for s in counts) for y in YEARS}
    frame = pd.DataFrame(counts).T.reindex(SLUGS)[list(YEARS)]
    frame["2018Q1"] = [round(frame.loc[s, 2017] * _q1_share(s) * Q1_2018_CHANGE.get(s, 0.95))
                       for s in frame.index]
    if (frame < 0).any().any():
        raise ValueError("negative demo count; check the seed table")
    return frame.astype(int)


#: Q1 2018 against Q1 2017 (expected counts). The document (chapter 2, "Eerste kwartaal
#: 2018"): crime fell further, most for woninginbraak, fietsendiefstal, violence and threats;
#: vehicle crime rose slightly. The factors are the demo's assumption; the document gives none.
Q1_2018_CHANGE = {
    "woninginbraak": 0.75, "fietsendiefstal": 0.75, "openlijk-geweld": 0.8,
    "mishandeling": 0.8, "bedreiging": 0.8, "zedenmisdrijf": 0.9,
    "diefstal-motorvoertuig": 1.1, "diefstal-uit-motorvoertuig": 1.08,
    "diefstal-bromfiets": 1.08,
}


def _q1_share(slug: str) -> float:
    """Expected share of a year's incidents of this category that fall in January-March,
    from its month and weekday profile (2017 calendar)."""
    month_p, wd_p, _ = _TIME_PROFILE.get(slug, ("flat", "flat", "day"))
    days = pd.date_range("2017-01-01", "2017-12-31", freq="D")
    w = (np.asarray(_MONTH[month_p])[days.month - 1]
         * np.asarray(_WEEKDAY[wd_p], dtype=float)[days.day_of_week])
    return float(w[days.month <= 3].sum() / w.sum())


# --- space -----------------------------------------------------------------------------------

#: Buurten with few dwellings (industry, rural, recreation): low residential weight.
NON_RESIDENTIAL = {
    "BU07942901": 0.05, "BU07942902": 0.1, "BU07941809": 0.2, "BU07941709": 0.25,
    "BU07941309": 0.3, "BU07941409": 0.3, "BU07941909": 0.3, "BU07941609": 0.35,
    "BU07941000": 0.6, "BU07941004": 0.5,
}
INDUSTRIAL = {"BU07942901": 6.0, "BU07942902": 6.0, "BU07941809": 2.0, "BU07941000": 2.0}
ANNABUURT = "BU07941006"
CENTRUM = "BU07941000"
STATION = "BU07941004"
SHOPPING = ("BU07941000", "BU07942101", "BU07941300", "BU07941400", "BU07941802")


def residential_weights(areas: Areas) -> pd.Series:
    """Relative weight of each buurt as a place where people live (area capped at 1 km²)."""
    b = areas.buurten.set_index("code")
    w = np.minimum(b.geometry.area / 1e6, 1.0)
    return w * pd.Series(NON_RESIDENTIAL).reindex(b.index).fillna(1.0)


class _Space:
    def __init__(self, areas: Areas, rng: np.random.Generator) -> None:
        self.areas = areas
        self.rng = rng
        self.b = areas.buurten.set_index("code")
        self.anchor = {c: shapely.get_coordinates(g.representative_point())[0]
                       for c, g in self.b.geometry.items()}
        # An illustrative footpath (the document's Sjef de Kimpepad): 600 m through
        # Helmond-West/Binnenstad. NOT its surveyed position. (Other gemeenten: none.)
        self.path: shapely.LineString | None = None
        if "BU07941500" in self.anchor and "BU07941005" in self.anchor:
            start = self.anchor["BU07941500"]
            end = self.anchor["BU07941005"]
            self.path = shapely.LineString([start, start + 0.5 * (end - start)])

    def inside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self.areas.buurt_index.lookup(x, y) >= 0

    def uniform_in_buurten(self, weights: pd.Series, n: int) -> np.ndarray:
        out = np.empty((n, 2))
        if n == 0:
            return out
        p = (weights / weights.sum()).reindex(self.b.index).fillna(0.0)
        which = self.rng.choice(len(p), size=n, p=p.to_numpy())
        for k in np.unique(which):
            idx = np.flatnonzero(which == k)
            geom = self.b.geometry.iloc[k]
            xmin, ymin, xmax, ymax = geom.bounds
            got = np.empty((0, 2))
            while len(got) < len(idx):
                m = 4 * (len(idx) - len(got)) + 8
                cand = np.column_stack([self.rng.uniform(xmin, xmax, m),
                                        self.rng.uniform(ymin, ymax, m)])
                got = np.vstack([got, cand[shapely.contains_xy(geom, cand[:, 0], cand[:, 1])]])
            out[idx] = got[: len(idx)]
        return out

    def around(self, centres: np.ndarray, sigma: float) -> np.ndarray:
        """One point near each centre (Gaussian, sigma metres), redrawn until inside a buurt."""
        centres = np.atleast_2d(centres)
        out = centres + self.rng.normal(0, sigma, centres.shape)
        bad = ~self.inside(out[:, 0], out[:, 1])
        tries = 0
        while bad.any():
            tries += 1
            scale = sigma if tries < 20 else sigma / tries
            out[bad] = centres[bad] + self.rng.normal(0, scale, (int(bad.sum()), 2))
            bad = ~self.inside(out[:, 0], out[:, 1])
            if tries > 200:  # centre itself outside: fall back to the nearest buurt anchor
                out[bad] = self.anchor[CENTRUM]
                break
        return out

    def near(self, code_weights: dict[str, float], n: int, sigma: float) -> np.ndarray:
        codes = list(code_weights)
        p = np.array([code_weights[c] for c in codes], dtype=float)
        which = self.rng.choice(len(codes), size=n, p=p / p.sum())
        centres = np.array([self.anchor[codes[i]] for i in which]).reshape(n, 2)
        return self.around(centres, sigma)

    def along_path(self, n: int, sigma: float = 25.0) -> np.ndarray:
        assert self.path is not None, "Helmond's footpath only"
        pos = shapely.line_interpolate_point(self.path, self.rng.uniform(0, 1, n),
                                             normalized=True)
        return self.around(shapely.get_coordinates(pos), sigma)


# --- time ------------------------------------------------------------------------------------

_MONTH = {
    "burglary": [1.3, 1.1, 0.9, 0.8, 0.7, 0.7, 0.8, 0.8, 0.9, 1.2, 1.4, 1.5],
    "bicycle": [0.7, 0.7, 0.9, 1.0, 1.1, 1.1, 1.1, 1.1, 1.3, 1.1, 1.0, 0.8],
    "flat": [1.0] * 12,
    "violence": [0.9, 0.9, 1.0, 1.0, 1.1, 1.1, 1.1, 1.0, 1.0, 1.0, 0.9, 1.1],
}
_WEEKDAY = {  # Monday .. Sunday
    "flat": [1, 1, 1, 1, 1, 1, 1],
    "weekend": [0.8, 0.8, 0.8, 0.9, 1.2, 1.6, 1.4],
    "shopping": [0.9, 1.0, 1.0, 1.0, 1.2, 1.5, 0.5],
}
_HOUR = {
    "evening": [2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 5, 5, 5, 5, 6, 7, 9, 11, 12, 12, 10, 8, 5, 3],
    "day": [1, 1, 1, 1, 1, 2, 4, 7, 9, 10, 10, 10, 10, 10, 10, 10, 10, 9, 8, 6, 4, 3, 2, 1],
    "night": [9, 8, 6, 4, 2, 1, 1, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 5, 6, 7, 8, 9, 10, 11],
    "shop": [0, 0, 0, 0, 0, 0, 0, 0, 1, 5, 8, 9, 10, 10, 10, 10, 10, 9, 6, 3, 1, 0, 0, 0],
}

#: Per category: month profile, weekday profile, hour profile.
_TIME_PROFILE = {
    "woninginbraak": ("burglary", "flat", "evening"),
    "inbraak-schuur-garage": ("burglary", "flat", "night"),
    "inbraak-bedrijf": ("flat", "weekend", "night"),
    "openlijk-geweld": ("violence", "weekend", "night"),
    "mishandeling": ("violence", "weekend", "night"),
    "bedreiging": ("flat", "flat", "day"),
    "zedenmisdrijf": ("flat", "weekend", "night"),
    "straatroof": ("burglary", "weekend", "evening"),
    "overval": ("burglary", "flat", "evening"),
    "fietsendiefstal": ("bicycle", "flat", "day"),
    "winkeldiefstal": ("flat", "shopping", "shop"),
    "zakkenrollerij": ("flat", "shopping", "shop"),
    "vernieling": ("flat", "weekend", "night"),
}


def _times(slug: str, start: pd.Timestamp, end: pd.Timestamp, n: int,
           rng: np.random.Generator) -> pd.DatetimeIndex:
    month_p, wd_p, hour_p = _TIME_PROFILE.get(slug, ("flat", "flat", "day"))
    days = pd.date_range(start.normalize(), end.normalize(), freq="D")
    w = (np.asarray(_MONTH[month_p])[days.month - 1]
         * np.asarray(_WEEKDAY[wd_p], dtype=float)[days.day_of_week])
    day = days[rng.choice(len(days), size=n, p=w / w.sum())]
    hp = np.asarray(_HOUR[hour_p], dtype=float) + 0.2
    hour = rng.choice(24, size=n, p=hp / hp.sum())
    seconds = hour * 3600 + rng.integers(0, 3600, size=n)
    naive = pd.DatetimeIndex(day.tz_localize(None)) + pd.to_timedelta(seconds, unit="s")
    return pd.DatetimeIndex(local_series(naive)).as_unit("ns")


# --- the generator ---------------------------------------------------------------------------

def _locations(slug: str, year: int, n: int, space: _Space, rng: np.random.Generator,
               times: pd.DatetimeIndex) -> tuple[np.ndarray, pd.DatetimeIndex]:
    xy = _places(slug, year, n, space, rng, times)
    if isinstance(xy, tuple):
        return xy
    return xy, times


def _with_near_repeats(w: pd.Series, n: int, space: _Space, rng: np.random.Generator,
                       times: pd.DatetimeIndex) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """Burglaries: base events in buurten by weight ``w``, then near-repeats ~100 m from an
    earlier event, days to weeks later."""
    n_repeat = round(0.35 * n) if n >= 4 else 0
    n_base = n - n_repeat
    xy = np.empty((n, 2))
    xy[:n_base] = space.uniform_in_buurten(w, n_base)
    if n_repeat:
        parents = rng.integers(0, n_base, size=n_repeat)
        xy[n_base:] = space.around(xy[parents], 100.0)
        t = times.asi8.copy()
        end_ns = t.max() if len(t) else 0
        delay = (rng.exponential(7.0, n_repeat) * 86400e9).astype(np.int64)
        later = t[parents] + delay
        room = np.maximum(end_ns - t[parents], 0)
        over = later > end_ns
        later[over] = t[parents][over] + (rng.random(int(over.sum())) * room[over]).astype(
            np.int64)
        t[n_base:] = later
        times = pd.DatetimeIndex(t.astype("datetime64[ns]")).tz_localize("UTC").tz_convert(
            times.tz).as_unit("ns")
    return xy, times


def _places(slug: str, year: int, n: int, space: _Space, rng: np.random.Generator,
            times: pd.DatetimeIndex) -> np.ndarray | tuple[np.ndarray, pd.DatetimeIndex]:
    res = residential_weights(space.areas)
    if n == 0:
        return np.empty((0, 2))
    if slug in ("woninginbraak", "inbraak-schuur-garage"):
        w = res.copy()
        if year == 2017 and slug == "woninginbraak":
            w[ANNABUURT] *= 6.0
        return _with_near_repeats(w, n, space, rng, times)
    if slug == "fietsendiefstal":
        kind = rng.choice(3, size=n, p=[0.5, 0.25, 0.25])
        xy = np.empty((n, 2))
        xy[kind == 0] = space.near({STATION: 1}, int((kind == 0).sum()), 180)
        xy[kind == 1] = space.near({CENTRUM: 1}, int((kind == 1).sum()), 250)
        xy[kind == 2] = space.uniform_in_buurten(res, int((kind == 2).sum()))
        return xy
    if slug in ("winkeldiefstal", "zakkenrollerij", "overval"):
        weights = {CENTRUM: 6.0, "BU07942101": 1.5, "BU07941300": 1.2, "BU07941400": 0.8,
                   "BU07941802": 0.8, STATION: 1.0}
        return space.near(weights, n, 150 if slug != "overval" else 400)
    if slug == "straatroof":
        path_share = {2012: 0.2, 2013: 0.25, 2014: 0.35, 2015: 0.5, 2016: 0.65}.get(year, 0.0)
        k = rng.random(n) < path_share
        xy = np.empty((n, 2))
        xy[k] = space.along_path(int(k.sum()))
        xy[~k] = space.near({CENTRUM: 2, STATION: 1, "BU07941500": 1}, int((~k).sum()), 400)
        return xy
    if slug in ("openlijk-geweld", "mishandeling"):
        k = rng.random(n) < 0.4
        xy = np.empty((n, 2))
        xy[k] = space.near({CENTRUM: 1}, int(k.sum()), 200)
        xy[~k] = space.uniform_in_buurten(res, int((~k).sum()))
        return xy
    if slug == "inbraak-bedrijf":
        w = pd.Series(INDUSTRIAL).reindex(res.index).fillna(0.3) * np.maximum(
            space.b.geometry.area / 1e6, 0.2)
        return space.uniform_in_buurten(w, n)
    if slug in ("diefstal-motorvoertuig", "diefstal-uit-motorvoertuig", "diefstal-bromfiets"):
        k = rng.random(n) < 0.2
        xy = np.empty((n, 2))
        xy[k] = space.near({STATION: 1, CENTRUM: 1}, int(k.sum()), 300)
        xy[~k] = space.uniform_in_buurten(res, int((~k).sum()))
        return xy
    # vernieling, bedreiging, zedenmisdrijf, overig: where people live, a bit more downtown
    k = rng.random(n) < 0.15
    xy = np.empty((n, 2))
    xy[k] = space.near({CENTRUM: 1}, int(k.sum()), 300)
    xy[~k] = space.uniform_in_buurten(res, int((~k).sum()))
    return xy


def generate_incidents(areas: Areas, seed: int = 42) -> gpd.GeoDataFrame:
    """The synthetic demo incidents (see the module docstring), as the incident GeoDataFrame
    the store returns, with ``buurt_code``/``wijk_code`` assigned. Reproducible per seed."""
    rng = np.random.default_rng(seed)
    space = _Space(areas, rng)
    return _generate(areas, rng, space, yearly_counts(), _locations, "DEMO-")


#: Helmond, whose demo follows the seed table; other gemeenten get ``generate_generic``
HELMOND = "GM0794"
#: Helmond's buurten in the boundaries of the seed year (2017): the scale of other gemeenten
HELMOND_BUURTEN = 44


def generic_counts(n_buurten: int) -> pd.DataFrame:
    """Demo counts of a gemeente other than Helmond: Helmond's (``yearly_counts``) scaled by
    its number of buurten against Helmond's 44, rounded (a category may round to 0)."""
    scaled = yearly_counts().astype(float) * (n_buurten / HELMOND_BUURTEN)
    return scaled.round().astype(int)


def _generic_locations(slug: str, year: int, n: int, space: _Space,
                       rng: np.random.Generator, times: pd.DatetimeIndex
                       ) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """Places in a gemeente the demo knows nothing about: in its buurten by area (capped at
    1 km², as where people live); burglaries with near-repeats, as in Helmond."""
    res = residential_weights(space.areas)
    if n == 0:
        return np.empty((0, 2)), times
    if slug in ("woninginbraak", "inbraak-schuur-garage"):
        return _with_near_repeats(res.copy(), n, space, rng, times)
    return space.uniform_in_buurten(res, n), times


def generate_generic(areas: Areas, seed: int = 42) -> gpd.GeoDataFrame:
    """SYNTHETIC demo incidents for one gemeente other than Helmond (``areas`` of that one
    gemeente): the same years, categories and time profiles as Helmond's, counts scaled by
    its number of buurten (``generic_counts``), places by buurt area with near-repeat
    burglaries. Ids ``DEMO-<GMcode>-<year>-<n>``. Reproducible per seed and gemeente (the
    random stream is seeded with both, so adding a gemeente changes no other's)."""
    (code,) = areas.gemeente_codes
    rng = np.random.default_rng([seed, int(code[2:])])
    space = _Space(areas, rng)
    return _generate(areas, rng, space, generic_counts(len(areas.buurten)),
                     _generic_locations, f"DEMO-{code}-")


def generate_for_gemeenten(areas: Areas, seed: int = 42) -> gpd.GeoDataFrame:
    """The demo incidents of every gemeente of ``areas``: Helmond's exactly as
    ``generate_incidents`` makes them (the seed figures), every other one
    ``generate_generic``. All SYNTHETIC."""
    frames = []
    for code in areas.gemeente_codes:
        one = areas.select(code)
        frames.append(generate_incidents(one, seed) if code == HELMOND
                      else generate_generic(one, seed))
    if len(frames) == 1:
        return frames[0]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry",
                            crs=RD_NEW)


Places = Callable[[str, int, int, "_Space", np.random.Generator, pd.DatetimeIndex],
                  tuple[np.ndarray, pd.DatetimeIndex]]


def _generate(areas: Areas, rng: np.random.Generator, space: _Space, counts: pd.DataFrame,
              places: Places, prefix: str) -> gpd.GeoDataFrame:
    frames = []
    periods: list[tuple[object, pd.Timestamp, pd.Timestamp, int]] = [
        (y, pd.Timestamp(f"{y}-01-01", tz=TIMEZONE),
         pd.Timestamp(f"{y}-12-31 23:59:59", tz=TIMEZONE), y) for y in YEARS]
    periods.append(("2018Q1", pd.Timestamp("2018-01-01", tz=TIMEZONE), LAST_DAY, 2018))
    for col, start, end, year in periods:
        for slug in SLUGS:
            n = int(counts.loc[slug, col])
            if n == 0:
                continue
            times = _times(slug, start, end, n, rng)
            # keep every time inside its period (DST shifts can push a second over)
            times = times.where(times <= end, end).where(times >= start, start).as_unit("ns")
            xy, times = places(slug, int(year), n, space, rng, times)
            times = times.tz_convert("UTC").floor("s").tz_convert(TIMEZONE)
            frm = to = pd.Series(pd.NaT, index=range(n), dtype=f"datetime64[ns, {TIMEZONE}]")
            if slug in ("woninginbraak", "inbraak-schuur-garage", "inbraak-bedrijf"):
                # found later: a window around the moment, midpoint = the moment
                half = rng.integers(1800, 5 * 3600, size=n) * 1_000_000_000
                room = np.minimum((times - start).asi8, (end - times).asi8)
                half2 = pd.to_timedelta(np.minimum(half, room), unit="ns")
                frm = pd.Series(times - half2)
                to = pd.Series(times + half2)
            frames.append(pd.DataFrame({
                "crime_type": slug,
                "occurred_at": times,
                "occurred_from": frm.to_numpy(),
                "occurred_to": to.to_numpy(),
                "x": np.round(xy[:, 0], 1),
                "y": np.round(xy[:, 1], 1),
            }))
    df = pd.concat(frames, ignore_index=True).sort_values("occurred_at", kind="stable",
                                                          ignore_index=True)
    for c in ("occurred_at", "occurred_from", "occurred_to"):
        df[c] = pd.to_datetime(df[c], utc=True).dt.tz_convert(TIMEZONE)
    years = df["occurred_at"].dt.year.astype(str)
    seq = df.groupby(years).cumcount() + 1
    df.insert(0, "incident_id", prefix + years + "-" + seq.map("{:06d}".format))
    df["address"] = None
    assigned = areas.assign(df["x"].to_numpy(), df["y"].to_numpy())
    df["buurt_code"] = assigned["buurt_code"].to_numpy()
    df["wijk_code"] = assigned["wijk_code"].to_numpy()
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["x"], df["y"]), crs=RD_NEW)


def to_csv(incidents: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write demo incidents as a Dutch police-style CSV (``;``, decimal commas) that
    ``geoveilig import`` reads. The file name and a column say the data is synthetic."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = "%Y-%m-%dT%H:%M:%S%z"
    out = pd.DataFrame({
        "registratienummer": incidents["incident_id"],
        "soort": incidents["crime_type"],
        "pleegdatum": incidents["occurred_at"].dt.strftime(fmt),
        "begindatum": incidents["occurred_from"].dt.strftime(fmt).fillna(""),
        "einddatum": incidents["occurred_to"].dt.strftime(fmt).fillna(""),
        "x": incidents["x"].map(lambda v: f"{v:.1f}".replace(".", ",")),
        "y": incidents["y"].map(lambda v: f"{v:.1f}".replace(".", ",")),
        "bron": "SYNTHETISCH (demo, geen echte incidenten)",
    })
    safecsv.to_csv(out, path, sep=";", index=False)
    return path
