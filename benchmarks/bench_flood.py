"""Flood benchmark: one analyst key floods the planning endpoint from many clients while a
normal user (another address) reads ``/v1/collections``; how slow does the normal user get?

    .venv/bin/python benchmarks/bench_flood.py [--duration 20] [--clients 60]

Runs ``geoveilig serve`` (one worker, loopback) twice on the same store (every 25th demo
incident): the reference, with the abuse limits switched off (no rate limits, an unbounded job
queue, no per-caller cap: how the service behaved before), and the service as configured by
default (rate limits, bounded queue, per-caller cap). Per run: the latency of
``/v1/collections`` when idle (200 requests, one every 20 ms) and during the flood (one
request every 20 ms from 127.0.0.2 while 60 asyncio clients on 127.0.0.1, in another process,
post planning bodies that are all different, so each would be a new job, as fast as the server
answers them), and the answers the flood got. Prints a table and one JSON line. Bounded runs;
nothing here is a timed assertion.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

REFERENCE_ENV = {"GEOVEILIG_RATE_LIMIT": "", "GEOVEILIG_RATE_LIMIT_HEAVY": "",
                 "GEOVEILIG_JOB_QUEUE": "1000000", "GEOVEILIG_JOBS_PER_CALLER": "1000000"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build(tmp: Path, geo: Path) -> str:
    """A store with every 25th demo incident and an analyst key; returns the key."""
    import hashlib

    from geoveilig.areas import load_areas
    from geoveilig.demo import generate_incidents, to_csv
    from geoveilig.incidents import parse_incidents
    from geoveilig.store import Store
    from geoveilig.store.keys import create_key

    areas = load_areas(geo)
    sample = generate_incidents(areas, seed=42).iloc[::25].reset_index(drop=True)
    path = to_csv(sample, tmp / "sample.csv")
    data = path.read_bytes()
    store = Store.sqlite(tmp / "geoveilig.sqlite")
    try:
        store.import_incidents(parse_incidents(data, filename=path.name, areas=areas),
                               source_name=path.name,
                               content_sha256=hashlib.sha256(data).hexdigest(), synthetic=True)
        return create_key(store, "flood", "analyst")[1]
    finally:
        store.close()


def probe(base: str, stop: threading.Event | None, n: int | None, pause: float) -> list[float]:
    """Latencies (ms) of GET /v1/collections from 127.0.0.2."""
    out: list[float] = []
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(transport=transport, timeout=30) as c:
        while (stop is None or not stop.is_set()) and (n is None or len(out) < n):
            t = time.perf_counter()
            r = c.get(f"{base}/v1/collections")
            out.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.text
            time.sleep(pause)
    return out


async def flood(base: str, key: str, clients: int, duration: float) -> collections.Counter:
    statuses: collections.Counter = collections.Counter()
    end = time.monotonic() + duration
    rng = random.Random(0)

    async def one(c: httpx.AsyncClient) -> None:
        while time.monotonic() < end:
            body = {"count": rng.randint(1, 500), "radius": rng.randint(50, 2000)}
            try:
                r = await c.post(f"{base}/v1/recommendations/alarms", json=body,
                                 headers={"X-API-Key": key})
                statuses[r.status_code] += 1
            except httpx.HTTPError:
                statuses["error"] += 1

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(timeout=30, limits=limits) as c:
        await asyncio.gather(*(one(c) for _ in range(clients)))
    return statuses


def _flood_process(base: str, key: str, clients: int, duration: float,
                   answers: multiprocessing.Queue) -> None:
    answers.put(asyncio.run(flood(base, key, clients, duration)))


def run(label: str, tmp: Path, geo: Path, key: str, env: dict[str, str], duration: float,
        clients: int) -> dict[str, object]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    environ = {**os.environ, "GEOVEILIG_DATA_DIR": str(tmp), "GEOVEILIG_GEO_DIR": str(geo),
               **env}
    exe = Path(sys.executable).with_name("geoveilig")
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
                                env=environ, stdout=log, stderr=log)
        try:
            deadline = time.time() + 120
            while True:
                try:
                    if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.time() > deadline or proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(log.read().decode()[-2000:])
                time.sleep(0.2)
            probe(base, None, 20, 0.02)  # warm-up (the probe stays under 100/s)
            idle = probe(base, None, 200, 0.02)
            # the flood runs in its own process: the probe's timings must not include the
            # flooding client's own CPU and GIL
            ctx = multiprocessing.get_context("spawn")
            answers = ctx.Queue()
            flooder = ctx.Process(target=_flood_process, args=(base, key, clients, duration,
                                                               answers))
            stop = threading.Event()
            during: list[float] = []
            t = threading.Thread(target=lambda: during.extend(probe(base, stop, None, 0.02)))
            flooder.start()
            time.sleep(1.0)  # the flood is under way
            t.start()
            statuses = answers.get(timeout=duration + 120)
            stop.set()
            t.join()
            flooder.join(timeout=30)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    return {"label": label,
            "idle_p50_ms": round(float(np.percentile(idle, 50)), 1),
            "idle_p99_ms": round(float(np.percentile(idle, 99)), 1),
            "flood_p50_ms": round(float(np.percentile(during, 50)), 1),
            "flood_p99_ms": round(float(np.percentile(during, 99)), 1),
            "flood_max_ms": round(float(np.max(during)), 1),
            "probes": len(during),
            "flood_requests": sum(statuses.values()),
            "answers": {str(k): v for k, v in sorted(statuses.items(), key=str)}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--clients", type=int, default=60)
    args = ap.parse_args()
    geo = Path(os.environ.get("GEOVEILIG_GEO_DIR", ROOT.parent / "shared" / "geo")).resolve()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        key = build(tmp, geo)
        rows = [run("reference: no limits", tmp, geo, key, REFERENCE_ENV, args.duration,
                    args.clients),
                run("geoveilig: default limits", tmp, geo, key, {}, args.duration,
                    args.clients)]
    print(f"{'run':28} {'idle p50':>9} {'idle p99':>9} {'flood p50':>10} {'flood p99':>10} "
          f"{'max':>8} {'flood reqs':>10}  answers")
    for r in rows:
        print(f"{r['label']:28} {r['idle_p50_ms']:>9} {r['idle_p99_ms']:>9} "
              f"{r['flood_p50_ms']:>10} {r['flood_p99_ms']:>10} {r['flood_max_ms']:>8} "
              f"{r['flood_requests']:>10}  {r['answers']}")
    print(json.dumps({"benchmark": "flood", "duration_s": args.duration,
                      "clients": args.clients, "runs": rows}))


if __name__ == "__main__":
    main()
