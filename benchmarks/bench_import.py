"""Benchmark: assign 1,000,000 points to polygons, and import 1,000,000 incidents from CSV.

(a) the 44 Helmond buurten (real CBS 2017 boundaries from GEOVEILIG_GEO_DIR or ../shared/geo)
(b) 10,000 synthetic polygons with 100+ vertices each (the size of the national buurt map)

For each: ``geoveilig.spatial.PolygonIndex`` against ``geopandas.sjoin`` (predicate
"intersects", lowest polygon index on ties) on the same points in the same run; the
assignments must be identical. Then end to end: a 1,000,000-row Dutch police-style CSV through
``parse_incidents`` and ``Store.import_incidents`` into a fresh SQLite store, with peak memory
(measured in a child process). For scale, the same rows are then copied into a clone of the
table by SQLite alone (``INSERT ... SELECT`` in id order, the same indexes, commit): the floor
of the database engine on this machine, with no Python in the loop. Finally a design probe
(not the store's layout): the same rows as zstd Arrow IPC chunks in a SQLite BLOB table with
zone maps, written and queried for one year of one crime type, against the store's query.
Prints a table and one JSON line.

    python benchmarks/bench_import.py [--points 1000000] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np

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


def end_to_end(csv_path: Path, rows: int) -> dict:
    """Run in a child process so that its peak memory is its own."""
    code = f"""
import json, resource, time, hashlib, sys
from pathlib import Path
from geoveilig.areas import load_areas
from geoveilig.incidents import parse_incidents
from geoveilig.store import Store
areas = load_areas({str(GEO)!r})
t0 = time.perf_counter()
data = Path({str(csv_path)!r}).read_bytes()
parsed = parse_incidents(data, filename="bench.csv", areas=areas)
t1 = time.perf_counter()
store = Store.sqlite(Path({str(csv_path.parent)!r}) / "bench.sqlite")
summary = store.import_incidents(parsed, source_name="bench.csv",
                                 content_sha256=hashlib.sha256(data).hexdigest())
t2 = time.perf_counter()
again = store.import_incidents(parsed, source_name="bench.csv", content_sha256="x")
t3 = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
store.close()
# The floor of the database itself: the same rows into the same table by SQLite alone (INSERT
# ... SELECT in id order from the stored copy, no Python in the loop), its indexes, commit.
import sqlite3
con = sqlite3.connect(Path({str(csv_path.parent)!r}) / "bench.sqlite", isolation_level=None)
for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-262144",
               "temp_store=MEMORY"):
    con.execute("PRAGMA " + pragma)
ddl = con.execute("SELECT sql FROM sqlite_master WHERE name = 'incidents'").fetchone()[0]
indexes = [r[0] for r in con.execute(
    "SELECT sql FROM sqlite_master WHERE tbl_name = 'incidents' AND type = 'index' "
    "AND sql IS NOT NULL")]
con.execute("BEGIN IMMEDIATE")
con.execute(ddl.replace("incidents", "floor_copy", 1))
cols = "incident_id, crime_type, occurred_at, x, y, buurt_code, wijk_code, content_hash, batch_id"
f0 = time.perf_counter()
con.execute(f"INSERT INTO floor_copy ({{cols}}) SELECT {{cols}} FROM incidents "
            "ORDER BY incident_id")
f1 = time.perf_counter()
for sql in indexes:
    con.execute(sql.replace("ON incidents", "ON floor_copy").replace(
        "INDEX ix_incidents", "INDEX ix_floor"))
f2 = time.perf_counter()
con.execute("COMMIT")
f3 = time.perf_counter()
# Design probe (not the store's layout): the same valid rows as zstd-compressed Arrow IPC
# chunks of 65,536 rows, sorted by time, in a SQLite BLOB table with per-chunk zone maps (time
# range, bbox), in one transaction; then one year of one crime type read back from it.
import pyarrow as pa, pyarrow.ipc as ipc, pyarrow.compute as pc
frame = parsed.frame
p0 = time.perf_counter()
cols = {{"incident_id": pa.array(frame["incident_id"].to_numpy(dtype=object), pa.string()),
        "crime_type": pa.array(frame["crime_type"].to_numpy(dtype=object)).dictionary_encode(),
        "occurred_at": pa.array(frame["occurred_at"].astype("int64").to_numpy() // 10**9),
        "x": pa.array(frame["x"].to_numpy()), "y": pa.array(frame["y"].to_numpy()),
        "buurt_code": pa.array(frame["buurt_code"].to_numpy(dtype=object)).dictionary_encode(),
        "content_hash": pa.array(frame["content_hash"].to_numpy())}}
table = pa.table(cols).sort_by("occurred_at")
pcon = sqlite3.connect(Path({str(csv_path.parent)!r}) / "probe.sqlite", isolation_level=None)
pcon.execute("PRAGMA journal_mode=WAL"); pcon.execute("PRAGMA synchronous=NORMAL")
pcon.execute("CREATE TABLE chunks (id INTEGER PRIMARY KEY, n INTEGER, t_min INTEGER, "
             "t_max INTEGER, x_min REAL, y_min REAL, x_max REAL, y_max REAL, data BLOB)")
pcon.execute("CREATE INDEX ix_chunks_t ON chunks (t_min, t_max)")
opts = ipc.IpcWriteOptions(compression="zstd")
pcon.execute("BEGIN IMMEDIATE")
for batch in table.to_batches(max_chunksize=65_536):
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, batch.schema, options=opts) as w:
        w.write_batch(batch)
    t, x, y = batch.column("occurred_at"), batch.column("x"), batch.column("y")
    pcon.execute("INSERT INTO chunks (n, t_min, t_max, x_min, y_min, x_max, y_max, data) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 (batch.num_rows, pc.min(t).as_py(), pc.max(t).as_py(), pc.min(x).as_py(),
                  pc.min(y).as_py(), pc.max(x).as_py(), pc.max(y).as_py(),
                  sink.getvalue().to_pybytes()))
pcon.execute("COMMIT")
p1 = time.perf_counter()
lo, hi = 1483225200, 1514761200  # 2017 in Europe/Amsterdam
blobs = pcon.execute("SELECT data FROM chunks WHERE t_max >= ? AND t_min < ?", (lo, hi)).fetchall()
got = pa.concat_tables(ipc.open_stream(b[0]).read_all() for b in blobs)
got = got.filter(pc.and_(pc.and_(pc.greater_equal(got["occurred_at"], lo),
                                 pc.less(got["occurred_at"], hi)),
                         pc.equal(got["crime_type"].cast(pa.string()), "woninginbraak")))
p2 = time.perf_counter()
store2 = Store.sqlite(Path({str(csv_path.parent)!r}) / "bench.sqlite")
q0 = time.perf_counter()
rows_store = store2.incidents(start="2017-01-01", end="2018-01-01", crime_types=["woninginbraak"])
q1 = time.perf_counter()
store2.close()
print(json.dumps({{"parse_s": t1 - t0, "store_s": t2 - t1, "reimport_s": t3 - t2,
                  "probe_write_s": p1 - p0, "probe_query_s": p2 - p1, "probe_rows": got.num_rows,
                  "store_query_s": q1 - q0, "store_rows": len(rows_store),
                  "accepted": summary.accepted, "already_present": again.already_present,
                  "peak_rss_mb": peak, "floor_insert_s": f1 - f0, "floor_indexes_s": f2 - f1,
                  "floor_commit_s": f3 - f2, "n_indexes": len(indexes)}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"end-to-end child failed:\n{out.stderr}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    total = r["parse_s"] + r["store_s"]
    return {
        "rows": rows, "parse_s": round(r["parse_s"], 2), "store_s": round(r["store_s"], 2),
        "total_s": round(total, 2), "rows_per_s": round(rows / total),
        "reimport_s": round(r["reimport_s"], 2), "accepted": r["accepted"],
        "already_present_on_reimport": r["already_present"],
        "peak_rss_mb": round(r["peak_rss_mb"]),
        "columnar_probe": {
            "write_s": round(r["probe_write_s"], 2), "query_2017_burglary_s":
            round(r["probe_query_s"], 3), "rows": r["probe_rows"],
            "end_to_end_rows_per_s": round(rows / (r["parse_s"] + r["probe_write_s"])),
            "row_store_query_s": round(r["store_query_s"], 3), "row_store_rows": r["store_rows"],
        },
        "sqlite_alone": {
            "insert_s": round(r["floor_insert_s"], 2), "indexes_s": round(r["floor_indexes_s"], 2),
            "n_secondary_indexes": r["n_indexes"], "commit_s": round(r["floor_commit_s"], 2),
            "total_s": round(r["floor_insert_s"] + r["floor_indexes_s"] + r["floor_commit_s"], 2),
            "rows_per_s": round(rows / (r["floor_insert_s"] + r["floor_indexes_s"]
                                        + r["floor_commit_s"])),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--polygons", type=int, default=10_000)
    args = parser.parse_args()

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

    print(f"{'case':28} {'polys':>6} {'points':>9} {'ours pts/s':>12} {'sjoin pts/s':>12} "
          f"{'speedup':>8} {'+build':>7} {'same':>5}")
    for r in results:
        print(f"{r['case']:28} {r['polygons']:>6} {r['points']:>9} {r['ours_points_per_s']:>12,} "
              f"{r['sjoin_points_per_s']:>12,} {r['speedup']:>7}x {r['speedup_incl_build']:>6}x "
              f"{r['identical']!s:>5}")
    print(f"end to end CSV -> SQLite: {e2e['rows']:,} rows in {e2e['total_s']} s "
          f"(parse {e2e['parse_s']} s, store {e2e['store_s']} s) = {e2e['rows_per_s']:,} rows/s; "
          f"re-import {e2e['reimport_s']} s; peak RSS {e2e['peak_rss_mb']} MB")
    pr = e2e["columnar_probe"]
    print(f"design probe, not the store: the same rows as zstd Arrow chunks in SQLite: write "
          f"{pr['write_s']} s (with today's parse: {pr['end_to_end_rows_per_s']:,} rows/s); "
          f"2017 woninginbraak read back in {pr['query_2017_burglary_s']} s ({pr['rows']} rows) "
          f"against {pr['row_store_query_s']} s from the store ({pr['row_store_rows']} rows)")
    fl = e2e["sqlite_alone"]
    print(f"the same rows by SQLite alone (INSERT ... SELECT, no Python): insert "
          f"{fl['insert_s']} s + {fl['n_secondary_indexes']} indexes {fl['indexes_s']} s + "
          f"commit {fl['commit_s']} s = {fl['total_s']} s = {fl['rows_per_s']:,} rows/s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"benchmark": "import", "assignment": results, "end_to_end": e2e,
                      "bench_process_peak_rss_mb": round(peak), "cpus": os.cpu_count(),
                      "loadavg": os.getloadavg()}))


if __name__ == "__main__":
    main()
