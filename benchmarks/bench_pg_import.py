"""PostGIS import at national scale, the store alone (issue 22): per-file store seconds as the
table grows, with the index set of migration 0015 beside the index set before it (the
reference: the same write path with the ``(x, y)`` btree and the ``occurred_at`` btree back).

    .venv/bin/python benchmarks/bench_pg_import.py [--files 8] [--layouts current,before]

Needs ``GEOVEILIG_TEST_POSTGRES_URL`` (a PostgreSQL/PostGIS server; a throwaway database per
layout is created and dropped). One national file of 500,000 rows is generated and parsed once
with ``bench_national``'s synthetic geography (the parse time is printed); every further file
is the same rows under new ids (so each file covers the ten years, as in ``bench_national``),
stored with ``Store.import_incidents``. Prints a table and one JSON line; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
from bench_national import FILE_ROWS, geography, incidents_csv, national_areas

from geoveilig.incidents import ParseResult, parse_incidents
from geoveilig.store import Store

#: the PostGIS index set before migration 0015 (the reference)
_BEFORE = ("DROP INDEX IF EXISTS ix_incidents_occurred_at",
           "CREATE INDEX ix_incidents_occurred_at ON incidents (occurred_at)",
           "CREATE INDEX IF NOT EXISTS ix_incidents_x_y ON incidents (x, y)")


def parsed_file(seed: int) -> tuple[ParseResult, float]:
    gm, wk, bu = geography(seed)
    data = incidents_csv(gm, bu, FILE_ROWS, 0, np.random.default_rng(seed))
    t = time.perf_counter()
    parsed = parse_incidents(data, filename="nl-0.csv", areas=national_areas(gm, wk, bu),
                             now=pd.Timestamp("2025-06-01", tz="Europe/Amsterdam"))
    return parsed, time.perf_counter() - t


def renamed(parsed: ParseResult, k: int) -> ParseResult:
    """File ``k``: the rows of ``parsed`` under ids of their own."""
    frame = parsed.frame.copy()
    frame["incident_id"] = [f"NL{k:03d}-{i}" for i in range(len(frame))]
    return ParseResult(frame, parsed.rejects, parsed.n_rows, parsed.coordinate_system)


def run(server: str, layout: str, parsed: ParseResult, files: int) -> dict:
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    name = f"gv_pgimport_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        with sa.create_engine(url, poolclass=sa.pool.NullPool).begin() as c:
            c.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
        store = Store(url)
        try:
            if layout == "before":
                with store.engine.begin() as c:
                    for sql in _BEFORE:
                        c.exec_driver_sql(sql)
            per_file = []
            for k in range(files):
                data = renamed(parsed, k)
                t = time.perf_counter()
                store.import_incidents(data, source_name=f"nl-{k}.csv",
                                       content_sha256=f"{k:064d}", synthetic=True,
                                       partial=True)
                per_file.append(time.perf_counter() - t)
                print(f"  {layout}: file {k + 1}/{files} {per_file[-1]:.1f} s "
                      f"(load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
            with store.engine.connect() as c:
                indexes = dict(c.exec_driver_sql(
                    "SELECT indexrelname, pg_relation_size(indexrelid) / 1048576 "
                    "FROM pg_stat_user_indexes WHERE relname = 'incidents' ORDER BY 1").all())
        finally:
            store.close()
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    n = files * len(parsed.frame)
    half = per_file[len(per_file) // 2:]
    return {"layout": layout, "rows": n, "store_s_per_file": [round(s, 2) for s in per_file],
            "store_rows_per_s": n / sum(per_file),
            "last_half_rows_per_s": len(half) * len(parsed.frame) / sum(half),
            "index_mb": {k: int(v) for k, v in indexes.items()},
            "load_avg": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--layouts", default="current,before",
                    help="current (migration 0015) and/or before (the reference)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    server = os.environ.get("GEOVEILIG_TEST_POSTGRES_URL")
    if not server:
        sys.exit("GEOVEILIG_TEST_POSTGRES_URL is not set (a PostgreSQL/PostGIS server)")
    parsed, parse_s = parsed_file(args.seed)
    print(f"parsed {FILE_ROWS:,} rows in {parse_s:.1f} s", file=sys.stderr, flush=True)
    result: dict = {"file_rows": FILE_ROWS, "files": args.files, "parse_s_per_file": parse_s,
                    "load_avg_at_start": os.getloadavg()[0], "layouts": []}
    for layout in args.layouts.split(","):
        result["layouts"].append(run(server, layout.strip(), parsed, args.files))
    print(f"\nPostGIS import, store alone: {args.files} files of {FILE_ROWS:,} rows "
          f"(parse {parse_s:.1f} s per file, not included), load {result['load_avg_at_start']:.1f}")
    print(f"{'layout':10} {'rows/s':>9} {'last half':>10}  store seconds per file")
    for r in result["layouts"]:
        print(f"{r['layout']:10} {r['store_rows_per_s']:>9,.0f} {r['last_half_rows_per_s']:>10,.0f}"
              f"  {', '.join(f'{s:.1f}' for s in r['store_s_per_file'])}")
    print(json.dumps({"bench": "pg_import", **result}, default=float))


if __name__ == "__main__":
    main()
