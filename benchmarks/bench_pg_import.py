"""PostGIS import at national scale, the store alone (issue 22): per-file store seconds as the
table grows, this checkout beside the reference: the code before migration 0015 (its index
set and write path), taken from git (``--reference REV``; default: the parent of the commit
that added 0015) and run by the same script in a process of its own.

    .venv/bin/python benchmarks/bench_pg_import.py [--files 8] [--only current,reference]

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
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _pg import throwaway_database
from bench_national import FILE_ROWS, geography, incidents_csv, national_areas

from geoveilig.incidents import ParseResult, parse_incidents
from geoveilig.store import Store

ROOT = Path(__file__).resolve().parents[1]
MIGRATION = "src/geoveilig/store/migrations/versions/0015_incident_indexes.py"


def parsed_file(seed: int) -> tuple[ParseResult, float]:
    gm, wk, bu = geography(seed)
    data = incidents_csv(gm, bu, FILE_ROWS, 0, np.random.default_rng(seed))
    t = time.perf_counter()
    parsed = parse_incidents(data, filename="nl-0.csv", areas=national_areas(gm, wk, bu),
                             now=pd.Timestamp("2025-06-01", tz="Europe/Amsterdam"))
    return parsed, time.perf_counter() - t


def renamed(parsed: ParseResult, k: int) -> ParseResult:
    """File ``k``: the rows of ``parsed`` under ids of their own, numbered on from the
    previous file's as in ``bench_national``."""
    frame = parsed.frame.copy()
    frame["incident_id"] = [f"NL{k * FILE_ROWS + i:09d}" for i in range(len(frame))]
    return ParseResult(frame, parsed.rejects, parsed.n_rows, parsed.coordinate_system)


def run(server: str, layout: str, parsed: ParseResult, files: int) -> dict:
    with throwaway_database(server, "gv_pgimport") as url:
        store = Store(url)
        try:
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
                indexes: dict[str, int] = dict(c.exec_driver_sql(
                    "SELECT indexrelname, pg_relation_size(indexrelid) / 1048576 "
                    "FROM pg_stat_user_indexes WHERE relname = 'incidents' ORDER BY 1").all())
        finally:
            store.close()
    n = files * len(parsed.frame)
    half = per_file[len(per_file) // 2:]
    import geoveilig

    return {"layout": layout, "code": str(Path(geoveilig.__file__).parents[1]), "rows": n,
            "store_s_per_file": [round(s, 2) for s in per_file],
            "store_rows_per_s": n / sum(per_file),
            "last_half_rows_per_s": len(half) * len(parsed.frame) / sum(half),
            "index_mb": {k: int(v) for k, v in indexes.items()},
            "load_avg": os.getloadavg()[0]}


def reference_rev() -> str:
    """The parent of the commit that added migration 0015 (the code before it)."""
    added = subprocess.run(["git", "log", "--diff-filter=A", "--format=%H", "--", MIGRATION],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return f"{added[-1]}^" if added else "HEAD"


def one(layout: str, files: int, seed: int) -> dict:
    server = os.environ["GEOVEILIG_TEST_POSTGRES_URL"]
    parsed, parse_s = parsed_file(seed)
    print(f"{layout}: parsed {FILE_ROWS:,} rows in {parse_s:.1f} s", file=sys.stderr, flush=True)
    return {**run(server, layout, parsed, files), "parse_s_per_file": parse_s}


def in_process(layout: str, src: Path, files: int, seed: int) -> dict:
    """``one`` in a fresh interpreter importing geoveilig from ``src``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(Path(__file__).parent)])}
    out = subprocess.run([sys.executable, __file__, "--one", layout, "--files", str(files),
                          "--seed", str(seed)], env=env, stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--only", default="current,reference")
    ap.add_argument("--reference", help="git revision of the reference (default: before 0015)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not os.environ.get("GEOVEILIG_TEST_POSTGRES_URL"):
        sys.exit("GEOVEILIG_TEST_POSTGRES_URL is not set (a PostgreSQL/PostGIS server)")
    if args.one:
        print(json.dumps(one(args.one, args.files, args.seed), default=float))
        return
    rev = args.reference or reference_rev()
    result: dict = {"file_rows": FILE_ROWS, "files": args.files, "reference": rev,
                    "load_avg_at_start": os.getloadavg()[0], "layouts": []}
    with tempfile.TemporaryDirectory() as tmp:
        for layout in (x.strip() for x in args.only.split(",")):
            src = ROOT / "src"
            if layout == "reference":
                archive = Path(tmp) / "ref.tar"
                subprocess.run(["git", "archive", "-o", str(archive), rev, "src"], cwd=ROOT,
                               check=True)
                with tarfile.open(archive) as tar:
                    tar.extractall(tmp, filter="data")
                src = Path(tmp) / "src"
            result["layouts"].append(in_process(layout, src, args.files, args.seed))
    print(f"\nPostGIS import, store alone: {args.files} files of {FILE_ROWS:,} rows "
          f"(parse not included), reference {rev}, load {result['load_avg_at_start']:.1f}")
    print(f"{'code':10} {'rows/s':>9} {'last half':>10}  store seconds per file")
    for r in result["layouts"]:
        print(f"{r['layout']:10} {r['store_rows_per_s']:>9,.0f} "
              f"{r['last_half_rows_per_s']:>10,.0f}  "
              f"{', '.join(f'{s:.1f}' for s in r['store_s_per_file'])}  (load {r['load_avg']:.1f})")
    print(json.dumps({"bench": "pg_import", **result}, default=float))


if __name__ == "__main__":
    main()
