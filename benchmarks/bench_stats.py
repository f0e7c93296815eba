"""Benchmark of geoveilig.stats against straightforward reference implementations.

1. Counts per buurt x ISO week x row (all categories + groups) over six years:
   ``stats.count_incidents`` (sorted times + searchsorted + bincount) vs a pandas reference
   (per-week boolean mask + groupby/crosstab), results checked equal.
2. Significance for every buurt x category: vectorised binomial test vs a loop over
   ``scipy.stats.binomtest``; vectorised exact Mann-Kendall vs a loop over
   ``scipy.stats.kendalltau``.

Run: ``GEOVEILIG_GEO_DIR=../shared/geo .venv/bin/python benchmarks/bench_stats.py [n]``.
Prints a table and one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).parent))
from _timing import best_of as timed
from tests.stats_data import make_incidents

from geoveilig import crimetypes as ct
from geoveilig import stats
from geoveilig.areas import load_areas


def reference_counts(inc: pd.DataFrame, periods: list[stats.Period], codes: list[str],
                     rows: tuple[str, ...]) -> np.ndarray:
    out = np.zeros((len(periods), len(codes), len(rows)), dtype=np.int64)
    t = inc["occurred_at"]
    for i, p in enumerate(periods):
        sub = inc[(t >= p.start) & (t < p.end)]
        tab = pd.crosstab(sub["buurt_code"], sub["crime_type"]).reindex(
            index=codes, columns=list(ct.SLUGS), fill_value=0)
        for j, r in enumerate(rows):
            out[i, :, j] = tab[list(ct.GROUPS.get(r, (r,)))].sum(axis=1).to_numpy()
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    geo = Path(os.environ.get("GEOVEILIG_GEO_DIR",
                              Path(__file__).resolve().parents[2] / "shared" / "geo"))
    areas = load_areas(geo, gemeente="GM0794")
    rng = np.random.default_rng(1)
    share = rng.dirichlet(np.ones(len(ct.SLUGS)))
    per_year = n // 6
    counts = {s: {y: int(per_year * share[i]) for y in range(2012, 2018)}
              for i, s in enumerate(ct.SLUGS)}
    inc = make_incidents(counts, areas, seed=2)
    weeks = stats.Period.between("2012-01-02", "2018-01-01").split("week")
    rows = stats.ALL_ROWS
    codes = list(areas.buurten["code"])

    t_ours, ours = timed(lambda: stats.count_incidents(inc, weeks, areas=areas, level="buurt",
                                                       rows=rows), repeat=3)
    t_ref, ref = timed(lambda: reference_counts(inc, weeks, codes, rows), repeat=1)
    got = ours["count"].to_numpy().reshape(len(codes), len(weeks), len(rows)).transpose(1, 0, 2)
    assert np.array_equal(got, ref), "counts differ from the reference"

    c = stats.compare(inc, "2017", areas=areas, level="buurt", rows=stats.SLUGS)
    a = c.frame["count_1y"].to_numpy(dtype=float)
    b = c.frame["count"].to_numpy(dtype=float)
    t_bin, p_ours = timed(lambda: stats.binomial_test(a, b, 0.5), repeat=3)
    t_bin_ref, p_ref = timed(lambda: np.array([sps.binomtest(int(y), int(x + y), 0.5).pvalue
                                               if x + y > 0 else 1.0
                                               for x, y in zip(a, b, strict=True)]), repeat=1)
    assert np.allclose(p_ours, p_ref, rtol=1e-6, atol=1e-12)

    series = np.stack([stats.count_incidents(inc, f"{y}", areas=areas, level="buurt",
                                             rows=stats.SLUGS)["count"].to_numpy()
                       for y in range(2012, 2018)], axis=1)
    t_mk, (_s, pm) = timed(lambda: stats.mann_kendall(series), repeat=3)
    t_mk_ref, pk = timed(lambda: np.array([
        sps.kendalltau(np.arange(6), r).pvalue if np.unique(r).size > 1 else 1.0
        for r in series]), repeat=1)
    no_ties = np.array([np.unique(r).size == 6 for r in series])
    assert np.allclose(pm[no_ties], pk[no_ties], rtol=1e-9)

    table = [
        ("counts buurt x ISO week x row", f"{len(inc):,} incidents, {len(weeks)} weeks",
         t_ours, t_ref),
        ("binomial test per buurt x category", f"{len(a):,} tests", t_bin, t_bin_ref),
        ("Mann-Kendall per buurt x category", f"{len(series):,} series of 6", t_mk, t_mk_ref),
    ]
    print(f"{'task':38} {'size':32} {'geoveilig s':>12} {'reference s':>12} {'speed-up':>9}")
    for name, size, ta, tb in table:
        print(f"{name:38} {size:32} {ta:12.4f} {tb:12.4f} {tb / ta:9.1f}")
    print(json.dumps({"bench": "stats", "incidents": len(inc), "weeks": len(weeks),
                      "results": [{"task": t[0], "ours_s": round(t[2], 4),
                                   "reference_s": round(t[3], 4)} for t in table],
                      "equal_to_reference": True}))


if __name__ == "__main__":
    main()
