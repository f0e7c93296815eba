"""Benchmark and accountability figures of the near-repeat alerts (``geoveilig.alerts``).

1. The alert backtest (``alerts.backtest.alert_backtest``): per year the share of burglaries
   that fell in an active zone, the share of area x time alerted and their ratio (PAI for
   alerts), for the measured extent (Knox) beside the naive 200 m / 14 days rule, and the
   number of alerts per prevention group per month; on the demo data and on the simulated
   self-exciting process of ``hotspots.simulate`` (with a Poisson process as the no-contagion
   control). The vectorised backtest is checked against a plain-Python reference (pairwise
   loop for the hits, per-cell interval union for the area-time) and timed beside it.
2. The cost of the outbox on an import: the last month of the demo burglaries imported with
   and without the alerts hook (SQLite).

Run: ``GEOVEILIG_GEO_DIR=../shared/geo .venv/bin/python benchmarks/bench_alerts.py``.
Prints tables and one JSON line.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geoveilig import TIMEZONE
from geoveilig.alerts.backtest import _until, alert_backtest
from geoveilig.alerts.service import grid_of, import_with_alerts
from geoveilig.alerts.zones import FALLBACK, MIN_CELLS, incident_cells
from geoveilig.areas import load_areas
from geoveilig.demo import generate_incidents, to_csv
from geoveilig.demo.prevention import demo_prevention_groups
from geoveilig.hotspots.events import as_events
from geoveilig.hotspots.simulate import poisson_incidents, self_exciting_incidents
from geoveilig.incidents import ParseResult, parse_incidents
from geoveilig.store import Store
from geoveilig.store.prevention import load_demo_registry

GEO = Path(os.environ.get("GEOVEILIG_GEO_DIR", Path(__file__).resolve().parents[2] /
                          "shared" / "geo"))


def reference(incidents: pd.DataFrame, grid, year: int, distance: float, days: float
              ) -> tuple[float, float]:
    """(hit share, area-time share) of one year and rule, the plain way."""
    ev = as_events(incidents.loc[incidents["crime_type"] == "woninginbraak"])
    home = grid.cell_of(ev.x, ev.y)
    t = ev.t.astype(float)
    s0 = pd.Timestamp(year=year, month=1, day=1, tz=TIMEZONE).timestamp()
    s1 = min(pd.Timestamp(year=year + 1, month=1, day=1, tz=TIMEZONE).timestamp(),
             float(t.max()) + 1.0)
    until = _until(t, days)
    zone = {}
    hits = n = 0
    for j in range(len(t)):
        if home[j] < 0 or not s0 <= t[j] < s1:
            continue
        n += 1
        for i in range(j):
            if home[i] < 0 or not t[i] < t[j] < until[i]:
                continue
            z = zone.get(home[i])
            if z is None:
                z = zone[home[i]] = set(incident_cells(
                    grid, float(grid.cx[home[i]]), float(grid.cy[home[i]]), distance,
                    MIN_CELLS).tolist())
            if home[j] in z:
                hits += 1
                break
    per_cell: dict[int, list[tuple[float, float]]] = {}
    for i in range(len(t)):
        if home[i] < 0 or until[i] <= s0 or t[i] >= s1:
            continue
        for c in incident_cells(grid, float(grid.cx[home[i]]), float(grid.cy[home[i]]),
                                distance, MIN_CELLS):
            per_cell.setdefault(int(c), []).append((t[i], until[i]))
    alerted = 0.0
    for c, spans in per_cell.items():
        spans.sort()
        cur_s, cur_e = spans[0]
        total = 0.0
        for s, e in spans[1:]:
            if s < cur_e:
                cur_e = max(cur_e, e)
            else:
                total += max(0.0, min(cur_e, s1) - max(cur_s, s0))
                cur_s, cur_e = s, e
        total += max(0.0, min(cur_e, s1) - max(cur_s, s0))
        alerted += total * grid.cell_area[c]
    return hits / n, alerted / (grid.cell_area.sum() * (s1 - s0))


def parsed(frame: pd.DataFrame, areas, folder: Path, name: str) -> ParseResult:
    """The frame through the importer's own path (CSV written and parsed, as the CLI)."""
    path = to_csv(frame, folder / name)
    return parse_incidents(path.read_bytes(), filename=name, areas=areas)


def main() -> None:
    areas = load_areas(GEO)
    grid = grid_of(areas)
    demo = generate_incidents(areas, seed=42)
    registry = demo_prevention_groups(areas, seed=42, incidents=demo)
    poly = shapely.union_all(np.asarray(areas.buurten.geometry.values))
    sim = self_exciting_incidents(poly, 900, start="2013-01-01", days=5 * 365,
                                  offspring_mean=0.5, sigma_m=80, decay_days=7, seed=7)
    control = poisson_incidents(poly, len(sim), start="2013-01-01", days=5 * 365, seed=7)
    results: dict[str, object] = {}
    for name, data in (("demo", demo), ("simulated (Hawkes)", sim),
                       ("control (Poisson)", control)):
        t0 = time.perf_counter()
        bt = alert_backtest(data, grid, areas=areas, registry=registry)
        took = time.perf_counter() - t0
        print(f"\n=== {name}: alert backtest ({took:.2f} s) ===")
        print(bt.table())
        results[name] = {"per_year": bt.per_year.to_dict("records"),
                         "per_group": bt.per_group.to_dict("records"), "seconds": took}
    # the reference, side by side (demo, one year, the naive rule)
    year = 2017
    t0 = time.perf_counter()
    ref_hit, ref_share = reference(demo, grid, year, *FALLBACK)
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast = alert_backtest(demo, grid, years=[year]).per_year.set_index("rule").loc["naive"]
    t_fast = time.perf_counter() - t0
    print(f"\n=== reference (plain Python) vs vectorised, demo {year}, 200 m / 14 d ===")
    print(f"{'':12}{'hit_share':>12}{'area_time':>12}{'seconds':>10}")
    print(f"{'reference':12}{ref_hit:12.4f}{ref_share:12.5f}{t_ref:10.2f}")
    print(f"{'vectorised':12}{fast['hit_share']:12.4f}{fast['area_time_share']:12.5f}"
          f"{t_fast:10.2f}  (includes the Knox test of the year)")
    assert abs(ref_hit - fast["hit_share"]) < 1e-3 and abs(ref_share - fast["area_time_share"]) \
        < 1e-4, "vectorised backtest differs from the reference"
    # the outbox's cost on an import
    cut = pd.Timestamp("2018-03-01", tz=TIMEZONE)
    b = demo.loc[demo["occurred_at"] >= pd.Timestamp("2016-01-01", tz=TIMEZONE)]
    timing = {}
    n_alerts = 0
    for mode in ("plain", "with alerts"):
        with tempfile.TemporaryDirectory() as tmp:
            store = Store.sqlite(Path(tmp) / "s.sqlite")
            store.import_incidents(parsed(b.loc[b["occurred_at"] < cut], areas, Path(tmp),
                                          "oud.csv"), source_name="oud", content_sha256="a")
            load_demo_registry(store, registry, source_name="demo")
            new = parsed(b.loc[b["occurred_at"] >= cut], areas, Path(tmp), "nieuw.csv")
            t0 = time.perf_counter()
            if mode == "plain":
                store.import_incidents(new, source_name="nieuw", content_sha256="b")
            else:
                _, hook = import_with_alerts(store, areas, new, source_name="nieuw",
                                             content_sha256="b")
                n_alerts = len(hook.alert_ids)
            timing[mode] = time.perf_counter() - t0
            store.close()
    n_new = int((b["occurred_at"] >= cut).sum())
    print(f"\n=== import of {n_new} new incidents (March 2018), SQLite ===")
    for mode, sec in timing.items():
        print(f"{mode:14}{sec:8.2f} s")
    print(f"alerts written: {n_alerts}")
    print(json.dumps({"bench": "alerts", "backtest": results,
                      "reference": {"hit_share": ref_hit, "area_time_share": ref_share,
                                    "seconds": t_ref, "vectorised_seconds": t_fast},
                      "import_seconds": timing, "import_rows": n_new,
                      "alerts_written": n_alerts}, default=str))


if __name__ == "__main__":
    main()
