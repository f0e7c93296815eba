"""Store benchmark: SQLite (the embedded default, the reference) and PostgreSQL + PostGIS side
by side on the same 1,000,000 synthetic incidents (not demo data):

- import: ``Store.import_incidents`` into an empty store (rows/s; SQLite: Arrow column chunks,
  PostgreSQL: COPY into the row table), and a re-import of the same rows (all already present);
- wijk aggregation: incidents per ``wijk_code`` in one year (``Store.incidents`` for the year,
  counted with pandas, as ``geoveilig.stats`` does);
- bbox query: ``Store.incidents(bbox=...)`` for a 1 x 1 km box (SQLite: the chunks' zone maps
  and an Arrow filter; PostGIS ``ST_Intersects`` on the GiST index) and ``count_incidents`` for
  the same box.

Both backends must return identical aggregations and bbox results (checked). PostgreSQL: the
server from ``--postgres-url`` / ``GEOVEILIG_TEST_POSTGRES_URL``, otherwise a throwaway cluster
started with ``.ci/pg-cluster`` (fsync off, like CI). Prints a table and one JSON line.

    .venv/bin/python benchmarks/bench_store.py [--n 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _pg import throwaway_database
from _synth import points_inside

from geoveilig.areas import load_areas
from geoveilig.crimetypes import SLUGS
from geoveilig.incidents import ParseResult, content_hash
from geoveilig.store import Store

ROOT = Path(__file__).resolve().parents[1]


def synthetic(n: int, seed: int = 0) -> ParseResult:
    geo = Path(os.environ.get("GEOVEILIG_GEO_DIR", ROOT.parent / "shared" / "geo"))
    areas = load_areas(geo if geo.is_absolute() else ROOT / geo)
    x, y = points_inside(areas, n + n // 20 + 10, seed)
    x, y = np.round(x, 1), np.round(y, 1)
    codes = areas.assign(x, y)
    ok = codes["buurt_code"].notna().to_numpy()  # rounding can push a point out of Helmond
    x, y, codes = x[ok][:n], y[ok][:n], codes.loc[ok].iloc[:n]
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2012-01-01", tz="Europe/Amsterdam").value
    span = pd.Timestamp("2018-04-01", tz="Europe/Amsterdam").value - start
    t = pd.to_datetime(start + (rng.random(n) * span).astype(np.int64), utc=True) \
        .floor("min").tz_convert("Europe/Amsterdam")
    frame = pd.DataFrame({
        "row": np.arange(2, n + 2),
        "incident_id": np.char.add("B-", np.arange(n).astype(str)).astype(object),
        "crime_type": np.asarray(SLUGS, dtype=object)[rng.integers(0, len(SLUGS), n)],
        "occurred_at": t,
        "occurred_from": pd.Series(pd.NaT, index=range(n), dtype=t.dtype),
        "occurred_to": pd.Series(pd.NaT, index=range(n), dtype=t.dtype),
        "x": x, "y": y, "buurt_code": codes["buurt_code"].to_numpy(dtype=object),
        "wijk_code": codes["wijk_code"].to_numpy(dtype=object), "address": None,
    })
    frame["content_hash"] = content_hash(frame[["crime_type", "occurred_at", "occurred_from",
                                                "occurred_to", "address", "x", "y"]])
    rejects = pd.DataFrame(columns=["row", "column", "value", "reason"])
    return ParseResult(incidents=frame, rejects=rejects, n_rows=n, coordinate_system=None)


def wijk_counts(store: Store, year: int) -> dict[str, int]:
    """Incidents per wijk in one year, as ``geoveilig.stats`` gets them: the year's incidents
    from the store, counted with pandas."""
    found = store.incidents(start=f"{year}-01-01", end=f"{year + 1}-01-01")
    counts = found["wijk_code"].value_counts().sort_index()
    return {str(w): int(c) for w, c in counts.items()}


def best(fn, repeat: int = 5) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def run(store: Store, data: ParseResult, box: tuple[float, ...]) -> dict:
    t0 = time.perf_counter()
    s = store.import_incidents(data, source_name="bench", content_sha256="b" * 64)
    t_import = time.perf_counter() - t0
    assert s.accepted == data.n_rows
    t0 = time.perf_counter()
    again = store.import_incidents(data, source_name="bench2", content_sha256="c" * 64)
    t_again = time.perf_counter() - t0
    assert again.already_present == data.n_rows
    if store.engine.dialect.name == "postgresql":
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE incidents")
    t_wijk, wijk = best(lambda: wijk_counts(store, 2017))
    t_bbox, frame = best(lambda: store.incidents(bbox=box))
    t_count, count = best(lambda: store.count_incidents(bbox=box))
    return {"import_s": t_import, "import_rows_per_s": data.n_rows / t_import,
            "reimport_s": t_again, "wijk_aggregation_ms": 1000 * t_wijk,
            "bbox_incidents_ms": 1000 * t_bbox, "bbox_count_ms": 1000 * t_count,
            "bbox_rows": len(frame), "_wijk": wijk, "_ids": sorted(frame["incident_id"]),
            "_count": count}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--postgres-url", default=os.environ.get("GEOVEILIG_TEST_POSTGRES_URL"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    data = synthetic(args.n)
    print(f"{args.n} synthetic incidents in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    x, y = data.incidents["x"].median(), data.incidents["y"].median()
    box = (x - 500, y - 500, x + 500, y + 500)

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        with Store.sqlite(Path(tmp) / "bench.sqlite") as store:
            results["sqlite"] = run(store, data, box)
        cluster = None
        url = args.postgres_url
        if not url:
            cluster = Path(tempfile.mkdtemp(prefix="geoveilig-bench-pg."))  # /tmp: reachable
            subprocess.run([str(ROOT / ".ci" / "pg-cluster"), "install"], check=True)
            url = subprocess.run([str(ROOT / ".ci" / "pg-cluster"), "start", str(cluster)],
                                 check=True, capture_output=True, text=True).stdout.strip()
        try:
            with throwaway_database(url, "gv_bench") as db_url, Store(db_url) as store:
                results["postgis"] = run(store, data, box)
        finally:
            if cluster is not None:
                subprocess.run([str(ROOT / ".ci" / "pg-cluster"), "stop", str(cluster)],
                               check=False)

    lite, pg = results["sqlite"], results["postgis"]
    assert lite["_wijk"] == pg["_wijk"], "wijk aggregation differs between backends"
    assert lite["_ids"] == pg["_ids"] and lite["_count"] == pg["_count"] == lite["bbox_rows"]
    for r in results.values():
        for k in [k for k in r if k.startswith("_")]:
            del r[k]
    rows = [("import (rows/s)", "import_rows_per_s", "{:,.0f}"),
            ("import (s)", "import_s", "{:.1f}"),
            ("re-import, all present (s)", "reimport_s", "{:.1f}"),
            ("wijk aggregation 2017 (ms)", "wijk_aggregation_ms", "{:.1f}"),
            ("bbox 1 km² incidents (ms)", "bbox_incidents_ms", "{:.1f}"),
            ("bbox 1 km² count (ms)", "bbox_count_ms", "{:.1f}"),
            ("bbox rows", "bbox_rows", "{:,}")]
    print(f"{'':30} {'SQLite':>12} {'PostGIS':>12}")
    for label, key, fmt in rows:
        print(f"{label:30} {fmt.format(lite[key]):>12} {fmt.format(pg[key]):>12}")
    print(json.dumps({"benchmark": "store", "n": args.n, "bbox": box, **results}))


if __name__ == "__main__":
    main()
