"""In-process cost of a cached vector tile: the app called as an ASGI callable (no sockets,
no uvicorn) 10,000 times per row, beside a bare Starlette app sending the same bytes (the
floor of routing + response in Starlette itself). Where ``bench_tiles.py`` measures the
service under ``wrk``, this isolates what our own layers (middleware, auth, cache lookup,
ETag, audit) cost per request, in microseconds, with ``--profile`` a cProfile of the
identity row by function.

    .venv/bin/python benchmarks/bench_tile_path.py [--n 10000] [--profile] [--data DIR]

Needs the CBS boundaries (``GEOVEILIG_GEO_DIR``, default ``../shared/geo``); the demo data is
loaded into a SQLite store in ``--data`` (made once, reused). Prints a table and one JSON
line; nothing here is a timed assertion.

Rows: the hotspot layer (inbraak, prospective; analyst key, so every read is audited) as one
cached tile at WebMercatorQuad zoom 14 over the middle of Helmond, identity, gzip and
revalidated (304); a public buurten tile (no audit row); the bare app, identity and gzip."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gzip
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_tiles import HOTSPOTS, centre_tiles, load

ROOT = Path(__file__).resolve().parents[1]


def _scope(path: str, query: str, headers: dict[str, str]) -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1", "method": "GET", "scheme": "http", "path": path,
            "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
            "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench"),
                        (b"accept", b"*/*"),
                        *((k.lower().encode(), v.encode()) for k, v in headers.items())],
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}


async def _call(app: Any, scope: dict[str, Any]) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(dict(scope), receive, send)
    return (sent[0]["status"], dict(sent[0]["headers"]),
            b"".join(m.get("body", b"") for m in sent[1:]))


async def _loop(app: Any, scope: dict[str, Any], n: int, concurrency: int
                ) -> tuple[float, float]:
    """Microseconds per request over ``n`` calls, ``concurrency`` at a time (as a server's
    connections: the audit rows of concurrent requests share a commit): wall-clock time and
    the CPU time of the process (all threads: the audit writer's too; less sensitive to
    other processes on a busy machine)."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    async def client(count: int) -> None:
        for _ in range(count):
            await app(dict(scope), receive, send)

    done = n // concurrency * concurrency
    t, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client(n // concurrency) for _ in range(concurrency)))
    return ((time.perf_counter() - t) / done * 1e6, (time.process_time() - cpu) / done * 1e6)


def bare_app(body: bytes) -> Any:
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    zipped = gzip.compress(body, compresslevel=6, mtime=0)

    async def tile(request: Any) -> Response:
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(zipped, media_type="application/vnd.mapbox-vector-tile",
                            headers={"Content-Encoding": "gzip"})
        return Response(body, media_type="application/vnd.mapbox-vector-tile")

    return Starlette(routes=[Route("/tile", tile)])


async def run(args: argparse.Namespace, data: Path, geo_dir: Path) -> dict[str, Any]:
    from geoveilig.api.app import create_app
    from geoveilig.settings import Settings

    keys_file = data / "keys.json"
    if not keys_file.exists():
        keys_file.write_text(json.dumps(load(f"sqlite:///{data / 'geoveilig.sqlite'}",
                                             geo_dir, data)))
    keys = json.loads(keys_file.read_text())
    settings = Settings(data_dir=data, geo_dir=geo_dir, rate_limit="", rate_limit_heavy="")
    app = create_app(settings)
    z, y, x = centre_tiles(geo_dir)["WebMercatorQuad"]
    path, _, query = ("/v1" + HOTSPOTS.format(what=f"tiles/WebMercatorQuad/{z}/{y}/{x}")
                      ).partition("?")
    analyst = {"X-API-Key": keys["analyst"]}
    rows: list[dict[str, Any]] = []
    layers: list[dict[str, Any]] = []
    async with app.router.lifespan_context(app):
        scopes = {
            "hotspots tile, identity": _scope(path, query, analyst),
            "hotspots tile, gzip": _scope(path, query, {**analyst,
                                                         "Accept-Encoding": "gzip"}),
        }
        status, headers, body = await _call(app, scopes["hotspots tile, identity"])
        assert status == 200, (status, body[:300])
        scopes["hotspots tile, 304"] = _scope(path, query, {
            **analyst, "If-None-Match": headers[b"etag"].decode()})
        scopes["buurten tile (public)"] = _scope(
            f"/v1/collections/buurten/tiles/WebMercatorQuad/{z}/{y}/{x}", "", {})
        for label, scope in scopes.items():
            status, _h, _b = await _call(app, scope)  # warm (built and cached)
            assert status in (200, 304), (label, status)
            wall, cpu = await _loop(app, scope, args.n, args.concurrency)
            rows.append({"app": "geoveilig", "request": label, "status": status,
                         "us_per_request": round(wall, 1), "cpu_us_per_request": round(cpu, 1)})
        # per layer: the same request entered at each level of the middleware stack, down to
        # the cached-tile lookup (the difference between two levels is what the outer one
        # costs; below it the request would go to the route)
        level: Any = app
        entered = "FastAPI.__call__ (telemetry check)"
        stack = app.middleware_stack
        while True:
            for label in ("buurten tile (public)", "hotspots tile, identity"):
                scope = {**scopes[label], "app": app}
                wall, cpu = await _loop(level, scope, args.n // 2, args.concurrency)
                layers.append({"entered at": entered, "request": label,
                               "us_per_request": round(wall, 1),
                               "cpu_us_per_request": round(cpu, 1)})
            if entered == "CachedTiles":
                break
            level = stack if level is app else level.app
            entered = type(level).__name__
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            await _loop(app, scopes[args.profile_row], args.n, args.concurrency)
            profile.disable()
            stats = pstats.Stats(profile, stream=sys.stderr)
            stats.sort_stats("tottime").print_stats(30)
            stats.sort_stats("cumulative").print_stats(40)
    bare = bare_app(body)
    async with bare.router.lifespan_context(bare):
        for label, extra in (("bare Starlette, identity", {}),
                             ("bare Starlette, gzip", {"Accept-Encoding": "gzip"})):
            scope = _scope("/tile", "", extra)
            status, _h, _b = await _call(bare, scope)
            wall, cpu = await _loop(bare, scope, args.n, args.concurrency)
            rows.append({"app": "bare", "request": label, "status": status,
                         "us_per_request": round(wall, 1), "cpu_us_per_request": round(cpu, 1)})
    return {"rows": rows, "layers": layers, "tile_bytes": len(body), "n": args.n,
            "concurrency": args.concurrency,
            "loadavg": os.getloadavg()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=16,
                    help="requests in flight at a time (1: sequential latency)")
    ap.add_argument("--profile", action="store_true",
                    help="print a cProfile of one row (--profile-row) on stderr")
    ap.add_argument("--profile-row", default="hotspots tile, identity")
    ap.add_argument("--data", type=Path, default=None,
                    help="directory for the demo store (kept; default: a new temporary one)")
    args = ap.parse_args()
    geo_dir = Path(os.environ.get("GEOVEILIG_GEO_DIR", ROOT.parent / "shared" / "geo"))
    geo_dir = (ROOT / geo_dir).resolve() if not geo_dir.is_absolute() else geo_dir
    data = args.data or Path(tempfile.mkdtemp(prefix="bench_tile_path_"))
    data.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(run(args, data, geo_dir))
    print(f"{'app':10} {'request':28} {'status':>6} {'wall us/req':>11} {'cpu us/req':>10}")
    for r in result["rows"]:
        print(f"{r['app']:10} {r['request']:28} {r['status']:>6} {r['us_per_request']:>11.1f} "
              f"{r['cpu_us_per_request']:>10.1f}")
    print(f"\n{'entered at':36} {'request':28} {'wall us/req':>11} {'cpu us/req':>10}")
    for r in result["layers"]:
        print(f"{r['entered at']:36} {r['request']:28} {r['us_per_request']:>11.1f} "
              f"{r['cpu_us_per_request']:>10.1f}")
    print(f"load average {result['loadavg'][0]:.2f}; tile {result['tile_bytes']} bytes")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
