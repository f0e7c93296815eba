"""Shared setup of the API tests: a small store (every 25th demo incident, the demo
prevention registry) and one API key per role."""

from __future__ import annotations

import hashlib
from pathlib import Path

import geopandas as gpd

from geoveilig.areas import Areas
from geoveilig.settings import Settings
from geoveilig.store import Store


def build_store(tmp: Path, shared_geo: Path, areas: Areas, demo: gpd.GeoDataFrame
                ) -> tuple[Settings, dict[str, str]]:
    from geoveilig.demo import to_csv
    from geoveilig.demo.prevention import demo_prevention_groups
    from geoveilig.incidents import parse_incidents
    from geoveilig.store.keys import create_key
    from geoveilig.store.prevention import load_demo_registry

    sample = demo.iloc[::25].reset_index(drop=True)
    path = to_csv(sample, tmp / "sample.csv")
    data = path.read_bytes()
    parsed = parse_incidents(data, filename=path.name, areas=areas)
    store = Store.sqlite(tmp / "geoveilig.sqlite")
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
    settings = Settings(data_dir=tmp, geo_dir=shared_geo)
    return settings, keys
