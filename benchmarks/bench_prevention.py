"""Benchmark: coverage per wijk on many dates (``geoveilig.prevention.coverage``) against a
straightforward geopandas reference (dissolve the active groups, overlay with the buurten,
sum per wijk), on the demo registry and on a registry with many more polygon groups.

Run: ``GEOVEILIG_GEO_DIR=../shared/geo .venv/bin/python benchmarks/bench_prevention.py``.
Prints a table and one JSON line.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geoveilig import prevention as p
from geoveilig.areas import load_areas
from geoveilig.demo.prevention import demo_prevention_groups

GEO = Path(os.environ.get("GEOVEILIG_GEO_DIR", Path(__file__).resolve().parents[2] /
                          "shared" / "geo"))


def reference(registry: p.Registry, areas, day) -> pd.Series:
    """Coverage share per wijk (wijk = union of its buurten) with geopandas overlay."""
    layer = p.group_areas(registry, areas, day)
    active = layer.loc[layer["status"] == "actief"]
    buurten = areas.buurten[["code", "wijk_code", "geometry"]]
    total = buurten.assign(a=buurten.area).groupby("wijk_code")["a"].sum()
    if active.empty:
        return (total * 0).rename("coverage_share")
    union = gpd.GeoDataFrame(geometry=[active.union_all()], crs=active.crs)
    inter = gpd.overlay(buurten, union, how="intersection", keep_geom_type=True)
    covered = inter.assign(a=inter.area).groupby("wijk_code")["a"].sum()
    return (covered.reindex(total.index).fillna(0) / total).rename("coverage_share")


def bigger(registry: p.Registry, areas, factor: int, seed: int = 1) -> p.Registry:
    """The demo registry with ``factor`` x as many polygon WhatsApp groups (shifted copies)."""
    rng = np.random.default_rng(seed)
    g = registry.groups
    poly = g.loc[g["area_kind"] == "polygon"]
    parts, hist = [g], [registry.history]
    for k in range(1, factor):
        shifted = poly.copy()
        shifted["group_id"] = shifted["group_id"] + f"-x{k}"
        shifted["team_id"] = None
        shifted["type"] = p.WHATSAPP
        shifted["geometry"] = shifted.geometry.translate(*rng.normal(0, 150, 2))
        parts.append(shifted)
        h = registry.history.loc[registry.history["group_id"].isin(poly["group_id"])].copy()
        h["group_id"] = h["group_id"] + f"-x{k}"
        hist.append(h)
    groups = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=g.crs)
    return p.Registry(groups=groups, history=pd.concat(hist, ignore_index=True))


def main() -> None:
    areas = load_areas(GEO)
    demo = demo_prevention_groups(areas, seed=42)
    dates = pd.date_range("2015-03-31", "2018-06-30", freq="QE")
    rows = []
    for name, reg in (("demo", demo), ("demo x10", bigger(demo, areas, 10))):
        t0 = time.perf_counter()
        ours = p.growth_per_quarter(reg, areas, start=dates[0], end=dates[-1], level="wijk")
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        ref = pd.concat([reference(reg, areas, d).rename(str(d.date())) for d in dates], axis=1)
        t_ref = time.perf_counter() - t0
        mine = ours.pivot(index="code", columns="date", values="coverage_share")
        diff = float(np.abs(mine.to_numpy() - ref.reindex(mine.index).to_numpy()).max())
        rows.append({"registry": name, "groups": len(reg), "dates": len(dates),
                     "geoveilig_s": round(t_ours, 3), "reference_s": round(t_ref, 3),
                     "speedup": round(t_ref / t_ours, 1), "max_abs_diff": diff})
    table = pd.DataFrame(rows)
    print("Dekking per wijk op elk kwartaaleinde (inclusief wijkdekkend-telling en groei)")
    print(table.to_string(index=False))
    print(json.dumps({"benchmark": "prevention_coverage", "results": rows}))


if __name__ == "__main__":
    main()
