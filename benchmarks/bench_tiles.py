"""Benchmark of the vector tiles (OGC API - Tiles, MVT) with ``wrk`` on loopback, one worker,
side by side with the GeoJSON hotspot layer in the same run and with tipg (developmentseed's
OGC API - Features/Tiles server on PostGIS, ``ST_AsMVT`` per request) on the same PostGIS
incidents table.

    .venv/bin/python benchmarks/bench_tiles.py [--duration 5] [--connections 16] [--threads 2]
        [--repeat 3] [--tipg PATH/TO/python]

Needs ``wrk`` (Debian package ``wrk``) and the CBS boundaries (``GEOVEILIG_GEO_DIR``, default
``../shared/geo``). The PostGIS rows need a server (``GEOVEILIG_TEST_POSTGRES_URL``: a
throwaway database is created and dropped); the tipg row needs a Python with tipg installed
(``--tipg``; tipg is not a dependency of geoveilig: ``uv venv V && uv pip install -p V tipg
uvicorn``). Rows that cannot run are listed with the reason. Prints a table and one JSON line;
nothing here is a timed assertion.

Rows (all ``geoveilig serve``'s uvicorn: uvloop, httptools, TCP_NODELAY, one worker):
- the hotspot layer (inbraak, prospective; analyst key) as one cached tile at WebMercatorQuad
  zoom 14 and NetherlandsRDNewQuad zoom 10 (middle of Helmond), identity and gzip, and
  revalidated (304), and once more with 4 connections instead of 16 (less queueing);
- a public buurten tile (the same cached path without the audit row of a restricted layer);
- a bare Starlette app sending the same tile bytes from memory: the floor on this machine;
- the same hotspot layer as the whole GeoJSON response (``limit=10000``), identity and gzip;
- on PostGIS: the incident points (police key) as a cached tile encoded by ``ST_AsMVT``, and
  tipg's tile of the same table, zoom and tile (tipg caches no tiles: every request runs
  ``ST_AsMVT``).
Also the cold figures: the first hotspot tile (the surface is computed), a new tile of a
layer already built (clip + encode only), and a new ``ST_AsMVT`` incident tile."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa
from _pg import throwaway_database
from bench_api import free_port, run_wrk, start_bare, start_geoveilig, stop, wait_up

ROOT = Path(__file__).resolve().parents[1]
HOTSPOTS = "/collections/hotspots/{what}?crimeType=inbraak&method=prospective"


def load(url: str, geo_dir: Path, tmp: Path) -> dict[str, str]:
    """The full demo incidents into the store at ``url``; keys for analyst and police."""
    from geoveilig.areas import load_areas
    from geoveilig.demo import generate_incidents, to_csv
    from geoveilig.incidents import parse_incidents
    from geoveilig.store import Store
    from geoveilig.store.keys import create_key

    areas = load_areas(geo_dir)
    path = tmp / "demo.csv"
    if not path.exists():
        to_csv(generate_incidents(areas, seed=42), path)
    data = path.read_bytes()
    store = Store(url)
    try:
        store.import_incidents(parse_incidents(data, filename=path.name, areas=areas),
                               source_name=path.name,
                               content_sha256=hashlib.sha256(data).hexdigest(), synthetic=True)
        return {role: create_key(store, f"bench-{role}", role)[1]
                for role in ("analyst", "police")}
    finally:
        store.close()


def centre_tiles(geo_dir: Path) -> dict[str, tuple[int, int, int]]:
    """(z, row, col) of the tile over the middle of the gemeente per tile matrix set."""
    from geoveilig import tiles as core
    from geoveilig.areas import load_areas

    b = load_areas(geo_dir).gemeente.total_bounds
    lon, lat = core._transformer(28992, 4326).transform((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
    out = {}
    for tms_id, z in (("WebMercatorQuad", 14), ("NetherlandsRDNewQuad", 10)):
        t = core.TILE_MATRIX_SETS[tms_id].tile(lon, lat, z)
        out[tms_id] = (t.z, t.y, t.x)
    return out


def start_tipg(python: str, db_url: str, port: int) -> subprocess.Popen:
    url = sa.make_url(db_url).set(drivername="postgresql")
    env = {**os.environ, "DATABASE_URL": url.render_as_string(hide_password=False),
           "TIPG_DB_SCHEMAS": '["public"]'}
    return subprocess.Popen([python, "-m", "uvicorn", "tipg.main:app", "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning", "--no-access-log",
                             "--loop", "uvloop", "--http", "httptools"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3,
                    help="wrk runs per row (the median by p99 is reported)")
    ap.add_argument("--tipg", default=os.environ.get("TIPG_PYTHON"),
                    help="a Python interpreter with tipg and uvicorn installed")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk ontbreekt: apt-get install -y wrk")
    geo_dir = Path(os.environ.get("GEOVEILIG_GEO_DIR", ROOT.parent / "shared" / "geo"))
    geo_dir = (ROOT / geo_dir).resolve() if not geo_dir.is_absolute() else geo_dir
    tmp = Path(tempfile.mkdtemp(prefix="bench_tiles_"))
    rows: list[dict[str, object]] = []
    skipped: dict[str, str] = {}
    cold: dict[str, float] = {}
    sizes: dict[str, int] = {}
    tiles = centre_tiles(geo_dir)

    def measure(label: str, server: str, url: str, headers: dict[str, str],
                connections: int | None = None) -> None:
        warm = httpx.get(url, headers=headers, timeout=120)
        if warm.status_code not in (200, 304):
            warm.raise_for_status()
        c = connections or args.connections
        runs = sorted((run_wrk(url, args.duration, c, min(args.threads, c), headers)
                       for _ in range(args.repeat)), key=lambda r: r["p99_ms"])
        rows.append({"server": server, "request": label, "connections": c,
                     **runs[len(runs) // 2],
                     "p99_runs_ms": [r["p99_ms"] for r in runs]})
        if any(r["non2xx"] for r in runs):  # refusals (429, 5xx) timed: not a figure
            rows[-1]["invalid"] = "non-2xx/3xx responses: this row times errors"
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)

    def timed(url: str, headers: dict[str, str]) -> tuple[float, httpx.Response]:
        t = time.perf_counter()
        r = httpx.get(url, headers=headers, timeout=300)
        r.raise_for_status()
        return (time.perf_counter() - t) * 1000, r

    # --- SQLite store: hotspot tiles beside the hotspot GeoJSON layer ------------------------
    keys = load(f"sqlite:///{tmp / 'geoveilig.sqlite'}", geo_dir, tmp)
    port = free_port()
    proc = start_geoveilig(tmp, geo_dir, port, 1, "serve")
    try:
        base = f"http://127.0.0.1:{port}/v1"
        wait_up(f"http://127.0.0.1:{port}/health", proc, timeout=300)
        analyst = {"X-API-Key": keys["analyst"]}
        z, y, x = tiles["WebMercatorQuad"]
        tile = base + HOTSPOTS.format(what=f"tiles/WebMercatorQuad/{z}/{y}/{x}")
        cold["first hotspot tile (surface computed)"], _ = timed(tile, analyst)
        new = base + HOTSPOTS.format(what=f"tiles/WebMercatorQuad/{z}/{y}/{x + 1}")
        cold["new hotspot tile, layer built (clip + encode)"], _ = timed(new, analyst)
        zr, yr, xr = tiles["NetherlandsRDNewQuad"]
        rd_tile = base + HOTSPOTS.format(what=f"tiles/NetherlandsRDNewQuad/{zr}/{yr}/{xr}")
        cold["new hotspot tile RD, layer built (project + clip + encode)"], _ = timed(
            rd_tile, analyst)
        layer = base + HOTSPOTS.format(what="items") + "&limit=10000"
        for name, url in ((f"hotspot tile WebMercatorQuad/{z}", tile),
                          (f"hotspot tile NetherlandsRDNewQuad/{zr}", rd_tile),
                          ("hotspot layer GeoJSON (whole)", layer)):
            body = httpx.get(url, headers=analyst, timeout=120)
            sizes[name] = len(body.content)
            sizes[name + " gzip"] = int(httpx.get(url, headers={
                **analyst, "Accept-Encoding": "gzip"}, timeout=120).headers["content-length"])
            measure(f"{name} identity", "geoveilig (SQLite)", url, analyst)
            measure(f"{name} gzip", "geoveilig (SQLite)", url,
                    {**analyst, "Accept-Encoding": "gzip"})
        tag = httpx.get(tile, headers=analyst).headers["etag"]
        measure(f"hotspot tile WebMercatorQuad/{z} 304", "geoveilig (SQLite)", tile,
                {**analyst, "If-None-Match": tag})
        # a public tile (buurten): the same cached path without the audit row that every read
        # of a restricted layer (hotspots: analyst) writes
        public = f"{base}/collections/buurten/tiles/WebMercatorQuad/{z}/{y}/{x}"
        measure(f"buurten tile WebMercatorQuad/{z} identity (public)", "geoveilig (SQLite)",
                public, {})
        # the same cached tile with fewer connections in flight (less queueing in wrk)
        measure(f"hotspot tile WebMercatorQuad/{z} identity", "geoveilig (SQLite)", tile,
                analyst, connections=4)
        tile_body = httpx.get(tile, headers=analyst).content
    finally:
        stop(proc)
    # the floor for a response of this size on this machine: a bare Starlette app sending the
    # same bytes from memory (no routing, key, audit or cache lookup)
    port = free_port()
    proc = start_bare(tmp, tile_body, port)
    try:
        wait_up(f"http://127.0.0.1:{port}/items", proc)
        for c in (args.connections, 4):
            measure(f"hotspot tile WebMercatorQuad/{z} identity", "bare Starlette (bytes)",
                    f"http://127.0.0.1:{port}/items", {}, connections=c)
    finally:
        stop(proc)

    # --- PostGIS: ST_AsMVT incident tiles, and tipg on the same table -----------------------
    pg = os.environ.get("GEOVEILIG_BENCH_POSTGRES_URL") or os.environ.get(
        "GEOVEILIG_TEST_POSTGRES_URL")
    if not pg:
        skipped["PostGIS rows and tipg"] = "no PostgreSQL server (GEOVEILIG_TEST_POSTGRES_URL)"
    else:
        with throwaway_database(pg, "gv_bench_tiles") as db:
            keys = load(db, geo_dir, tmp)
            police = {"X-API-Key": keys["police"]}
            port = free_port()
            os.environ["GEOVEILIG_DATABASE_URL"] = db
            try:
                proc = start_geoveilig(tmp, geo_dir, port, 1, "serve")
            finally:
                del os.environ["GEOVEILIG_DATABASE_URL"]
            z, y, x = tiles["WebMercatorQuad"]
            try:
                base = f"http://127.0.0.1:{port}/v1"
                wait_up(f"http://127.0.0.1:{port}/health", proc, timeout=300)
                inc = f"{base}/collections/incidents/tiles/WebMercatorQuad/{z}/{y}/{x}"
                cold["new incident tile (ST_AsMVT)"], r = timed(inc, police)
                sizes[f"incident tile WebMercatorQuad/{z}"] = len(r.content)
                measure(f"incident tile WebMercatorQuad/{z} identity", "geoveilig (PostGIS)",
                        inc, police)
                measure(f"incident tile WebMercatorQuad/{z} gzip", "geoveilig (PostGIS)",
                        inc, {**police, "Accept-Encoding": "gzip"})
            finally:
                stop(proc)
            if not args.tipg:
                skipped["tipg"] = ("no Python with tipg given (--tipg or TIPG_PYTHON); it "
                                   "installs from PyPI into its own venv")
            else:
                port = free_port()
                proc = start_tipg(args.tipg, db, port)
                try:
                    wait_up(f"http://127.0.0.1:{port}/healthz", proc, timeout=120)
                    # tipg's path is {z}/{x}/{y}
                    url = (f"http://127.0.0.1:{port}/collections/public.incidents/tiles/"
                           f"WebMercatorQuad/{z}/{x}/{y}")
                    cold["tipg incident tile"], r = timed(url, {})
                    sizes[f"tipg incident tile WebMercatorQuad/{z}"] = len(r.content)
                    measure(f"incident tile WebMercatorQuad/{z} identity", "tipg (PostGIS)",
                            url, {})
                finally:
                    stop(proc)

    print(f"{'server':22} {'request':44} {'conn':>4} {'req/s':>8} {'p50 ms':>7} "
          f"{'p99 ms':>7} {'non2xx':>6}  p99 of each run")
    for r in rows:
        each = " ".join(f"{v:.1f}" for v in r["p99_runs_ms"])
        print(f"{r['server']:22} {r['request']:44} {r['connections']:>4} {r['rps']:>8.0f} "
              f"{r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} {r['non2xx']:>6}  {each}"
              + ("  INVALID: errors timed" if r.get("invalid") else ""))
    print(f"load average while running (1, 5, 15 min): {os.getloadavg()}; "
          f"{os.cpu_count()} CPUs")
    for k, v in cold.items():
        print(f"cold: {k}: {v:.0f} ms")
    for k, v in sizes.items():
        print(f"size: {k}: {v / 1000:.1f} kB")
    for k, v in skipped.items():
        print(f"not run: {k}: {v}")
    print(json.dumps({"benchmark": "tiles", "wrk": {"threads": args.threads,
                      "connections": args.connections, "duration_s": args.duration,
                      "repeat": args.repeat}, "tiles": tiles, "rows": rows,
                      "cold_ms": {k: round(v, 1) for k, v in cold.items()},
                      "bytes": sizes, "not_run": skipped,
                      "load_average": os.getloadavg()}))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
