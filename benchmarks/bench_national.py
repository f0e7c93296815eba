"""National benchmark (issue 22): synthetic Netherlands on one PostGIS database.

    .venv/bin/python benchmarks/bench_national.py [--scale 0.1] [--workers 1,2,4]
        [--duration 5] [--only import,report,hotspots,api] [--keep] [--database URL]

Needs a PostgreSQL/PostGIS server (``GEOVEILIG_TEST_POSTGRES_URL``; a throwaway database is
created and dropped, ``--keep`` keeps it and prints its URL) and ``wrk`` for the API rows.
Never part of CI. Phases can run separately: ``--only import --keep`` fills a database,
``--database URL --only report`` (or ``hotspots``, ``api``) measures on it later (the
geography is regenerated from ``--seed``; the scale is read from the database).

What it builds (seeded, reproducible):
- 342 gemeenten as cells of a 19 x 18 raster over the RD extent of the Netherlands, each cut
  into wijken and buurten by Voronoi diagrams, at national counts (3,300 wijken, 14,000
  buurten; the number per gemeente varies, lognormal "size");
- ``8,000,000 x scale`` incidents over ten years (2015-2024), placed around buurt centres in
  proportion to the gemeente's size, with the crime-type mix of the seed table.

What it measures (a table and one JSON line; nothing is asserted):
1. import: the product's path (``parse_incidents`` with national boundaries, then
   ``Store.import_incidents``) in files of 500,000 rows, rows per second;
2. a yearly report (``stats.compare``, wijk level, last year against 1 and 5 years back) for
   every gemeente, reading its incidents from the store by area code;
3. a hotspot surface (prospective, woninginbraak, 125 m grid, last two years) for every
   gemeente with 1, 2 and 4 worker processes: wall time, speed-up and efficiency
   (T1 / (n x Tn)), peak RSS per process;
4. API throughput (``geoveilig serve``, 1 and 2 workers, ``wrk``) on the wijken and buurten
   items and one buurten tile of the largest gemeente, served from the national database;
   peak RSS of the API processes.
The reference beside each parallel figure is the same work in one process (speed-up 1.0).
Every phase runs in processes of its own (``spawn``), so each peak RSS is that phase's alone.
For a scale below 1 the JSON line also carries ``full_scale``: the figures that grow with the
number of incidents extrapolated linearly to 8,000,000 (marked ``extrapolated``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))

N_GEMEENTEN, N_WIJKEN, N_BUURTEN = 342, 3300, 14000
N_INCIDENTS = 8_000_000
COLS, ROWS = 19, 18
X0, X1, Y0, Y1 = 13_000.0, 278_000.0, 306_000.0, 620_000.0
YEARS = (2015, 2024)
FILE_ROWS = 500_000
#: share of each crime type (roughly the seed table's national mix)
MIX = {"fietsendiefstal": .16, "vernieling": .13, "woninginbraak": .06, "winkeldiefstal": .08,
       "diefstal-uit-motorvoertuig": .09, "mishandeling": .06, "bedreiging": .05,
       "inbraak-schuur-garage": .03, "zakkenrollerij": .04, "straatroof": .01,
       "overval": .002, "openlijk-geweld": .01, "zedenmisdrijf": .01,
       "diefstal-motorvoertuig": .02, "diefstal-bromfiets": .02, "inbraak-bedrijf": .03,
       "overig": .238}


# --- synthetic geography --------------------------------------------------------------------

def _voronoi(seeds: np.ndarray, outline: shapely.Geometry) -> list[shapely.Geometry]:
    """Voronoi cells of ``seeds`` clipped to ``outline``, in the order of the seeds."""
    if len(seeds) == 1:
        return [outline]
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds),
                                                       extend_to=outline))
    pts = shapely.points(seeds)
    order = np.full(len(seeds), -1)
    for j, cell in enumerate(cells):
        hit = np.flatnonzero(shapely.contains(cell, pts))
        if len(hit):
            order[hit[0]] = j
    return [shapely.make_valid(shapely.intersection(cells[j], outline)) for j in order]


def _inside(poly: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    x0, y0, x1, y1 = poly.bounds
    out: list[np.ndarray] = []
    while sum(len(o) for o in out) < n:
        c = np.column_stack([rng.uniform(x0, x1, 4 * n), rng.uniform(y0, y1, 4 * n)])
        out.append(c[shapely.contains_xy(poly, c[:, 0], c[:, 1])])
    pts = np.concatenate(out)[:n]
    return pts + rng.normal(0, 1e-3, pts.shape)  # no two seeds on one spot


def geography(seed: int = 1) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """(gemeenten, wijken, buurten) in EPSG:28992 with CBS-style codes and a ``weight``."""
    rng = np.random.default_rng(seed)
    w, h = (X1 - X0) / COLS, (Y1 - Y0) / ROWS
    size = rng.lognormal(0, 0.9, N_GEMEENTEN)
    n_w = np.minimum(1 + rng.multinomial(N_WIJKEN - N_GEMEENTEN, size / size.sum()), 99)
    room = [g for g in np.argsort(-size) if n_w[g] < 99]  # CBS wijk codes have two digits
    n_w[room[: N_WIJKEN - n_w.sum()]] += 1
    gm, wk, bu = [], [], []
    for g in range(N_GEMEENTEN):
        col, row = g % COLS, g // COLS
        rect = shapely.box(X0 + col * w, Y0 + row * h, X0 + (col + 1) * w, Y0 + (row + 1) * h)
        gcode = f"{g + 1:04d}"
        gm.append({"code": f"GM{gcode}", "name": f"Gemeente {g + 1}", "geometry": rect,
                   "weight": size[g]})
        for j, wpoly in enumerate(_voronoi(_inside(rect, n_w[g], rng), rect)):
            wk.append({"code": f"WK{gcode}{j:02d}", "name": f"Wijk {g + 1}-{j}",
                       "gemeente_code": f"GM{gcode}", "geometry": wpoly})
    wijken = gpd.GeoDataFrame(wk, crs="EPSG:28992")
    n_b = 1 + rng.multinomial(N_BUURTEN - len(wijken), np.full(len(wijken), 1 / len(wijken)))
    for (wcode, gcode, wpoly), n in zip(wijken[["code", "gemeente_code", "geometry"]]
                                        .itertuples(index=False), n_b, strict=True):
        for k, bpoly in enumerate(_voronoi(_inside(wpoly, n, rng), wpoly)):
            bu.append({"code": f"BU{wcode[2:]}{k:02d}", "name": f"Buurt {wcode[2:]}-{k}",
                       "wijk_code": wcode, "gemeente_code": gcode, "geometry": bpoly})
    return (gpd.GeoDataFrame(gm, crs="EPSG:28992"), wijken,
            gpd.GeoDataFrame(bu, crs="EPSG:28992"))


def incidents_csv(gm: gpd.GeoDataFrame, bu: gpd.GeoDataFrame, n: int, start: int,
                  rng: np.random.Generator) -> bytes:
    """``n`` incidents as a police-style CSV (``;``), ids from ``start``."""
    weight = bu["gemeente_code"].map(dict(zip(gm["code"], gm["weight"], strict=True)))
    weight = (weight / bu.groupby("gemeente_code")["code"].transform("size")).to_numpy()
    which = rng.choice(len(bu), n, p=weight / weight.sum())
    centre = shapely.get_coordinates(shapely.point_on_surface(bu.geometry.to_numpy()))
    xy = centre[which] + rng.normal(0, 120, (n, 2))
    t0 = pd.Timestamp(f"{YEARS[0]}-01-01", tz="Europe/Amsterdam").value // 10**9
    t1 = pd.Timestamp(f"{YEARS[1] + 1}-01-01", tz="Europe/Amsterdam").value // 10**9
    when = pd.to_datetime(np.sort(rng.integers(t0, t1, n)), unit="s", utc=True)
    types = rng.choice(list(MIX), n, p=np.array(list(MIX.values())) / sum(MIX.values()))
    frame = pd.DataFrame({
        "registratienummer": [f"NL{start + i:09d}" for i in range(n)],
        "soort": types,
        "pleegdatum": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "x": np.round(xy[:, 0]).astype(int), "y": np.round(xy[:, 1]).astype(int),
        "bron": "SYNTHETISCH (benchmark)",
    })
    return frame.to_csv(sep=";", index=False).encode()


def national_areas(gm, wk, bu):  # type: ignore[no-untyped-def]
    from geoveilig.areas import Areas

    return Areas(gemeente=gm[["code", "name", "geometry"]],
                 wijken=wk[["code", "name", "geometry"]],
                 buurten=bu[["code", "name", "wijk_code", "geometry"]], year=2024,
                 source="synthetisch")


def gemeente_areas(gm, wk, bu, code: str):  # type: ignore[no-untyped-def]
    from geoveilig.areas import Areas

    pick = lambda f, col: f.loc[f[col] == code].reset_index(drop=True)  # noqa: E731
    if "rows" in _G:  # a worker process: the rows of each gemeente were indexed once
        pick = lambda f, col: f.take(_G["rows"][id(f)][code]).reset_index(drop=True)  # noqa: E731
    return Areas(gemeente=pick(gm, "code")[["code", "name", "geometry"]],
                 wijken=pick(wk, "gemeente_code")[["code", "name", "geometry"]],
                 buurten=pick(bu, "gemeente_code")[["code", "name", "wijk_code", "geometry"]],
                 year=2024, source="synthetisch")


# --- measurements ----------------------------------------------------------------------------

def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def do_import(url: str, gm, wk, bu, n: int, seed: int) -> dict:  # type: ignore[no-untyped-def]
    from geoveilig.incidents import parse_incidents
    from geoveilig.store import Store

    areas = national_areas(gm, wk, bu)
    rng = np.random.default_rng(seed)
    store = Store(url)
    parse_s = store_s = 0.0
    done = rejected = 0
    per_file: list[float] = []  # store seconds of each file: grows with the table?
    try:
        while done < n:
            m = min(FILE_ROWS, n - done)
            data = incidents_csv(gm, bu, m, done, rng)
            t = time.perf_counter()
            parsed = parse_incidents(data, filename=f"nl-{done}.csv", areas=areas,
                                     now=pd.Timestamp("2025-06-01", tz="Europe/Amsterdam"))
            parse_s += time.perf_counter() - t
            rejected += len(parsed.rejects)
            t = time.perf_counter()
            store.import_incidents(parsed, source_name=f"nl-{done}.csv",
                                   content_sha256=hashlib.sha256(data).hexdigest(),
                                   synthetic=True, partial=True)
            per_file.append(time.perf_counter() - t)
            store_s += per_file[-1]
            done += m
            print(f"  import {done:,}/{n:,}: parse {parse_s:.0f} s, store {store_s:.0f} s "
                  f"(this file {per_file[-1]:.1f} s)",
                  file=sys.stderr, flush=True)
        with store.engine.connect() as conn:
            size = conn.execute(sa.text("SELECT pg_database_size(current_database())")
                                ).scalar_one()
    finally:
        store.close()
    return {"rows": n, "rejected": rejected, "parse_s": parse_s, "store_s": store_s,
            "rows_per_s": n / (parse_s + store_s), "store_rows_per_s": n / store_s,
            "store_s_per_file": [round(s, 2) for s in per_file], "file_rows": FILE_ROWS,
            "db_mb": size / 2**20, "peak_mb": peak_mb()}


_G: dict = {}


def _init(url: str, geo: tuple) -> None:  # type: ignore[type-arg]
    """A worker process: one store (one connection pool) and the rows of every gemeente
    indexed once, not looked up in the national tables per gemeente."""
    from geoveilig.store import Store

    _G["store"] = Store(url, migrate=False)
    _G["geo"] = geo
    gm, wk, bu = geo
    _G["rows"] = {id(f): {str(k): v for k, v in f.groupby(col).indices.items()}
                  for f, col in ((gm, "code"), (wk, "gemeente_code"), (bu, "gemeente_code"))}


def _gemeente_incidents(areas, **filters):  # type: ignore[no-untyped-def]
    """The incidents of one gemeente: its wijk codes, and its bbox so that PostGIS answers
    from the GiST index instead of scanning the period (every incident of a synthetic
    gemeente lies in its rectangle, so the bbox drops none)."""
    return _G["store"].incidents(area_codes=list(areas.wijken["code"]),
                                 bbox=tuple(areas.gemeente.total_bounds), **filters)


def _report(code: str) -> tuple[int, float, int, float, bool]:
    from geoveilig import stats

    gm, wk, bu = _G["geo"]
    areas = gemeente_areas(gm, wk, bu, code)
    t = time.perf_counter()
    inc = _gemeente_incidents(areas, start=f"{YEARS[1] - 5}-01-01",
                              end=f"{YEARS[1] + 1}-01-01")
    stats.compare(inc, str(YEARS[1]), areas=areas, level="wijk", years_back=(1, 5),
                  coverage=(pd.Timestamp(f"{YEARS[0]}-01-01", tz="Europe/Amsterdam"),
                            pd.Timestamp(f"{YEARS[1]}-12-31", tz="Europe/Amsterdam")))
    return os.getpid(), time.perf_counter() - t, len(inc), peak_mb(), True


def _surface(code: str) -> tuple[int, float, int, float, bool]:
    from geoveilig.hotspots import hotspot_surface, make_grid
    from geoveilig.hotspots.events import InsufficientData

    gm, wk, bu = _G["geo"]
    areas = gemeente_areas(gm, wk, bu, code)
    t = time.perf_counter()
    inc = _gemeente_incidents(areas, start=f"{YEARS[1] - 1}-01-01",
                              end=f"{YEARS[1] + 1}-01-01", crime_types=["woninginbraak"])
    ok = True
    try:
        hotspot_surface(inc, make_grid(areas, 125.0), "prospective", window="28d")
    except InsufficientData:  # counted and reported: too few incidents for a surface
        ok = False
    return os.getpid(), time.perf_counter() - t, len(inc), peak_mb(), ok


def parallel(fn, codes: list[str], workers: int, url: str, geo: tuple) -> dict:  # type: ignore[no-untyped-def,type-arg]
    t = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init, initargs=(url, geo)) as pool:
        out = list(pool.map(fn, codes, chunksize=4))
    wall = time.perf_counter() - t
    per = [o[1] for o in out]
    peaks: dict[int, float] = {}
    for pid, _s, _n, mb, _ok in out:
        peaks[pid] = max(peaks.get(pid, 0.0), mb)
    return {"workers": workers, "wall_s": wall, "per_gemeente_p50_s": float(np.median(per)),
            "per_gemeente_max_s": float(np.max(per)), "incidents_read": int(sum(o[2] for o in out)),
            "peak_mb_per_process": round(max(peaks.values()), 1),
            "insufficient_data": sum(1 for o in out if not o[4]),
            "load_avg": os.getloadavg()[0]}


def api_rows(url: str, gm, wk, bu, workers: int, duration: int, tmp: Path) -> list[dict]:  # type: ignore[no-untyped-def]
    import httpx
    import psutil
    from bench_api import free_port, run_wrk, stop, wait_up
    from bench_tiles import centre_tiles

    from geoveilig.areas import save_areas

    big = str(gm.sort_values("weight").iloc[-1]["code"])
    areas = gemeente_areas(gm, wk, bu, big)
    geo_dir = tmp / f"geo_{big}"
    if not geo_dir.exists():
        save_areas(areas, geo_dir)
    port = free_port()
    env = {**os.environ, "GEOVEILIG_DATABASE_URL": url, "GEOVEILIG_GEO_DIR": str(geo_dir),
           "GEOVEILIG_GEMEENTE": big, "GEOVEILIG_DATA_DIR": str(tmp / "data"),
           "GEOVEILIG_RATE_LIMIT": "", "GEOVEILIG_DISCLOSURE_KEY": "b" * 32}
    proc = subprocess.Popen([str(Path(sys.executable).with_name("geoveilig")), "serve", "--port",
                             str(port), "--workers", str(workers)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    rows = []
    try:
        base = f"http://127.0.0.1:{port}"
        wait_up(f"{base}/health", proc, timeout=900)  # a loaded machine starts slowly
        tms = "WebMercatorQuad"
        z, row, col = centre_tiles(geo_dir)[tms]
        urls = {"wijken items": f"{base}/v1/collections/wijken/items?limit=1000",
                "buurten items": f"{base}/v1/collections/buurten/items?limit=1000",
                "buurten tile": f"{base}/v1/collections/buurten/tiles/{tms}/{z}/{row}/{col}"}
        for name, u in urls.items():
            t = time.perf_counter()
            first = httpx.get(u, timeout=600)
            cold = time.perf_counter() - t
            for _ in range(3 * workers):  # every worker builds its cache
                httpx.get(u, timeout=600)
            res = run_wrk(u, duration, 16, 2)
            rows.append({"what": name, "api_workers": workers, "status": first.status_code,
                         "bytes": len(first.content), "cold_s": cold, **res})
        procs = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        hwm = []
        for p in procs:
            try:
                for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM"):
                        hwm.append(int(line.split()[1]) / 1024)
            except OSError:
                pass
        for r in rows:
            r["peak_mb_per_process"] = round(max(hwm), 1) if hwm else None
    finally:
        stop(proc)
    return rows


PHASES = ("import", "report", "hotspots", "api")


def _in_process(fn, *args):  # type: ignore[no-untyped-def]
    """``fn(*args)`` in a fresh process of its own (its peak RSS is the phase's alone)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def stored_rows(url: str) -> int:
    with sa.create_engine(url, poolclass=sa.pool.NullPool).connect() as c:
        return int(c.execute(sa.text("SELECT count(*) FROM incidents")).scalar_one())


def full_scale(r: dict) -> dict:
    """The figures that grow with the number of incidents, extrapolated linearly from this
    run's scale to 8,000,000 incidents (``extrapolated`` when the scale is below 1)."""
    if r["scale"] <= 0:
        return {}
    out: dict = {"incidents": N_INCIDENTS, "extrapolated": r["scale"] < 1}
    k = 1 / r["scale"]
    if "import" in r:
        imp = r["import"]
        out["import_store_s"] = N_INCIDENTS / imp["store_rows_per_s"]
        out["import_parse_s"] = imp["parse_s"] * k
        out["db_mb"] = imp["db_mb"] * k
    # (the report and hotspot loops are not extrapolated: at small scales their fixed cost per
    # gemeente dominates, which a linear rule would multiply; only a full run gives them)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", default=",".join(PHASES),
                    help=f"comma-separated phases of {','.join(PHASES)}")
    ap.add_argument("--skip-api", action="store_true", help="the same as leaving api out")
    ap.add_argument("--keep", action="store_true", help="keep the database (prints its URL)")
    ap.add_argument("--database", help="measure on this database (filled by an earlier "
                    "--keep run) instead of a new one; it is kept")
    args = ap.parse_args()
    phases = [p.strip() for p in args.only.split(",") if p.strip()]
    if args.skip_api and "api" in phases:
        phases.remove("api")
    if bad := set(phases) - set(PHASES):
        sys.exit(f"unknown phase(s) {', '.join(sorted(bad))}: choose from {', '.join(PHASES)}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # (the database is still dropped)
    server = os.environ.get("GEOVEILIG_TEST_POSTGRES_URL")
    if not server and not args.database:
        sys.exit("GEOVEILIG_TEST_POSTGRES_URL is not set (a PostgreSQL/PostGIS server)")
    admin = name = None
    if args.database:
        url = args.database
    else:
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT",
                                 poolclass=sa.pool.NullPool)
        name = f"gv_national_{uuid.uuid4().hex[:8]}"
        with admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = sa.make_url(server).set(database=name).render_as_string(hide_password=False)
        with sa.create_engine(url, poolclass=sa.pool.NullPool).begin() as c:
            c.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
    result: dict = {"scale": args.scale, "phases": phases, "cpus": os.cpu_count(),
                    "load_avg_at_start": os.getloadavg()[0]}
    try:
        t = time.perf_counter()
        gm, wk, bu = geography(args.seed)
        result["geography"] = {"gemeenten": len(gm), "wijken": len(wk), "buurten": len(bu),
                               "seconds": time.perf_counter() - t, "peak_mb": peak_mb()}
        print(f"geography: {result['geography']}", file=sys.stderr, flush=True)
        if "import" in phases:
            n = int(N_INCIDENTS * args.scale)
            result["import"] = _in_process(do_import, url, gm, wk, bu, n, args.seed)
            result["import"]["load_avg"] = os.getloadavg()[0]
            print(f"import: {result['import']}", file=sys.stderr, flush=True)
        elif args.database:  # the scale of the stored data
            result["scale"] = stored_rows(url) / N_INCIDENTS
        codes = list(gm["code"])
        geo = (gm, wk, bu)
        if "report" in phases:
            result["report"] = parallel(_report, codes, 1, url, geo)
            print(f"report: {result['report']}", file=sys.stderr, flush=True)
        if "hotspots" in phases:
            result["hotspots"] = []
            for w in (int(x) for x in args.workers.split(",")):
                row = parallel(_surface, codes, w, url, geo)
                result["hotspots"].append(row)
                print(f"hotspots: {row}", file=sys.stderr, flush=True)
            t1 = result["hotspots"][0]["wall_s"] * result["hotspots"][0]["workers"]
            for row in result["hotspots"]:
                row["speedup"] = t1 / row["wall_s"]
                row["efficiency"] = row["speedup"] / row["workers"]
        if "api" in phases:
            result["api"] = []
            with tempfile.TemporaryDirectory() as tmp:
                for w in (1, 2):
                    try:
                        result["api"] += api_rows(url, gm, wk, bu, w, args.duration, Path(tmp))
                    except RuntimeError as exc:  # reported, the other figures are kept
                        result.setdefault("api_errors", []).append(f"{w} worker(s): {exc}")
                        print(f"API rows, {w} worker(s): {exc}", file=sys.stderr, flush=True)
        result["full_scale"] = full_scale(result)
    finally:
        if admin is not None:
            if args.keep:
                print(f"database kept: {url}", file=sys.stderr)
            else:
                with admin.connect() as c:
                    c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
    _table(result)
    print(json.dumps({"bench": "national", **result}, default=float))


def _table(r: dict) -> None:
    print(f"\nNational benchmark, scale {r['scale']:.4g} "
          f"({int(N_INCIDENTS * r['scale']):,} incidents), {r['cpus']} CPUs, "
          f"load {r['load_avg_at_start']:.1f} at start")
    print(f"{'what':42} {'figure':>14}  reference / note")
    if imp := r.get("import"):
        print(f"{'import (parse + store)':42} {imp['rows_per_s']:>10,.0f} r/s  "
              f"store alone {imp['store_rows_per_s']:,.0f} r/s; rejected {imp['rejected']:,}; "
              f"peak {imp['peak_mb']:,.0f} MB")
        print(f"{'store seconds per file of ' + format(FILE_ROWS, ',') + ' rows':42} "
              + ", ".join(f"{s:.1f}" for s in imp.get("store_s_per_file", [])))
        print(f"{'database size':42} {imp['db_mb']:>11,.0f} MB")
    if rep := r.get("report"):
        print(f"{'yearly report, 342 gemeenten, 1 process':42} {rep['wall_s']:>12,.1f} s  "
              f"p50 {rep['per_gemeente_p50_s']:.2f} s per gemeente, "
              f"peak {rep['peak_mb_per_process']} MB")
    for h in r.get("hotspots", []):
        print(f"{'hotspot surfaces, ' + str(h['workers']) + ' process(es)':42} "
              f"{h['wall_s']:>12,.1f} s  speed-up {h['speedup']:.2f} (1 process = 1.00), "
              f"efficiency {h['efficiency']:.2f}, peak {h['peak_mb_per_process']} MB/process, "
              f"{h['insufficient_data']} gemeenten with too few incidents")
    for err in r.get("api_errors", []):
        print(f"API not measured, {err}")
    for a in r.get("api", []):
        print(f"{a['what'] + ', ' + str(a['api_workers']) + ' API worker(s)':42} "
              f"{a.get('rps', float('nan')):>9,.0f} r/s  "
              f"p50 {a.get('p50_ms', float('nan')):.1f} ms, "
              f"p99 {a.get('p99_ms', float('nan')):.1f} ms, "
              f"cold {a['cold_s']:.2f} s, {a['bytes']:,} B, peak {a['peak_mb_per_process']} MB")
    fs = r.get("full_scale", {})
    if fs.get("extrapolated") and any(isinstance(v, float) for v in fs.values()):
        print("full scale (8,000,000 incidents), extrapolated linearly: " + ", ".join(
            f"{k} {v:,.0f}" for k, v in fs.items() if isinstance(v, float)))


if __name__ == "__main__":
    main()
