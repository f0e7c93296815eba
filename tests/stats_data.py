"""Synthetic incident frames with exact, known counts for the stats and report tests."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geoveilig import crimetypes as ct

SEED_CSV = Path(__file__).resolve().parents[1].parent / "shared" / "seed" / \
    "helmond_misdrijven_2012_2016_2017.csv"

#: 2012 counts consistent with the printed 5-year change of the seed table (2012 is not
#: printed), the same as the demo's: each prints the source's percentage both rounded and
#: truncated, except Zedenmisdrijven, where no whole number gives 17% when rounded (56 -> +17.9%,
#: 57 -> +15.8%): the source's 5-year column is consistent with truncation only.
COUNTS_2012 = {
    "totaal": 6473, "woninginbraak": 469, "openlijk-geweld": 35, "vernieling": 854,
    "fietsendiefstal": 1152, "inbraak-bedrijf": 180, "zedenmisdrijf": 56, "bedreiging": 254,
    "mishandeling": 396, "diefstal-motorvoertuig": 100, "diefstal-bromfiets": 123,
    "diefstal-uit-motorvoertuig": 717, "winkeldiefstal": 261, "inbraak-schuur-garage": 262,
    "straatroof": 25, "overval": 8, "zakkenrollerij": 159,
}


def seed_table() -> pd.DataFrame:
    if not SEED_CSV.exists():
        from .conftest import missing_shared

        missing_shared(f"the seed table {SEED_CSV.name} is not in {SEED_CSV.parent} (it comes "
                       "with ../shared beside the repository)")
    return pd.read_csv(SEED_CSV, dtype=str)


def seed_counts() -> dict[str, dict[int, int]]:
    """Per category slug (incl. ``overig`` = total minus the printed categories): counts for
    2012..2017 (2013-2015 interpolated) with the seed's 2016/2017 and ``COUNTS_2012``."""
    lab2slug = {ct.BY_SLUG[s].label: s for s in ct.SLUGS}
    lab2slug[ct.TOTAL_LABEL] = "totaal"
    out: dict[str, dict[int, int]] = {}
    for r in seed_table().itertuples():
        slug = lab2slug[r.categorie]
        a, b, c = COUNTS_2012[slug], int(r.aantal_2016), int(r.aantal_2017)
        out[slug] = {2012: a, 2013: round(a + (b - a) / 4), 2014: round(a + (b - a) / 2),
                     2015: round(a + 3 * (b - a) / 4), 2016: b, 2017: c}
    total = out.pop("totaal")
    out["overig"] = {y: total[y] - sum(d[y] for d in out.values()) for y in total}
    return out


def make_incidents(counts: dict[str, dict[object, int]], areas, *, seed: int = 0,
                   wijk_weights: dict[str, float] | None = None,
                   unknown_share: float = 0.0) -> gpd.GeoDataFrame:
    """Incidents with exactly ``counts[slug][period]`` rows, where period is a year (int) or a
    ``(start, end)`` pair of date strings; spread uniformly in time and over the buurten (at
    each buurt's representative point). ``unknown_share``: fraction without buurt/wijk."""
    rng = np.random.default_rng(seed)
    buurten = areas.buurten
    w = np.ones(len(buurten))
    if wijk_weights:
        w = np.array([wijk_weights.get(c, 0.0) for c in buurten["wijk_code"]], dtype=float)
    w = w / w.sum()
    parts = []
    for slug, per in counts.items():
        for period, n in per.items():
            if n <= 0:
                continue
            lo, hi = (f"{period}-01-01", f"{period + 1}-01-01") if isinstance(period, int) \
                else period
            start = pd.Timestamp(lo, tz="Europe/Amsterdam").value
            end = pd.Timestamp(hi, tz="Europe/Amsterdam").value
            parts.append(pd.DataFrame({"crime_type": slug,
                                       "t": rng.integers(start, end, n, dtype=np.int64)}))
    df = pd.concat(parts, ignore_index=True)
    df["occurred_at"] = pd.to_datetime(df.pop("t"), utc=True).dt.tz_convert("Europe/Amsterdam")
    df["occurred_from"] = pd.NaT
    df["occurred_to"] = pd.NaT
    idx = rng.choice(len(buurten), len(df), p=w)
    pts = buurten.geometry.representative_point().to_numpy()[idx]
    df["x"] = [p.x for p in pts]
    df["y"] = [p.y for p in pts]
    df["buurt_code"] = buurten["code"].to_numpy(dtype=object)[idx]
    df["wijk_code"] = buurten["wijk_code"].to_numpy(dtype=object)[idx]
    if unknown_share > 0:
        lost = rng.random(len(df)) < unknown_share
        df.loc[lost, ["buurt_code", "wijk_code"]] = None
    df["address"] = None
    df["incident_id"] = [f"S{i:07d}" for i in range(len(df))]
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["x"], df["y"]), crs="EPSG:28992")
