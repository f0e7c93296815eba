"""Shared setup of the API tests: a small store (every 25th demo incident, the demo
prevention registry) and one API key per role."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import httpx

from geoveilig.areas import Areas
from geoveilig.settings import Settings
from geoveilig.store import Store


def build_store(tmp: Path, shared_geo: Path, areas: Areas, demo: gpd.GeoDataFrame,
                url: str | None = None) -> tuple[Settings, dict[str, str]]:
    """``url``: an empty database to fill instead of the SQLite file in ``tmp``."""
    from geoveilig.demo import to_csv
    from geoveilig.demo.prevention import demo_prevention_groups
    from geoveilig.incidents import parse_incidents
    from geoveilig.store.keys import create_key
    from geoveilig.store.prevention import load_demo_registry

    sample = demo.iloc[::25].reset_index(drop=True)
    path = to_csv(sample, tmp / "sample.csv")
    data = path.read_bytes()
    parsed = parse_incidents(data, filename=path.name, areas=areas)
    store = Store(url) if url else Store.sqlite(tmp / "geoveilig.sqlite")
    try:
        store.import_incidents(parsed, source_name="sample.csv",
                               content_sha256=hashlib.sha256(data).hexdigest(), synthetic=True)
        registry = demo_prevention_groups(areas, seed=42, incidents=demo)
        load_demo_registry(store, registry, source_name="demo",
                           known_buurten=list(areas.buurten["code"]))
        from geoveilig.demo.deployments import demo_deployments
        from geoveilig.store.deployments import add_deployments

        add_deployments(store, demo_deployments(areas))
        keys = {role: create_key(store, f"test-{role}", role)[1]
                for role in ("analyst", "police")}
    finally:
        store.close()
    # the general rate limit is off for the test clients (one address, hundreds of requests
    # per second); tests/test_api_abuse.py sets and tests it
    settings = Settings(data_dir=tmp, geo_dir=shared_geo, database_url=url, rate_limit="")
    return settings, keys


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_server(data_dir: Path, geo_dir: Path, **env: str) -> Iterator[str]:
    """``geoveilig serve`` (the product's own serving: uvicorn with uvloop, httptools and
    TCP_NODELAY) in its own process on 127.0.0.1 and a free port (GDAL and the browser need a
    real server; an in-process thread would share the GIL with the client). Yields the base
    URL; fails the test if the server does not come up."""
    import tempfile

    import pytest

    port = free_port()
    environ = {**os.environ, "GEOVEILIG_DATA_DIR": str(data_dir),
               "GEOVEILIG_GEO_DIR": str(geo_dir), "GEOVEILIG_RATE_LIMIT": "", **env}
    exe = Path(sys.executable).with_name("geoveilig")
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: the access log never blocks
        proc = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
                                env=environ, stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 240  # a loaded CI machine: start-up can take minutes
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                log.seek(0)
                pytest.fail(f"geoveilig serve did not start: {log.read().decode()[-2000:]}")
            time.sleep(0.1)
        try:
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=10)
