import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from geoveilig.errors import ImportRejected, InvalidInput
from geoveilig.incidents import parse_incidents
from geoveilig.store import Store
from geoveilig.store.backup import table_rows

from .storehelp import parsed

NOW = pd.Timestamp("2018-04-20", tz="Europe/Amsterdam")
C = "173624,5;388270,2"
A = "173949,0;386938,0"


def _csv(*rows):
    return ("registratienummer;soort;pleegdatum;x;y\n" + "\n".join(rows) + "\n").encode()


def _import(store, areas, data, partial=False, name="f.csv"):
    parsed = parse_incidents(data, filename=name, areas=areas, now=NOW)
    return store.import_incidents(parsed, source_name=name, content_sha256="sha",
                                  partial=partial)


def _snapshot(store):
    with store.engine.connect() as conn:
        return table_rows(conn)


def test_schema_is_migrated_to_head(store):
    assert store.schema_revision() == Store.head_revision()


def test_a_new_sqlite_store_has_large_pages_and_an_old_one_keeps_its_own(tmp_path, areas):
    """A new SQLite file gets ``PAGE_SIZE`` pages (its incidents are large BLOBs); a store
    made with SQLite's default 4 KB pages keeps them, and imports and reads as before."""
    import sqlite3

    from geoveilig.store.database import PAGE_SIZE

    def page_size(path):
        with sqlite3.connect(path) as conn:
            return conn.execute("PRAGMA page_size").fetchone()[0]

    Store.sqlite(tmp_path / "new.sqlite").close()
    assert page_size(tmp_path / "new.sqlite") == PAGE_SIZE == 16384
    old = tmp_path / "old.sqlite"
    with sqlite3.connect(old) as conn:  # an existing file, made with the default page size
        conn.execute("PRAGMA page_size=4096")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE made_before (x)")
    conn.close()
    store = Store.sqlite(old)
    try:
        _import(store, areas, _csv(f"a;woninginbraak;2017-01-01;{C}",
                                   f"b;fietsdiefstal;2017-01-02;{A}"))
        assert sorted(store.incidents()["incident_id"]) == ["a", "b"]
    finally:
        store.close()
    assert page_size(old) == 4096


def test_bad_row_leaves_store_unchanged(store, areas):
    _import(store, areas, _csv(f"a;woninginbraak;2017-01-01;{C}"))
    before = _snapshot(store)
    bad = _csv(f"b;woninginbraak;2017-01-02;{C}", f"c;fraude;2017-01-02;{C}")
    with pytest.raises(ImportRejected) as err:
        _import(store, areas, bad)
    assert list(err.value.rejects["row"]) == [3]
    assert _snapshot(store) == before


def test_partial_import_keeps_valid_rows_and_reports(store, areas):
    s = _import(store, areas, _csv(f"b;woninginbraak;2017-01-02;{C}", f"c;fraude;2017-01-02;{C}"),
                partial=True)
    assert (s.accepted, s.rejected, s.already_present) == (1, 1, 0)
    assert store.count_incidents() == 1


def test_reimport_is_idempotent(store, areas):
    data = _csv(f"a;woninginbraak;2017-01-01 10:00;{C}", f"b;straatroof;2017-02-01;{A}")
    first = _import(store, areas, data)
    again = _import(store, areas, data)
    assert (first.accepted, first.already_present) == (2, 0)
    assert (again.accepted, again.already_present) == (0, 2)
    assert store.count_incidents() == 2
    assert list(store.batches()["accepted"]) == [2, 0]


def test_same_id_other_content_is_refused(store, areas):
    _import(store, areas, _csv(f"a;woninginbraak;2017-01-01;{C}"))
    before = _snapshot(store)
    with pytest.raises(ImportRejected, match="botsen") as err:
        _import(store, areas, _csv(f"a;woninginbraak;2017-01-05;{C}", f"z;overval;2017-01-05;{C}"))
    assert "andere inhoud" in err.value.rejects["reason"].iloc[0]
    assert _snapshot(store) == before
    s = _import(store, areas, _csv(f"a;woninginbraak;2017-01-05;{C}", f"z;overval;2017-01-05;{C}"),
                partial=True)
    assert (s.accepted, s.rejected) == (1, 1)


def test_crash_inside_the_transaction_rolls_back(store, areas, monkeypatch):
    _import(store, areas, _csv(f"a;woninginbraak;2017-01-01;{C}"))
    before = _snapshot(store)

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(type(store.backend), "insert", boom)
    with pytest.raises(RuntimeError):
        _import(store, areas, _csv(f"q;woninginbraak;2017-01-09;{C}"))
    assert _snapshot(store) == before


def test_queries_filter_by_period_type_area_and_bbox(store, areas):
    _import(store, areas, _csv(
        f"a;woninginbraak;2016-12-31 23:30;{C}",
        f"b;woninginbraak;2017-01-01 00:00;{C}",
        f"c;straatroof;2017-06-01;{A}",
        f"d;overval;2018-01-01;{A}",
    ))
    got = store.incidents(start="2017-01-01", end="2018-01-01")
    assert list(got["incident_id"]) == ["b", "c"]
    assert str(got["occurred_at"].dt.tz) == "Europe/Amsterdam"
    assert list(store.incidents(crime_types=["straatroof", "overval"])["incident_id"]) == ["c", "d"]
    assert list(store.incidents(area_codes=["BU07941006"])["incident_id"]) == ["c", "d"]
    assert len(store.incidents(area_codes=["WK079410"])) == 4
    assert len(store.incidents(area_codes=["GM0794"])) == 4
    assert list(store.incidents(bbox=(173900, 386900, 174000, 387000))["incident_id"]) == ["c", "d"]
    assert store.incidents(bbox=(173900, 386900, 174000, 387000)).crs.to_epsg() == 28992
    assert store.count_incidents(crime_types=["woninginbraak"]) == 2
    lo, hi = store.time_range()
    assert lo.year == 2016 and hi.year == 2018
    with pytest.raises(InvalidInput, match="omgekeerde periode"):
        store.incidents(start="2018-01-01", end="2017-01-01")
    with pytest.raises(InvalidInput, match="bbox"):
        store.incidents(bbox=(1, 2, 0, 3))
    with pytest.raises(InvalidInput, match="gebiedscode"):
        store.incidents(area_codes=["XX12"])


def _expected(source, start=None, end=None, crime_types=None, area_codes=None, bbox=None):
    """The filter applied to the source frame with pandas (the reference)."""
    keep = pd.Series(True, index=source.index)
    t = source["occurred_at"]
    if start is not None:
        keep &= t >= pd.Timestamp(start, tz="Europe/Amsterdam")
    if end is not None:
        keep &= t < pd.Timestamp(end, tz="Europe/Amsterdam")
    if crime_types is not None:
        keep &= source["crime_type"].isin(crime_types)
    if area_codes is not None:
        keep &= source["wijk_code"].isin(area_codes) | source["buurt_code"].isin(area_codes)
    if bbox is not None:
        x, y = source["x"], source["y"]
        keep &= (x >= bbox[0]) & (x <= bbox[2]) & (y >= bbox[1]) & (y <= bbox[3])
    return set(source.loc[keep, "incident_id"])


def test_queries_match_pandas_across_many_chunks(store, backend, areas, demo_incidents,
                                                 monkeypatch):
    """Random combinations of every filter give exactly the rows pandas finds; on SQLite with
    small chunks (many per batch, zone maps pruning most of them) and on PostGIS rows."""
    from geoveilig.store import chunks

    monkeypatch.setattr(chunks, "CHUNK_ROWS", 500)
    source = demo_incidents.iloc[::3].reset_index(drop=True)
    half = len(source) // 2
    store.import_incidents(parsed(source.iloc[:half]), source_name="a.csv",
                           content_sha256="a" * 64)
    store.import_incidents(parsed(source.iloc[half - 100:]), source_name="b.csv",
                           content_sha256="b" * 64)
    if backend == "sqlite":
        with store.engine.connect() as conn:
            n = conn.execute(sa.text("SELECT count(*), sum(n_rows) FROM incident_chunks")).one()
        assert n[0] >= len(source) // 500 and n[1] == len(source)
    rng = np.random.default_rng(7)
    wijken, buurten = list(areas.wijken["code"]), list(areas.buurten["code"])
    types = sorted(source["crime_type"].unique())
    x0, y0, x1, y1 = source.total_bounds
    for k in range(30):
        f = {}
        if k % 2 == 0:
            day = pd.Timestamp("2012-01-01") + pd.Timedelta(days=int(rng.integers(0, 2200)))
            f["start"] = str(day.date())
            f["end"] = str((day + pd.Timedelta(days=int(rng.integers(1, 700)))).date())
        if k % 3 == 0:
            f["crime_types"] = list(rng.choice(types, int(rng.integers(1, 4)), replace=False))
        if k % 4 == 1:
            f["area_codes"] = [str(rng.choice(wijken)), str(rng.choice(buurten))]
        if k % 5 == 2:
            cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
            f["bbox"] = (cx - 800, cy - 800, cx + 800, cy + 800)
        got = store.incidents(**f)
        assert set(got["incident_id"]) == _expected(source, **f), f
        assert len(got) == len(set(got["incident_id"])) == store.count_incidents(**f)
        key = list(zip(got["occurred_at"], got["incident_id"], strict=True))
        assert [k[0] for k in key] == sorted(k[0] for k in key)  # ordered by time
    assert store.count_incidents() == len(source)
    lo, hi = store.time_range()
    assert (lo, hi) == (source["occurred_at"].min(), source["occurred_at"].max())


def test_reimport_and_conflicts_are_found_across_chunks(store, demo_incidents, monkeypatch):
    from geoveilig.store import chunks

    monkeypatch.setattr(chunks, "CHUNK_ROWS", 300)
    first = demo_incidents.iloc[:2000]
    store.import_incidents(parsed(first), source_name="a.csv", content_sha256="a" * 64)
    again = store.import_incidents(parsed(demo_incidents.iloc[1500:2500]), source_name="b.csv",
                                   content_sha256="b" * 64)
    assert (again.accepted, again.already_present) == (500, 500)
    changed = demo_incidents.iloc[[10, 1999, 2400]].copy()
    changed["x"] += 1.0  # same ids, other content
    before = store.count_incidents()
    with pytest.raises(ImportRejected) as err:
        store.import_incidents(parsed(changed), source_name="c.csv", content_sha256="c" * 64)
    assert err.value.rejects["reason"].str.contains("andere inhoud").sum() == 3
    assert store.count_incidents() == before == 2500


def test_chunks_built_on_threads_are_the_chunks_built_one_by_one(tmp_path, demo_incidents,
                                                                 monkeypatch):
    """An import's chunks are gathered and compressed on several threads: the stored chunks
    (zone maps and bytes, in their order) are those of building them one after another."""
    from geoveilig.store import chunks

    monkeypatch.setattr(chunks, "CHUNK_ROWS", 300)
    source = parsed(demo_incidents.iloc[:2000])
    stored = []
    for workers in (1, 3):
        monkeypatch.setattr(chunks, "_WORKERS", workers)
        store = Store.sqlite(tmp_path / f"w{workers}.sqlite")
        store.import_incidents(source, source_name="a.csv", content_sha256="a" * 64)
        with store.engine.connect() as conn:
            stored.append(conn.execute(sa.text(
                "SELECT * FROM incident_chunks ORDER BY id")).all())
        store.close()
    assert len(stored[0]) == -(-2000 // 300)
    assert stored[0] == stored[1]


def test_small_imports_are_merged_into_full_chunks(tmp_path, demo_incidents, monkeypatch):
    """Thirty small imports (a monthly extract) do not leave thirty chunks: small chunks are
    merged once there are MERGE_AT of them, and every row keeps its id and import batch."""
    from geoveilig.store import chunks

    monkeypatch.setattr(chunks, "CHUNK_ROWS", 400)  # small = under 100 rows
    store = Store.sqlite(tmp_path / "s.sqlite")
    source = demo_incidents.iloc[:1800]
    for k in range(30):
        store.import_incidents(parsed(source.iloc[k * 60:(k + 1) * 60]), source_name=f"{k}.csv",
                               content_sha256=f"{k:064d}")
        with store.engine.connect() as conn:
            small = conn.execute(sa.text(
                "SELECT count(*) FROM incident_chunks WHERE n_rows < 100")).scalar_one()
        assert small < chunks.MERGE_AT
    with store.engine.connect() as conn:
        sizes = [r[0] for r in conn.execute(sa.text("SELECT n_rows FROM incident_chunks"))]
        rows = table_rows(conn)["incidents"]
    assert sum(sizes) == 1800 and len(sizes) <= 1800 // 400 + chunks.MERGE_AT
    batch_of = {r[1]: r[-1] for r in rows}  # incident_id -> batch_id
    batches = store.batches()
    for k in (0, 13, 29):
        batch_id = int(batches.loc[batches["source_name"] == f"{k}.csv", "id"].iloc[0])
        ids = source["incident_id"].iloc[k * 60:(k + 1) * 60]
        assert {batch_of[i] for i in ids} == {batch_id}
    assert set(store.incidents()["incident_id"]) == set(source["incident_id"])
    store.close()


def test_incidents_are_ordered_by_time_across_interleaved_imports(store, demo_incidents):
    """Two imports whose periods overlap (every other incident in each): the result is in
    time order over both, not import by import."""
    sample = demo_incidents.iloc[:4000]
    store.import_incidents(parsed(sample.iloc[::2]), source_name="even.csv",
                           content_sha256="e" * 64)
    store.import_incidents(parsed(sample.iloc[1::2]), source_name="odd.csv",
                           content_sha256="o" * 64)
    got = store.incidents()
    assert got["occurred_at"].is_monotonic_increasing
    assert set(got["incident_id"]) == set(sample["incident_id"])
    burglary = store.incidents(crime_types=["woninginbraak"])
    assert len(burglary) and burglary["occurred_at"].is_monotonic_increasing


def test_bbox_and_polygon_that_do_not_overlap_give_nothing(store, demo_incidents):
    store.import_incidents(parsed(demo_incidents.iloc[:3000]), source_name="a.csv",
                           content_sha256="a" * 64)
    x0, y0, x1, y1 = demo_incidents.iloc[:3000].total_bounds
    left = shapely.box(x0, y0, (x0 + x1) / 2, y1)
    right = (x0 + (x1 - x0) * 0.75, y0, x1, y1)
    assert len(store.incidents(within=left)) > 0 and len(store.incidents(bbox=right)) > 0
    assert len(store.incidents(within=left, bbox=right)) == 0
    assert store.count_incidents(within=left, bbox=right) == 0


def test_times_of_any_resolution_are_stored_as_they_are(store, demo_incidents):
    """pandas 3 reads text as microseconds: such times must not be stored as 1970 dates
    (the store once assumed nanoseconds)."""
    sample = demo_incidents.iloc[:50].copy()
    for col in ("occurred_at", "occurred_from", "occurred_to"):
        sample[col] = pd.to_datetime(sample[col]).dt.as_unit("us")
    store.import_incidents(parsed(sample), source_name="us.csv", content_sha256="u" * 64)
    got = store.incidents().set_index("incident_id").loc[sample["incident_id"]]
    want = sample.set_index("incident_id")["occurred_at"].dt.floor("s")
    assert (got["occurred_at"].dt.tz_convert("UTC").to_numpy()
            == want.dt.tz_convert("UTC").to_numpy()).all()
    assert got["occurred_at"].min().year >= 2012
