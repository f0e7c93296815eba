"""Benchmark of the HTTP API with ``wrk`` on loopback, side by side with pygeoapi serving the same
wijken and buurten (same properties, GeoJSON provider) with the same number of workers.

    .venv/bin/python benchmarks/bench_api.py [--duration 5] [--connections 16] [--threads 2]
        [--repeat 3]

Needs ``wrk`` (Debian package ``wrk``) and the CBS boundaries (``GEOVEILIG_GEO_DIR``, default
``../shared/geo``). Loads the full synthetic demo incidents into a temporary store. Prints a
table and one JSON line. Runs are bounded (``-d``); nothing here is a timed assertion.

Each layer is requested as wrk sends it (no ``Accept-Encoding``: identity) and as browsers,
GDAL and QGIS send it (``Accept-Encoding: gzip``); the hotspot layer also as a map revalidating
it (``If-None-Match``: 304). Rows: our service as ``geoveilig serve`` runs it (uvloop,
httptools, TCP_NODELAY) with one and two uvicorn workers; with two workers on plain asyncio +
h11, without and with ``geoveilig.api.server.NoDelayH11Protocol`` (uvicorn issue #3149: Nagle's
algorithm on kept-alive connections in multi-worker mode on asyncio); a bare Starlette app
sending the hotspot layer's bytes from memory (the floor for a response of that size on this
machine); then pygeoapi with one worker. If pygeoapi is not importable, a plain FastAPI
endpoint returning ``GeoDataFrame.to_json()`` stands in. The hotspot layer (analyst key) is
measured for our service only: pygeoapi has no equivalent (it could only serve a precomputed
file)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
RD = "http://www.opengis.net/def/crs/EPSG/0/28992"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-3000:]}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not come up")


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        return float("nan")
    v = float(m.group(1))
    return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v


def run_wrk(url: str, duration: int, connections: int, threads: int,
            headers: dict[str, str] | None = None) -> dict[str, float]:
    extra = [a for k, v in (headers or {}).items() for a in ("-H", f"{k}: {v}")]
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s",
                          "--timeout", "5s", "--latency", *extra, url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99,
            "non2xx": int(errors.group(1)) if errors else 0}


def prepare_data(tmp: Path, geo_dir: Path) -> str:
    """Load the demo data; write wijken/buurten GeoJSON for pygeoapi; return an analyst key."""
    from geoveilig.areas import load_areas
    from geoveilig.demo import generate_incidents, to_csv
    from geoveilig.incidents import parse_incidents
    from geoveilig.layers import LayerContext, get_layer
    from geoveilig.store import Store
    from geoveilig.store.keys import create_key

    areas = load_areas(geo_dir)
    incidents = generate_incidents(areas, seed=42)
    path = to_csv(incidents, tmp / "demo.csv")
    data = path.read_bytes()
    store = Store.sqlite(tmp / "geoveilig.sqlite")
    try:
        store.import_incidents(parse_incidents(data, filename=path.name, areas=areas),
                               source_name=path.name,
                               content_sha256=hashlib.sha256(data).hexdigest(), synthetic=True)
        ctx = LayerContext(areas=areas, store=store)
        for lid in ("wijken", "buurten"):  # the same features for pygeoapi, in CRS84
            layer = get_layer(lid)
            frame = layer.build(ctx, layer.parse_params({}), "public").to_crs("OGC:CRS84")
            (tmp / f"{lid}.geojson").write_text(frame.to_json(drop_id=True))
        _record, key = create_key(store, "benchmark", "analyst")
    finally:
        store.close()
    return key


PYGEOAPI_CONFIG = """
server:
  bind: {{host: 127.0.0.1, port: {port}}}
  url: http://127.0.0.1:{port}
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  languages: [en-US]
  limits: {{default_items: 100, max_items: 10000}}
  map: {{url: 'https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png', attribution: OSM}}
logging: {{level: ERROR}}
metadata:
  identification: {{title: bench, description: bench, keywords: [bench], keywords_type: theme,
                   terms_of_service: none, url: 'http://example.org'}}
  license: {{name: CC-BY 4.0, url: 'https://creativecommons.org/licenses/by/4.0/'}}
  provider: {{name: bench, url: 'http://example.org'}}
  contact: {{name: bench}}
resources:
{resources}
"""

RESOURCE = """  {lid}:
    type: collection
    title: {lid}
    description: {lid}
    keywords: [{lid}]
    extents:
      spatial: {{bbox: [5.5, 51.4, 5.8, 51.6], crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'}}
    providers:
      - type: feature
        name: GeoJSON
        data: {path}
        id_field: code
        crs: ['http://www.opengis.net/def/crs/OGC/1.3/CRS84', '{rd}']
        storage_crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'
"""


def start_pygeoapi(tmp: Path, port: int, workers: int) -> subprocess.Popen:
    resources = "".join(RESOURCE.format(lid=lid, path=tmp / f"{lid}.geojson", rd=RD)
                        for lid in ("wijken", "buurten"))
    cfg = tmp / "pygeoapi.yml"
    cfg.write_text(PYGEOAPI_CONFIG.format(port=port, resources=resources))
    oas = tmp / "pygeoapi-openapi.yml"
    exe = Path(sys.executable).with_name("pygeoapi")
    subprocess.run([str(exe), "openapi", "generate", str(cfg), "--output-file", str(oas)],
                   check=True, capture_output=True)
    env = {**os.environ, "PYGEOAPI_CONFIG": str(cfg), "PYGEOAPI_OPENAPI": str(oas)}
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "pygeoapi.starlette_app:APP", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--log-level", "warning",
         "--no-access-log"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


STAND_IN = '''
import geopandas as gpd
from fastapi import FastAPI, Response
app = FastAPI()
@app.get("/collections/{lid}/items")
def items(lid: str, crs: str | None = None, f: str | None = None) -> Response:
    gdf = gpd.read_file(f"{tmp}/{lid}.geojson")
    if crs:
        gdf = gdf.to_crs("EPSG:28992")
    return Response(gdf.to_json(), media_type="application/geo+json")
@app.get("/")
def root() -> dict:
    return {}
'''


def start_geoveilig(tmp: Path, geo_dir: Path, port: int, workers: int, serving: str
                    ) -> subprocess.Popen:
    """Our service as ``geoveilig serve`` runs it (uvloop, httptools, TCP_NODELAY), or on
    plain asyncio + h11 without and with the NoDelay protocol (uvicorn issue #3149 shows on
    asyncio only: uvloop sets TCP_NODELAY on accepted sockets itself)."""
    from geoveilig.api.server import HTTP_PROTOCOL

    options = {
        "serve": ["--loop", "auto", "--http", HTTP_PROTOCOL],
        "asyncio+h11": ["--loop", "asyncio", "--http", "h11"],
        "asyncio+h11+nodelay": ["--loop", "asyncio", "--http",
                                "geoveilig.api.server:NoDelayH11Protocol"],
    }[serving]
    # no rate limit: the default 100/second per client would answer most of wrk's requests
    # with 429 (counted as non2xx), and the rows would time the refusals
    env = {**os.environ, "GEOVEILIG_DATA_DIR": str(tmp), "GEOVEILIG_GEO_DIR": str(geo_dir),
           "GEOVEILIG_RATE_LIMIT": "", "GEOVEILIG_RATE_LIMIT_HEAVY": ""}
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "geoveilig.api.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
         "--log-level", "warning", "--no-access-log", *options],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


BARE = '''
import gzip
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
BODY = open("{path}", "rb").read()
GZ = gzip.compress(BODY, compresslevel=6, mtime=0)
async def items(request):
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(GZ, media_type="application/geo+json",
                        headers={{"Content-Encoding": "gzip"}})
    return Response(BODY, media_type="application/geo+json")
app = Starlette(routes=[Route("/items", items)])
'''


def start_bare(tmp: Path, body: bytes, port: int) -> subprocess.Popen:
    """The floor for a response of this size here: a bare Starlette app (same uvicorn,
    uvloop and httptools) sending the same bytes from memory, no routing, auth or audit."""
    (tmp / "hotspots.body").write_bytes(body)
    (tmp / "bare.py").write_text(BARE.format(path=tmp / "hotspots.body"))
    return subprocess.Popen([sys.executable, "-m", "uvicorn", "bare:app", "--app-dir",
                             str(tmp), "--port", str(port), "--log-level", "warning",
                             "--no-access-log", "--http", "httptools"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3,
                    help="wrk runs per row for our one-worker service and the bare app "
                         "(the median by p99 is reported)")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk ontbreekt: apt-get install -y wrk")
    geo_dir = Path(os.environ.get("GEOVEILIG_GEO_DIR", ROOT.parent / "shared" / "geo"))
    geo_dir = (ROOT / geo_dir).resolve() if not geo_dir.is_absolute() else geo_dir
    tmp = Path(tempfile.mkdtemp(prefix="bench_api_"))
    t0 = time.perf_counter()
    key = prepare_data(tmp, geo_dir)
    print(f"data prepared in {time.perf_counter() - t0:.1f} s ({tmp})", file=sys.stderr)

    layers = {"wijken": "/collections/wijken/items",
              "buurten CRS84": "/collections/buurten/items",
              "buurten RD": f"/collections/buurten/items?crs={RD}"}
    rows: list[dict[str, object]] = []

    hotspots = "/collections/hotspots/items?crimeType=inbraak&method=prospective&limit=10000"

    # the same request twice: as wrk sends it (no Accept-Encoding) and as browsers, GDAL and
    # QGIS send it (Accept-Encoding: gzip)
    encodings = {"identity": {}, "gzip": {"Accept-Encoding": "gzip"}}

    def measure(url: str, headers: dict[str, str], repeat: int) -> dict[str, object]:
        """wrk ``repeat`` times; the median run by p99 (the p99 of one 5 s run moves by a
        few ms with whatever else this 2-core machine does), with every run's p99."""
        runs = sorted((run_wrk(url, args.duration, args.connections, args.threads, headers)
                       for _ in range(repeat)), key=lambda r: r["p99_ms"])
        return {**runs[len(runs) // 2], "p99_runs_ms": [r["p99_ms"] for r in runs]}

    def bench(server: str, workers: int, base: str, paths: dict[str, str],
              headers: dict[str, str] | None = None,
              which: tuple[str, ...] = ("identity", "gzip"), repeat: int = 1) -> None:
        for name, path in paths.items():
            url = base + path
            for enc in which:
                h = {**(headers or {}), **encodings[enc]}
                httpx.get(url, timeout=60, headers=h)  # warm the cache
                rows.append({"server": server, "workers": workers, "layer": name,
                             "encoding": enc, **measure(url, h, repeat)})

    # ours: cold timing of a computed layer, then wrk
    for workers, serving in ((1, "serve"), (2, "serve"), (2, "asyncio+h11"),
                             (2, "asyncio+h11+nodelay")):
        port = free_port()
        proc = start_geoveilig(tmp, geo_dir, port, workers, serving)
        try:
            base = f"http://127.0.0.1:{port}/v1"
            wait_up(f"http://127.0.0.1:{port}/health", proc)
            name = "geoveilig" + ("" if serving == "serve" else f" {serving}")
            if workers == 1:
                t = time.perf_counter()
                httpx.get(f"{base}/collections/buurten/items?crimeType=woninginbraak"
                          "&period=2016", timeout=60).raise_for_status()
                cold_ms = (time.perf_counter() - t) * 1000
                t = time.perf_counter()
                hs = httpx.get(base + hotspots, timeout=60, headers={"X-API-Key": key})
                hs.raise_for_status()
                cold_hotspots_ms = (time.perf_counter() - t) * 1000
                n_cells = hs.json()["numberReturned"]
                hs_bytes = len(hs.content)
                hs_body = hs.content
                hs_gzip_bytes = int(httpx.get(base + hotspots, timeout=60, headers={
                    "X-API-Key": key, "Accept-Encoding": "gzip"}).headers["content-length"])
                t = time.perf_counter()  # a second new surface: compute + serialise only
                httpx.get(base + hotspots.replace("prospective", "kde"), timeout=60,
                          headers={"X-API-Key": key}).raise_for_status()
                cold_kde_ms = (time.perf_counter() - t) * 1000
            bench(name, workers, base, layers,
                  which=("identity", "gzip") if workers == 1 else ("identity",),
                  repeat=args.repeat if workers == 1 else 1)
            if workers == 1:
                hs_name = f"hotspots ({n_cells} cells)"
                bench(name, workers, base, {hs_name: hotspots}, {"X-API-Key": key},
                      repeat=args.repeat)
                # a map that already has the layer revalidates it: 304
                tag = httpx.get(base + hotspots, timeout=60, headers={
                    "X-API-Key": key, "Accept-Encoding": "gzip"}).headers["etag"]
                rows.append({"server": name, "workers": workers, "layer": hs_name,
                             "encoding": "304", **measure(base + hotspots, {
                                 "X-API-Key": key, "Accept-Encoding": "gzip",
                                 "If-None-Match": tag}, args.repeat)})
        finally:
            stop(proc)

    port = free_port()
    proc = start_bare(tmp, hs_body, port)
    try:
        wait_up(f"http://127.0.0.1:{port}/items", proc)
        bench("bare Starlette (same bytes)", 1, f"http://127.0.0.1:{port}",
              {f"hotspots ({n_cells} cells)": "/items"}, repeat=args.repeat)
    finally:
        stop(proc)

    reference = "pygeoapi"
    try:
        import pygeoapi  # noqa: F401
    except ImportError:
        reference = "geopandas-to_json (stand-in)"
    port = free_port()
    if reference == "pygeoapi":
        proc = start_pygeoapi(tmp, port, 1)
    else:
        (tmp / "standin.py").write_text(STAND_IN.replace("{tmp}", str(tmp)))
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "standin:app", "--app-dir",
                                 str(tmp), "--port", str(port), "--log-level", "warning"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_up(f"http://127.0.0.1:{port}/collections/wijken/items?f=json", proc)
        layers = {k: v + ("&" if "?" in v else "?") + "f=json" for k, v in layers.items()}
        # the same two requests; pygeoapi's Starlette app does not compress (its own note:
        # "gzip currently doesn't work in starlette"), so it answers both uncompressed
        bench(reference, 1, f"http://127.0.0.1:{port}", layers)
    finally:
        stop(proc)

    print(f"{'server':30} {'workers':>7} {'layer':22} {'encoding':>8} {'req/s':>8} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'non2xx':>6}  p99 of each run")
    for r in rows:
        each = " ".join(f"{v:.1f}" for v in r["p99_runs_ms"]) if len(r["p99_runs_ms"]) > 1 \
            else ""
        print(f"{r['server']:30} {r['workers']:>7} {r['layer']:22} {r['encoding']:>8} "
              f"{r['rps']:>8.0f} {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} {r['non2xx']:>6}  "
              f"{each}")
    ours = {(r["layer"], r["encoding"]): r["rps"] for r in rows
            if r["server"].startswith("geoveilig") and r["workers"] == 1}
    ref = {(r["layer"], r["encoding"]): r["rps"] for r in rows if r["server"] == reference}
    speedup = {f"{k[0]} ({k[1]})": round(ours[k] / ref[k], 1) for k in ours if ref.get(k)}
    print("speed-up against " + reference + " (same request, same worker count): "
          + ", ".join(f"{k} {v}x" for k, v in speedup.items()))
    print(f"cold buurten layer (new crime type and period): {cold_ms:.0f} ms; cold hotspot "
          f"layer (inbraak, prospective, {n_cells} cells, whole response): "
          f"{cold_hotspots_ms:.0f} ms; another new hotspot layer (kde): {cold_kde_ms:.0f} ms; "
          f"hotspot response {hs_bytes / 1e6:.2f} MB, gzip {hs_gzip_bytes / 1e3:.0f} kB")
    print(json.dumps({"benchmark": "api", "wrk": {"threads": args.threads,
                      "connections": args.connections, "duration_s": args.duration},
                      "reference": reference, "rows": rows, "speedup_vs_reference": speedup,
                      "cold_layer_ms": round(cold_ms, 1),
                      "cold_hotspots_ms": round(cold_hotspots_ms, 1),
                      "cold_hotspots_kde_ms": round(cold_kde_ms, 1),
                      "hotspots_bytes": hs_bytes, "hotspots_gzip_bytes": hs_gzip_bytes}))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
