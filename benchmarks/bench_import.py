"""Benchmark: assign 1,000,000 points to polygons, and import 1,000,000 incidents from CSV.

(a) the 44 Helmond buurten (real CBS 2017 boundaries from GEOVEILIG_GEO_DIR or ../shared/geo)
(b) 10,000 synthetic polygons with 100+ vertices each (the size of the national buurt map)

For each: ``geoveilig.spatial.PolygonIndex`` against ``geopandas.sjoin`` (predicate
"intersects", lowest polygon index on ties) on the same points in the same run; the
assignments must be identical. Then end to end: a 1,000,000-row Dutch police-style CSV through
``parse_incidents`` and ``Store.import_incidents`` into a fresh SQLite store, with peak memory
(measured in a child process). The reference for the store step is the same rows through the
same store code into the row table of schema revision 0006 (unique key and three secondary
indexes, the layout PostgreSQL keeps); then four typical queries run on both layouts (best of
3, results compared).

Last, as a user runs it: ``geoveilig import big.csv`` as a process (start-up included, into an
empty SQLite store) against a plain pipeline in a process of its own on the same file
(``pandas.read_csv`` + ``pandas.to_datetime`` + ``geopandas.sjoin`` with the buurten +
``DataFrame.to_sql`` into SQLite), wall clock and CPU time (user+sys) of each, best of
``--repeat``; and the peak RSS of ``geoveilig import`` for ``--rss-rows`` rows (5,000,000).
Python's bytecode cache and the validated boundaries (``geoveilig.areacache``) are written by a
warm-up import of the small file first, into the data folder every run then imports into (an
empty store each time), as after any first run on a user's machine; ``PYTHONDONTWRITEBYTECODE``
would otherwise make every start compile every module.
Prints a table and one JSON line.

    python benchmarks/bench_import.py [--points 1000000] [--rows 1000000] [--only-cli]
        [--rss-rows 5000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _synth import incident_csv, points_in_helmond, points_inside, voronoi_polygons
from _timing import best_of

from geoveilig.areas import load_areas
from geoveilig.spatial import PolygonIndex

ROOT = Path(__file__).resolve().parents[1]
GEO = Path(os.environ.get("GEOVEILIG_GEO_DIR", ROOT.parent / "shared" / "geo"))


def sjoin_assign(polys: gpd.GeoDataFrame, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=polys.crs)
    j = gpd.sjoin(pts, polys[["geometry"]].reset_index(drop=True), predicate="intersects",
                  how="left")
    right = j["index_right"].fillna(-1).astype(np.int64)
    # ties (a point on a shared edge): the lowest polygon index, as PolygonIndex does
    best = right.groupby(level=0).min()
    return best.reindex(range(len(x))).to_numpy()


def assignment_case(name: str, geoms: np.ndarray, x: np.ndarray, y: np.ndarray) -> dict:
    polys = gpd.GeoDataFrame(geometry=geoms, crs=28992)
    t0 = time.perf_counter()
    index = PolygonIndex(geoms)
    build = time.perf_counter() - t0
    ours_t, ours = best_of(lambda: index.lookup(x, y), repeat=3)
    ref_t, ref = best_of(lambda: sjoin_assign(polys, x, y), repeat=1)
    identical = bool(np.array_equal(ours, ref))
    vertices = np.asarray([len(g.exterior.coords) for g in geoms])
    return {
        "case": name, "polygons": len(geoms), "min_vertices": int(vertices.min()),
        "points": len(x), "inside": float((ours >= 0).mean()),
        "index_build_s": round(build, 3), "cell_m": round(index.cell_size, 2),
        "mixed_cells": round(index.mixed_share, 4),
        "ours_s": round(ours_t, 4), "ours_points_per_s": round(len(x) / ours_t),
        "sjoin_s": round(ref_t, 3), "sjoin_points_per_s": round(len(x) / ref_t),
        "speedup": round(ref_t / ours_t, 1),
        "speedup_incl_build": round(ref_t / (ours_t + build), 1),
        "identical": identical,
    }


def _canonical(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """Query results in one order (ties in time are ordered by the layout's internal ids)."""
    return pd.DataFrame(frame.drop(columns="geometry")).sort_values(
        ["occurred_at", "incident_id"], ignore_index=True)


def _e2e_child(csv_path: Path) -> None:
    """The end-to-end measurement, in its own process (``--child CSV``) so that its peak
    memory is its own; prints one JSON line."""
    import hashlib

    import sqlalchemy as sa
    from alembic import command

    from geoveilig.incidents import parse_incidents
    from geoveilig.store import Store, _alembic_config

    areas = load_areas(GEO)
    t0 = time.perf_counter()
    data = csv_path.read_bytes()
    parsed = parse_incidents(data, filename="bench.csv", areas=areas)
    t1 = time.perf_counter()
    store = Store.sqlite(csv_path.parent / "bench.sqlite")
    summary = store.import_incidents(parsed, source_name="bench.csv",
                                     content_sha256=hashlib.sha256(data).hexdigest())
    t2 = time.perf_counter()
    again = store.import_incidents(parsed, source_name="bench.csv", content_sha256="x")
    t3 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # The reference: the same rows into the row table of schema revision 0006 (unique key and
    # three secondary indexes; what PostgreSQL keeps), through the same store code.
    rows_url = f"sqlite:///{csv_path.parent / 'rows.sqlite'}"
    engine = sa.create_engine(rows_url)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0006")
    engine.dispose()
    rows_store = Store(rows_url, migrate=False)
    r0 = time.perf_counter()
    rows_store.import_incidents(parsed, source_name="bench.csv", content_sha256="x")
    r1 = time.perf_counter()
    rows_store.import_incidents(parsed, source_name="bench.csv", content_sha256="x")
    r2 = time.perf_counter()
    x0, y0 = float(parsed.frame["x"].median()), float(parsed.frame["y"].median())
    queries = {
        "2017 woninginbraak": dict(start="2017-01-01", end="2018-01-01",
                                   crime_types=["woninginbraak"]),
        "woninginbraak, all years": dict(crime_types=["woninginbraak"]),
        "one wijk, 2016": dict(start="2016-01-01", end="2017-01-01", area_codes=["WK079410"]),
        "1 km2 bbox, all years": dict(bbox=(x0 - 500, y0 - 500, x0 + 500, y0 + 500)),
    }
    compared = {}
    for name, filters in queries.items():
        ours_t, ours = best_of(lambda f=filters: store.incidents(**f), repeat=3)
        ref_t, ref = best_of(lambda f=filters: rows_store.incidents(**f), repeat=3)
        same = _canonical(ours).equals(_canonical(ref))
        compared[name] = {"rows": len(ours), "chunks_s": round(ours_t, 4),
                          "rows_s": round(ref_t, 4), "identical": bool(same)}
    store.close()
    rows_store.close()

    def size(name: str) -> int:
        return sum(f.stat().st_size for f in csv_path.parent.glob(name + "*"))

    print(json.dumps({
        "parse_s": t1 - t0, "store_s": t2 - t1, "reimport_s": t3 - t2,
        "accepted": summary.accepted, "already_present": again.already_present,
        "peak_rss_mb": peak, "rows_store_s": r1 - r0, "rows_reimport_s": r2 - r1,
        "queries": compared, "size_mb": size("bench.sqlite") / 2**20,
        "rows_size_mb": size("rows.sqlite") / 2**20}))


def end_to_end(csv_path: Path, rows: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(csv_path)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"end-to-end child failed:\n{out.stderr}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    total = r["parse_s"] + r["store_s"]
    return {
        "rows": rows, "parse_s": round(r["parse_s"], 2), "store_s": round(r["store_s"], 2),
        "total_s": round(total, 2), "rows_per_s": round(rows / total),
        "reimport_s": round(r["reimport_s"], 2), "accepted": r["accepted"],
        "already_present_on_reimport": r["already_present"],
        "peak_rss_mb": round(r["peak_rss_mb"]), "size_mb": round(r["size_mb"], 1),
        "row_table_0006": {
            "store_s": round(r["rows_store_s"], 2),
            "rows_per_s": round(rows / (r["parse_s"] + r["rows_store_s"])),
            "reimport_s": round(r["rows_reimport_s"], 2),
            "size_mb": round(r["rows_size_mb"], 1),
        },
        "queries": r["queries"],
    }


def _reference_child(csv_path: Path, db: Path) -> None:
    """The plain pipeline a data scientist would write, in its own process (``--reference
    CSV DB``): read, parse dates and decimal commas, assign buurten with ``geopandas.sjoin``,
    write with ``to_sql``. No validation beyond what these calls do themselves."""
    import sqlalchemy as sa

    frame = pd.read_csv(csv_path, sep=";", dtype=str, keep_default_na=False)
    frame["occurred_at"] = pd.to_datetime(frame["pleegdatum"], format="%d-%m-%Y %H:%M")
    x = pd.to_numeric(frame["x"].str.replace(",", ".", regex=False))
    y = pd.to_numeric(frame["y"].str.replace(",", ".", regex=False))
    buurten = gpd.read_file(GEO / "helmond_buurten_2017.geojson").to_crs(28992)
    points = gpd.GeoDataFrame(frame.drop(columns=["x", "y"]), crs=28992,
                              geometry=gpd.points_from_xy(x, y))
    joined = gpd.sjoin(points, buurten[["geometry"]], how="left", predicate="within")
    out = pd.DataFrame(joined.drop(columns="geometry"))
    out["x"], out["y"] = x.to_numpy(), y.to_numpy()
    engine = sa.create_engine(f"sqlite:///{db}")
    out.to_sql("incidents", engine, if_exists="replace", index=False, chunksize=50_000)
    engine.dispose()


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds (user+sys) and peak RSS (kB) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss, proc.stdout


def _peak_rss_kb(cmd: list[str], env: dict[str, str]) -> int:
    """The peak RSS of a command, measured by GNU time (``ru_maxrss`` of the children is a
    maximum over every child this script waited for)."""
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], env=env, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return int(proc.stderr.strip().splitlines()[-1])


#: the small file of the fixed-cost measurement (``cli_versus_pipeline``)
SMALL_ROWS = 10_000
#: a process that loads what ``geoveilig import`` loads and does nothing else
LOAD_ONLY = ("import geoveilig.cli, geoveilig.cli.common, geoveilig.cli.import_cmd, "
             "geoveilig.textfile, geoveilig.incidents, geoveilig.settings, geoveilig.areas, "
             "geoveilig.store, geoveilig.alerts.service, geoveilig.areacache")


def _empty_store(data_dir: Path) -> None:
    """The data folder without its SQLite store (the boundaries' cache stays)."""
    for f in data_dir.glob("geoveilig.sqlite*"):
        f.unlink()


def cli_versus_pipeline(tmp: Path, rows: int, rss_rows: int, repeat: int) -> dict:
    """``geoveilig import`` as a process against the plain pipeline, same file, same run."""
    from _synth import incident_csv, points_inside

    geoveilig = str(Path(sys.executable).with_name("geoveilig"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(GEOVEILIG_GEO_DIR=str(GEO))
    env.pop("GEOVEILIG_DATABASE_URL", None)
    areas = load_areas(GEO)
    cx, cy = points_inside(areas, rows, seed=4)
    path = incident_csv(tmp / "big.csv", cx, cy, seed=5)
    del cx, cy
    # the fixed part of an import: the first SMALL_ROWS rows of the same file, and a process
    # that only loads the modules geoveilig import loads (nothing read, nothing stored)
    small = tmp / "small.csv"
    with path.open("rb") as src, small.open("wb") as dst:
        dst.writelines(line for _, line in zip(range(SMALL_ROWS + 1), src, strict=False))
    # warm-up: writes the bytecode cache of everything the runs import (an import of the
    # small file loads every module of a large one: its alerts too; before, the first timed
    # import compiled them and was ~0.5 s slower than the others)
    # Every run imports into an empty store in the same data folder, which keeps the
    # validated boundaries of the warm-up (geoveilig.areacache), as a user's data folder does
    # after its first command.
    data_dir = tmp / "data"
    env["GEOVEILIG_DATA_DIR"] = str(data_dir)
    _run([geoveilig, "import", str(small)], env)
    _run([sys.executable, "-c", "import geopandas, pandas, sqlalchemy, sqlite3"], env)
    ours, ref, fixed, loading = [], [], [], []
    for i in range(repeat):
        _empty_store(data_dir)
        wall, cpu, _, stdout = _run([geoveilig, "import", str(path)], env)
        assert f"Ingelezen: {rows}," in stdout, stdout
        ours.append((wall, cpu))
        _empty_store(data_dir)
        wall, cpu, _, stdout = _run([geoveilig, "import", str(small)], env)
        assert f"Ingelezen: {SMALL_ROWS}," in stdout, stdout
        fixed.append((wall, cpu))
        loading.append(_run([sys.executable, "-c", LOAD_ONLY], env)[:2])
        db = tmp / f"reference{i}.sqlite"
        wall, cpu, _, _ = _run([sys.executable, __file__, "--reference", str(path), str(db)],
                               env)
        ref.append((wall, cpu))
        db.unlink()
    _empty_store(data_dir)
    best_ours, best_ref = min(ours), min(ref)
    result = {
        "rows": rows, "repeat": repeat,
        "geoveilig_import_s": round(best_ours[0], 2), "geoveilig_cpu_s": round(best_ours[1], 2),
        "geoveilig_rows_per_s": round(rows / best_ours[0]),
        "pipeline_s": round(best_ref[0], 2), "pipeline_cpu_s": round(best_ref[1], 2),
        "pipeline_rows_per_s": round(rows / best_ref[0]),
        "speedup": round(best_ref[0] / best_ours[0], 2),
        "cpu_ratio": round(best_ref[1] / best_ours[1], 2),
        "geoveilig_cpu_s_per_1e6_rows": round(best_ours[1] * 1e6 / rows, 2),
        "small_rows": SMALL_ROWS, "small_import_s": round(min(fixed)[0], 2),
        "small_cpu_s": round(min(fixed)[1], 2),
        "load_only_s": round(min(loading)[0], 2), "load_only_cpu_s": round(min(loading)[1], 2),
        # the rows beyond the small file, over the time they add (medians: the difference of
        # two minima of noisy runs is not a measurement of anything)
        "marginal_rows_per_s": round((rows - SMALL_ROWS) / max(
            1e-9, statistics.median(w for w, _ in ours) - statistics.median(w for w, _ in fixed))),
        "loadavg_1min": round(os.getloadavg()[0], 2),
        "all_runs": {"geoveilig": [[round(w, 2), round(c, 2)] for w, c in ours],
                     "pipeline": [[round(w, 2), round(c, 2)] for w, c in ref],
                     "small": [[round(w, 2), round(c, 2)] for w, c in fixed],
                     "load_only": [[round(w, 2), round(c, 2)] for w, c in loading]},
    }
    path.unlink()
    small.unlink()
    if rss_rows:
        cx, cy = points_inside(areas, rss_rows, seed=6)
        big = incident_csv(tmp / "big_rss.csv", cx, cy, seed=7)
        del cx, cy
        t0 = time.perf_counter()
        peak = _peak_rss_kb([geoveilig, "import", str(big)],
                            {**env, "GEOVEILIG_DATA_DIR": str(tmp / "rss")})
        result.update(rss_rows=rss_rows, rss_import_s=round(time.perf_counter() - t0, 1),
                      rss_peak_mb=round(peak / 1024))
        big.unlink()
    return result


def _print_cli(r: dict) -> None:
    print(f"{'as a user runs it (process)':34} {'rows':>9} {'wall s':>7} {'cpu s':>7} "
          f"{'rows/s':>10}")
    print(f"{'geoveilig import big.csv':34} {r['rows']:>9,} {r['geoveilig_import_s']:>7} "
          f"{r['geoveilig_cpu_s']:>7} {r['geoveilig_rows_per_s']:>10,}")
    print(f"{'read_csv + sjoin + to_sql':34} {r['rows']:>9,} {r['pipeline_s']:>7} "
          f"{r['pipeline_cpu_s']:>7} {r['pipeline_rows_per_s']:>10,}")
    print(f"speed-up over the plain pipeline: {r['speedup']}x wall, {r['cpu_ratio']}x CPU "
          f"(best of {r['repeat']}; load average {r['loadavg_1min']} on {os.cpu_count()} "
          "cores: wall times on a busy machine are not comparable)")
    print(f"{'geoveilig import, first ' + format(r['small_rows'], ',') + ' rows':34} "
          f"{r['small_rows']:>9,} {r['small_import_s']:>7} {r['small_cpu_s']:>7}")
    print(f"{'only loading its modules':34} {0:>9} {r['load_only_s']:>7} "
          f"{r['load_only_cpu_s']:>7}")
    print(f"rows beyond the first {r['small_rows']:,}: {r['marginal_rows_per_s']:,} rows/s "
          "(median times)")
    if "rss_peak_mb" in r:
        print(f"peak RSS of geoveilig import, {r['rss_rows']:,} rows: {r['rss_peak_mb']} MB "
              f"({r['rss_import_s']} s)")


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        _e2e_child(Path(sys.argv[2]))
        return
    if sys.argv[1:2] == ["--reference"]:
        _reference_child(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--polygons", type=int, default=10_000)
    parser.add_argument("--rss-rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only-cli", action="store_true",
                        help="only geoveilig import as a process against the plain pipeline")
    args = parser.parse_args()
    if args.only_cli:
        with tempfile.TemporaryDirectory() as tmp:
            cli = cli_versus_pipeline(Path(tmp), args.rows, args.rss_rows, args.repeat)
        _print_cli(cli)
        print(json.dumps({"benchmark": "import-cli", "cli": cli, "cpus": os.cpu_count(),
                          "loadavg": os.getloadavg()}))
        return

    areas = load_areas(GEO)
    results = []
    x, y = points_in_helmond(areas, args.points, seed=1)
    results.append(assignment_case("helmond-44-buurten", areas.buurten.geometry.values, x, y))
    extent = 150_000.0
    geoms = voronoi_polygons(args.polygons, extent, min_vertices=100, seed=2)
    rng = np.random.default_rng(3)
    xs, ys = rng.uniform(0, extent, args.points), rng.uniform(0, extent, args.points)
    results.append(assignment_case(f"synthetic-{args.polygons}-polygons", geoms, xs, ys))

    with tempfile.TemporaryDirectory() as tmp:
        cx, cy = points_inside(areas, args.rows, seed=4)
        path = incident_csv(Path(tmp) / "bench.csv", cx, cy, seed=5)
        e2e = end_to_end(path, args.rows)
        path.unlink()
        cli = cli_versus_pipeline(Path(tmp), args.rows, args.rss_rows, args.repeat)

    print(f"{'case':28} {'polys':>6} {'points':>9} {'ours pts/s':>12} {'sjoin pts/s':>12} "
          f"{'speedup':>8} {'+build':>7} {'same':>5}")
    for r in results:
        print(f"{r['case']:28} {r['polygons']:>6} {r['points']:>9} {r['ours_points_per_s']:>12,} "
              f"{r['sjoin_points_per_s']:>12,} {r['speedup']:>7}x {r['speedup_incl_build']:>6}x "
              f"{r['identical']!s:>5}")
    print(f"end to end CSV -> SQLite: {e2e['rows']:,} rows in {e2e['total_s']} s "
          f"(parse {e2e['parse_s']} s, store {e2e['store_s']} s) = {e2e['rows_per_s']:,} rows/s; "
          f"re-import {e2e['reimport_s']} s; peak RSS {e2e['peak_rss_mb']} MB")
    ref = e2e["row_table_0006"]
    print(f"reference, the row table of revision 0006 (unique key + 3 indexes; PostgreSQL keeps "
          f"it): store {ref['store_s']} s = {ref['rows_per_s']:,} rows/s end to end; re-import "
          f"{ref['reimport_s']} s; file {ref['size_mb']} MB against {e2e['size_mb']} MB")
    print(f"{'query (best of 3)':28} {'rows':>7} {'chunks s':>9} {'row table s':>12} {'same':>5}")
    for name, q in e2e["queries"].items():
        print(f"{name:28} {q['rows']:>7} {q['chunks_s']:>9} {q['rows_s']:>12} "
              f"{q['identical']!s:>5}")
    _print_cli(cli)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"benchmark": "import", "assignment": results, "end_to_end": e2e,
                      "cli": cli,
                      "bench_process_peak_rss_mb": round(peak), "cpus": os.cpu_count(),
                      "loadavg": os.getloadavg()}))


if __name__ == "__main__":
    main()
