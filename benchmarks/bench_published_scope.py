"""Reading one gemeente's published figures from a store that holds many gemeenten.

A synthetic ``published_counts`` table (``--gemeenten`` gemeenten, each with its gemeente row,
10 wijken and 40 buurten, 12 months of 2 years, 5 crime classes) is written through
``store.counts.write_counts``. Then the published counts of one gemeente are read:

- ``read_counts(gemeenten=[code])``: the gemeente filter in SQL on the indexed expression
  ``substr(area_code, 3, 4)`` (migration 0015);
- reference: ``read_counts()`` of every row and the gemeente's rows picked in pandas (what a
  reader without the gemeente key must do).

Both give the same rows (checked). Run on SQLite, and on PostGIS when ``--postgres-url`` is
given: ``.venv/bin/python benchmarks/bench_published_scope.py [--gemeenten 200]
[--postgres-url postgresql://...]``. Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from _timing import best_of

from geoveilig.store import Store
from geoveilig.store import counts as store_counts

CLASSES = ("0.0.0", "1.1.1", "1.2.3", "1.4.5", "3.7.4")


def synthetic_counts(n_gemeenten: int) -> pd.DataFrame:
    rows = []
    at = datetime(2026, 12, 1, tzinfo=UTC)
    for g in range(1, n_gemeenten + 1):
        gm = f"{g:04d}"
        areas = [(f"GM{gm}", "gemeente")]
        areas += [(f"WK{gm}{w:02d}", "wijk") for w in range(10)]
        areas += [(f"BU{gm}{w:02d}{b:02d}", "buurt") for w in range(10) for b in range(4)]
        for year in (2016, 2017):
            for month in range(1, 13):
                for code, level in areas:
                    for i, cls in enumerate(CLASSES):
                        rows.append((code, level, year, month, cls, (g + month + i) % 17))
    frame = pd.DataFrame(rows, columns=["area_code", "area_level", "year", "month",
                                        "crime_class", "count"])
    return frame.assign(source="politie", table_id="47022NED", crime_label="x",
                        retrieved_at=at, synthetic=0)


def measure(store: Store, label: str, frame: pd.DataFrame, repeat: int) -> dict[str, object]:
    t0 = time.perf_counter()
    for _, part in frame.groupby("year"):
        store_counts.write_counts(store, part)
    write_s = time.perf_counter() - t0
    code = "GM0007"
    fast_s, fast = best_of(lambda: store_counts.read_counts(store, gemeenten=[code]), repeat)

    def reference() -> pd.DataFrame:
        every = store_counts.read_counts(store)
        return every[every["area_code"].str[2:6] == code[2:]].reset_index(drop=True)

    ref_s, ref = best_of(reference, repeat)
    pd.testing.assert_frame_equal(fast.reset_index(drop=True), ref)
    return {"backend": label, "rows": len(frame), "rows_of_gemeente": len(fast),
            "write_s": round(write_s, 2), "read_gemeente_s": round(fast_s, 4),
            "reference_read_all_then_filter_s": round(ref_s, 4),
            "speed_up": round(ref_s / fast_s, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gemeenten", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--postgres-url", default=None,
                    help="an EMPTY PostGIS database to migrate and fill (left filled)")
    args = ap.parse_args()
    frame = synthetic_counts(args.gemeenten)
    results = []
    with tempfile.TemporaryDirectory() as tmp, Store.sqlite(Path(tmp) / "s.sqlite") as store:
        results.append(measure(store, "sqlite", frame, args.repeat))
    if args.postgres_url:
        store = Store(args.postgres_url)
        try:
            with store.engine.begin() as conn:
                conn.execute(sa.delete(store_counts.published_counts))
            results.append(measure(store, "postgis", frame, args.repeat))
        finally:
            store.close()
    print(f"{'backend':8} {'rows':>9} {'of one':>7} {'write s':>8} {'one gemeente s':>15} "
          f"{'reference s':>12} {'x':>6}")
    for r in results:
        print(f"{r['backend']:8} {r['rows']:>9} {r['rows_of_gemeente']:>7} {r['write_s']:>8} "
              f"{r['read_gemeente_s']:>15} {r['reference_read_all_then_filter_s']:>12} "
              f"{r['speed_up']:>6}")
    print(json.dumps({"bench": "published_scope", "gemeenten": args.gemeenten,
                      "results": results}))


if __name__ == "__main__":
    main()
