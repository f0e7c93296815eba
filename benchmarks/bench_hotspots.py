"""Benchmarks of geoveilig.hotspots against reference implementations, side by side.

1. KDE on the Helmond 125 m grid (active cells) for 10k, 100k and 1M incidents: our linear
   binning + FFT KDE against scikit-learn ``KernelDensity`` evaluated exactly (rtol=atol=0) at
   the cell centres, same Gaussian bandwidth. Target: >= 100x faster at 100k, max difference
   <= 0.2% of the peak. At 1M the reference is evaluated at a seeded sample of cells and its
   time is scaled to all cells (marked "extrapolated"); the difference is measured on the sample.
2. Gi* on square grids of 10k and 100k cells (queen weights incl. the cell itself): our sparse
   implementation against ``esda.G_Local(y, w, transform="B", star=True, permutations=0)``
   with a libpysal W built from the same sparse matrix (W construction not timed). Target:
   z-scores equal to 1e-9, >= 10x faster.
3. A full rolling backtest (all methods, woninginbraak, 26 two-week origins) on the demo
   data (``geoveilig.demo.generate_incidents``), target < 60 s, with each method's PAI at 5%.

Run: ``GEOVEILIG_GEO_DIR=../shared/geo .venv/bin/python benchmarks/bench_hotspots.py``
(``--quick`` skips the 1M KDE point and the 100k Gi* reference). Prints a table and one JSON
line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).parent))
from _timing import best_of as timed

from geoveilig.areas import load_areas
from geoveilig.hotspots import as_events, backtest, gi_star, gi_star_z, kde_grid, make_grid

ROOT = Path(__file__).resolve().parents[1]
GEO = Path(os.environ.get("GEOVEILIG_GEO_DIR") or ROOT.parent / "shared" / "geo")
if not GEO.is_absolute():
    GEO = (ROOT / GEO).resolve()


def clustered_points(poly: shapely.Geometry, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """70% around 40 centres (σ 150-600 m), 30% uniform, inside the bounding box."""
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = poly.bounds
    k = int(n * 0.7)
    centres = np.c_[rng.uniform(xmin, xmax, 40), rng.uniform(ymin, ymax, 40)]
    which = rng.integers(0, 40, k)
    sig = rng.uniform(150, 600, 40)[which]
    cl = centres[which] + rng.normal(size=(k, 2)) * sig[:, None]
    un = np.c_[rng.uniform(xmin, xmax, n - k), rng.uniform(ymin, ymax, n - k)]
    xy = np.vstack([cl, un])
    return xy[:, 0], xy[:, 1]


def bench_kde(areas, quick: bool) -> list[dict]:  # type: ignore[no-untyped-def]
    from sklearn.neighbors import KernelDensity

    from geoveilig.hotspots.events import Events

    grid = make_grid(areas)
    poly = areas.gemeente.geometry.iloc[0]
    bw = 150.0
    centres = np.c_[grid.cx, grid.cy]
    rows = []
    for n in (10_000, 100_000) + (() if quick else (1_000_000,)):
        x, y = clustered_points(poly, n, seed=n)
        ev = Events(x, y, np.zeros(n, np.int64))
        t_ours, (dens, _) = timed(lambda ev=ev: kde_grid(ev, grid, bw), repeat=3)
        kd = KernelDensity(bandwidth=bw, kernel="gaussian", rtol=0, atol=0).fit(np.c_[x, y])
        if n >= 1_000_000:
            idx = np.sort(np.random.default_rng(0).choice(grid.n_cells, 300, replace=False))
            note = f"extrapolated from {idx.size} cells"
        else:
            idx = np.arange(grid.n_cells)
            note = "all cells"
        t_ref, logd = timed(lambda kd=kd, idx=idx: kd.score_samples(centres[idx]))
        ref = np.exp(logd) * n
        t_ref *= grid.n_cells / idx.size
        peak = ref.max() if idx.size == grid.n_cells else max(ref.max(), dens.max())
        diff = float(np.abs(dens[idx] - ref).max() / peak)
        rows.append({"bench": "kde", "n_points": n, "cells": grid.n_cells, "bandwidth_m": bw,
                     "ours_s": t_ours, "sklearn_s": t_ref, "speedup": t_ref / t_ours,
                     "max_diff_pct_of_peak": 100 * diff, "reference": note})
        print(f"KDE n={n:>9,}: ours {t_ours:8.4f} s  sklearn {t_ref:9.2f} s ({note})  "
              f"speed-up {t_ref / t_ours:9.0f}x  max diff {100 * diff:.4f}% of peak",
              flush=True)
    return rows


def bench_gistar(quick: bool) -> list[dict]:  # type: ignore[no-untyped-def]
    from esda.getisord import G_Local
    from libpysal.weights import WSP

    rows = []
    for side in (100, 317):
        box = shapely.box(0, 0, side * 100.0, side * 100.0)
        grid = make_grid(gpd.GeoSeries([box], crs="EPSG:28992"), 100.0)
        rng = np.random.default_rng(side)
        lam = 0.3 + 3 * np.exp(-((grid.cx - side * 50) ** 2 + (grid.cy - side * 30) ** 2)
                               / (2 * (side * 10) ** 2))
        y = rng.poisson(lam).astype(float)
        t_w, w = timed(grid.neighbours)
        t_ours, z = timed(lambda w=w, y=y: gi_star_z(y, w), repeat=5)
        t_full, _ = timed(lambda w=w, y=y: gi_star(y, w), repeat=3)
        if quick and grid.n_cells > 50_000:
            continue
        wl = WSP(w.tocsr()).to_W(silence_warnings=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_ref, ref = timed(lambda wl=wl, y=y: G_Local(y, wl, transform="B", star=True,
                                                          permutations=0))
        diff = float(np.abs(z - ref.Zs).max())
        rows.append({"bench": "gistar", "cells": grid.n_cells, "ours_z_s": t_ours,
                     "ours_with_fdr_s": t_full, "weights_s": t_w, "esda_s": t_ref,
                     "speedup": t_ref / t_ours, "speedup_incl_weights_fdr":
                     t_ref / (t_full + t_w), "max_abs_z_diff": diff})
        print(f"Gi* cells={grid.n_cells:>7,}: ours {t_ours:.4f} s (with p/FDR/classes "
              f"{t_full:.4f} s, weights {t_w:.3f} s)  esda {t_ref:.3f} s  speed-up "
              f"{t_ref / t_ours:.0f}x (incl. weights+FDR {t_ref / (t_full + t_w):.0f}x)  "
              f"max |dz| {diff:.2e}", flush=True)
    return rows


def bench_backtest(areas) -> dict:  # type: ignore[no-untyped-def]
    from geoveilig.demo import generate_incidents

    inc = generate_incidents(areas, seed=42)
    burg = inc[inc["crime_type"] == "woninginbraak"]
    grid = make_grid(areas)
    ev = as_events(burg)
    t_bt, res = timed(lambda: backtest(ev, grid, window="14d", n_origins=26,
                                       crime_type="woninginbraak"))
    s = res.summary.set_index("method")
    print(f"Backtest woninginbraak (demo, {len(burg)} incidents, {len(res.origins)} origins "
          f"{res.origins[0]:%Y-%m-%d}..{res.origins[-1]:%Y-%m-%d}): {t_bt:.1f} s")
    print(f"{'method':<12} {'PAI@1%':>7} {'PAI@5%':>7} {'95% interval':>15} {'PEI@5%':>7} "
          f"{'criterion':>9} {'seconds':>8}")
    for m, r in s.iterrows():
        print(f"{m:<12} {r['pai_1']:7.2f} {r['pai_5']:7.2f} {r['pai_5_low']:7.2f}-"
              f"{r['pai_5_high']:<7.2f} {r['pei_5']:7.2f} "
              f"{('ja' if r['meets_criterion'] else 'nee'):>9} {r['seconds']:8.2f}")
    print(res.verdict)
    return {"bench": "backtest", "crime_type": "woninginbraak", "n_incidents": len(burg),
            "origins": len(res.origins), "seconds": t_bt, "best_method": res.best_method,
            "criterion_met": res.criterion_met,
            "pai_5": {m: round(float(r["pai_5"]), 3) for m, r in s.iterrows()},
            "pai_5_interval": {m: [round(float(r["pai_5_low"]), 3),
                                   round(float(r["pai_5_high"]), 3)] for m, r in s.iterrows()}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=["kde", "gistar", "backtest"])
    args = ap.parse_args()
    areas = load_areas(GEO, gemeente="GM0794")
    results: list[dict] = []
    if args.only in (None, "kde"):
        results += bench_kde(areas, args.quick)
    if args.only in (None, "gistar"):
        results += bench_gistar(args.quick)
    if args.only in (None, "backtest"):
        results.append(bench_backtest(areas))
    print(json.dumps({"benchmark": "hotspots", "results": results}, default=float))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
