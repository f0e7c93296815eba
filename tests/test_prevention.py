"""Tests of the prevention registry, coverage, gap ranking, store functions, import/export,
the demo registry and the CLI."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geoveilig import prevention as p
from geoveilig.areas import Areas
from geoveilig.demo.prevention import demo_prevention_groups
from geoveilig.errors import CrsError, ImportRejected, InvalidInput, NotFound
from geoveilig.store import Store
from geoveilig.store import prevention as sp

KERN_DIERDONK = "BU07941900"
SCHEEPSTAL = "BU07941909"
DIERDONK = "WK079419"


@pytest.fixture(scope="module")
def demo(areas: Areas) -> p.Registry:
    return demo_prevention_groups(areas, seed=42)


def _box_in(areas: Areas, code: str, dx: float, dy: float, w: float, h: float):
    """A w x h box offset (dx, dy) from an inner point of buurt ``code``; asserted inside."""
    geom = areas.buurten.set_index("code").geometry[code]
    x, y = geom.representative_point().coords[0]
    box = shapely.box(x + dx, y + dy, x + dx + w, y + dy + h)
    assert box.within(geom)
    return box


def _group(gid: str, gtype: str = "whatsapp", **kw) -> dict:
    return {"group_id": gid, "type": gtype, **kw}


def _buurt_area(areas: Areas, code: str) -> float:
    return float(areas.buurten.set_index("code").geometry[code].area)


# --- coverage arithmetic -------------------------------------------------------------------

def test_overlapping_groups_are_not_counted_twice(areas: Areas) -> None:
    a = _box_in(areas, KERN_DIERDONK, -100, -100, 200, 200)     # 40 000 m²
    b = _box_in(areas, KERN_DIERDONK, 0, 0, 200, 200)           # overlaps a on 100 x 100
    reg = p.make_registry(
        [_group("a", geometry=a), _group("b", geometry=b)],
        [{"group_id": "a", "status": "actief", "since": "2017-01-01"},
         {"group_id": "b", "status": "actief", "since": "2017-01-01"}])
    cov = p.coverage(reg, areas, "2017-06-01", level="buurt").set_index("code")
    expected = (40_000 + 40_000 - 10_000) / _buurt_area(areas, KERN_DIERDONK)
    assert cov.loc[KERN_DIERDONK, "coverage_share"] == pytest.approx(expected, rel=1e-9)
    assert cov.loc[KERN_DIERDONK, "whatsapp_groups"] == 2
    assert cov.loc[SCHEEPSTAL, "coverage_share"] == 0
    assert cov.loc[SCHEEPSTAL, "whatsapp_groups"] == 0
    wijk = p.coverage(reg, areas, "2017-06-01", level="wijk").set_index("code")
    total = _buurt_area(areas, KERN_DIERDONK) + _buurt_area(areas, SCHEEPSTAL)
    assert wijk.loc[DIERDONK, "coverage_share"] == pytest.approx(70_000 / total, rel=1e-9)
    assert wijk.loc[DIERDONK, "covered_km2"] == pytest.approx(0.07, rel=1e-9)


def _union_area_of_rectangles(rects: list[tuple[float, float, float, float]]) -> float:
    """Exact area of a union of axis-aligned rectangles by coordinate compression (no GEOS)."""
    xs = sorted({v for r in rects for v in (r[0], r[2])})
    ys = sorted({v for r in rects for v in (r[1], r[3])})
    total = 0.0
    for x0, x1 in itertools.pairwise(xs):
        for y0, y1 in itertools.pairwise(ys):
            if any(r[0] <= x0 and x1 <= r[2] and r[1] <= y0 and y1 <= r[3] for r in rects):
                total += (x1 - x0) * (y1 - y0)
    return total


_rect = st.tuples(st.integers(-150, 100), st.integers(-150, 100), st.integers(10, 50),
                  st.integers(10, 50), st.booleans())


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_rect, min_size=1, max_size=5))
def test_union_coverage_matches_exact_rectangle_union(areas: Areas, rects: list) -> None:
    _box_in(areas, KERN_DIERDONK, -150, -150, 300, 300)  # the whole playground is inside
    inner = areas.buurten.set_index("code").geometry[KERN_DIERDONK].representative_point()
    x, y = inner.coords[0]
    boxes = [(x + dx, y + dy, x + dx + w, y + dy + h) for dx, dy, w, h, _ in rects]
    active = [a for *_, a in rects]
    reg = p.make_registry(
        [_group(f"g{i}", geometry=shapely.box(*b)) for i, b in enumerate(boxes)],
        [{"group_id": f"g{i}", "status": "actief" if a else "gestopt", "since": "2017-01-01"}
         for i, a in enumerate(active)])
    expected = _union_area_of_rectangles([b for b, a in zip(boxes, active, strict=True) if a])
    buurt = p.coverage(reg, areas, "2017-02-01", level="buurt").set_index("code")
    got = buurt.loc[KERN_DIERDONK, "covered_km2"] * 1e6
    assert got == pytest.approx(expected, abs=1e-3)
    assert buurt.loc[KERN_DIERDONK, "whatsapp_groups"] == sum(active)
    wijk = p.coverage(reg, areas, "2017-02-01", level="wijk")
    gm = p.coverage(reg, areas, "2017-02-01", level="gemeente")
    assert wijk["covered_km2"].sum() == pytest.approx(gm["covered_km2"].iloc[0])
    assert buurt["covered_km2"].sum() == pytest.approx(gm["covered_km2"].iloc[0])
    assert ((buurt["coverage_share"] >= 0) & (buurt["coverage_share"] <= 1)).all()


def test_holes_stay_uncovered(areas: Areas) -> None:
    outer = _box_in(areas, KERN_DIERDONK, -150, -150, 300, 300)  # 90 000 m²
    hole = shapely.box(*_box_in(areas, KERN_DIERDONK, -50, -50, 100, 100).bounds)
    ring = outer.difference(hole)                                  # 80 000 m² with a hole
    inside_hole = _box_in(areas, KERN_DIERDONK, -25, -25, 50, 50)  # team in the hole, forming
    reg = p.make_registry(
        [_group("ring", geometry=ring), _group("t", "bpt", geometry=inside_hole)],
        [{"group_id": "ring", "status": "actief", "since": "2017-01-01"},
         {"group_id": "t", "status": "in_oprichting", "since": "2017-01-01"}])
    cov = p.coverage(reg, areas, "2017-06-01", level="buurt").set_index("code")
    area = _buurt_area(areas, KERN_DIERDONK)
    assert cov.loc[KERN_DIERDONK, "coverage_share"] == pytest.approx(80_000 / area)
    assert cov.loc[KERN_DIERDONK, "teams_in_formation"] == 1
    assert cov.loc[KERN_DIERDONK, "active_teams"] == 0
    # the team becomes active: the hole is partly filled (2 500 m²)
    reg2 = p.make_registry(
        [_group("ring", geometry=ring), _group("t", "bpt", geometry=inside_hole)],
        [{"group_id": "ring", "status": "actief", "since": "2017-01-01"},
         {"group_id": "t", "status": "in_oprichting", "since": "2017-01-01"},
         {"group_id": "t", "status": "actief", "since": "2017-03-01"}])
    cov2 = p.coverage(reg2, areas, "2017-06-01", level="buurt").set_index("code")
    assert cov2.loc[KERN_DIERDONK, "coverage_share"] == pytest.approx(82_500 / area)
    assert cov2.loc[KERN_DIERDONK, "coverage_share_teams"] == pytest.approx(2_500 / area)
    assert cov2.loc[KERN_DIERDONK, "coverage_share_whatsapp"] == pytest.approx(80_000 / area)


def test_buurt_list_covers_exactly_and_wijk_uses_its_buurten(areas: Areas) -> None:
    inner = _box_in(areas, KERN_DIERDONK, 0, 0, 100, 100)
    reg = p.make_registry(
        [_group("t", "buurtpreventieteam", buurten=f"{KERN_DIERDONK}|{SCHEEPSTAL}"),
         _group("w", geometry=inner, team_id="t")],
        [{"group_id": "t", "status": "actief", "since": "2016-01-01"},
         {"group_id": "w", "status": "actief", "since": "2016-01-01"}])
    wijk = p.coverage(reg, areas, "2016-01-01", level="wijk").set_index("code")
    assert wijk.loc[DIERDONK, "coverage_share"] == 1.0      # exact, no slivers
    assert bool(wijk.loc[DIERDONK, "fully_covered"])
    assert wijk.loc[DIERDONK, "active_teams"] == 1
    assert wijk.loc[DIERDONK, "whatsapp_groups"] == 1
    assert wijk["fully_covered"].sum() == 1
    gm = p.coverage(reg, areas, "2016-01-01", level="gemeente")
    total = areas.buurten.area.sum()
    expected = (_buurt_area(areas, KERN_DIERDONK) + _buurt_area(areas, SCHEEPSTAL)) / total
    assert gm["coverage_share"].iloc[0] == pytest.approx(expected)
    assert list(gm.columns[:7]) == list(p.COVERAGE_COLUMNS)
    # the day before the status starts nothing exists
    before = p.coverage(reg, areas, "2015-12-31", level="gemeente")
    assert before["coverage_share"].iloc[0] == 0
    assert before["active_teams"].iloc[0] == 0


def test_threshold_decides_wijkdekkend(areas: Areas) -> None:
    reg = p.make_registry([_group("w", buurten=KERN_DIERDONK)],
                          [{"group_id": "w", "status": "actief", "since": "2017-01-01"}])
    share = _buurt_area(areas, KERN_DIERDONK) / (
        _buurt_area(areas, KERN_DIERDONK) + _buurt_area(areas, SCHEEPSTAL))
    row = p.coverage(reg, areas, "2017-02-01").set_index("code").loc[DIERDONK]
    assert row["coverage_share"] == pytest.approx(share)
    assert not row["fully_covered"]
    low = p.coverage(reg, areas, "2017-02-01", threshold=share - 1e-6).set_index("code")
    assert bool(low.loc[DIERDONK, "fully_covered"])


def test_weighted_shares_only_where_attributes_exist(areas: Areas) -> None:
    reg = p.make_registry([_group("w", buurten=KERN_DIERDONK)],
                          [{"group_id": "w", "status": "actief", "since": "2017-01-01"}])
    plain = p.coverage(reg, areas, "2017-02-01")
    assert "dwellings_covered_share" not in plain.columns
    b = areas.buurten.copy()
    b["dwellings"] = np.where(b["code"] == KERN_DIERDONK, 3000.0,
                              np.where(b["code"] == SCHEEPSTAL, 1000.0, 500.0))
    with_attr = Areas(gemeente=areas.gemeente, wijken=areas.wijken, buurten=b)
    cov = p.coverage(reg, with_attr, "2017-02-01").set_index("code")
    assert cov.loc[DIERDONK, "dwellings_covered_share"] == pytest.approx(0.75)


def test_status_change_before_and_after(areas: Areas, store: Store) -> None:
    sp.add_group(store, group_id="bpt-1", type="bpt", status="in_oprichting",
                 since="2017-01-01", buurten=[KERN_DIERDONK], label="BPT Dierdonk-Noord",
                 members=12, known_buurten=list(areas.buurten["code"]), actor="tester")
    sp.set_status(store, "bpt-1", "actief", "2017-04-01")
    sp.set_status(store, "bpt-1", "gestopt", "2018-01-15")
    reg = sp.load_registry(store)
    at = lambda d: p.coverage(reg, areas, d, level="buurt").set_index("code").loc[KERN_DIERDONK]  # noqa: E731
    assert at("2017-03-31")["coverage_share"] == 0
    assert at("2017-03-31")["teams_in_formation"] == 1
    assert at("2017-04-01")["coverage_share"] == 1.0
    assert at("2017-04-01")["active_teams"] == 1
    assert at("2018-01-14")["coverage_share"] == 1.0
    assert at("2018-01-15")["coverage_share"] == 0
    assert at("2018-01-15")["active_teams"] == 0
    listed = sp.list_groups(store)
    assert listed.loc[0, "status"] == "gestopt"
    assert listed.loc[0, "members"] == 12
    with store.engine.connect() as conn:
        n_audit = conn.exec_driver_sql("select count(*) from audit_log").scalar_one()
    assert n_audit == 1  # only the add had an actor


# --- store functions ------------------------------------------------------------------------

def test_store_add_link_remove(areas: Areas, store: Store) -> None:
    assert store.schema_revision() == Store.head_revision()  # "0002" or later
    box = _box_in(areas, KERN_DIERDONK, 0, 0, 100, 100)
    sp.add_group(store, group_id="t1", type="buurtpreventieteam", status="actief",
                 since="2017-01-01", buurten="BU07941900;BU07941909")
    sp.add_group(store, group_id="w1", type="whatsapp-preventiegroep", status="actief",
                 since="2017-02-01", geometry=box, team_id="t1")
    with pytest.raises(InvalidInput, match="bestaat al"):
        sp.add_group(store, group_id="w1", type="whatsapp", status="actief",
                     since="2017-02-01", geometry=box)
    with pytest.raises(ImportRejected) as exc:  # a link must point to a team
        sp.add_group(store, group_id="w2", type="whatsapp", status="actief",
                     since="2017-02-01", geometry=box, team_id="w1")
    assert "team_id" in set(exc.value.rejects["column"])
    with pytest.raises(NotFound):
        sp.set_status(store, "nope", "actief", "2017-01-01")
    with pytest.raises(InvalidInput, match="onbekende status"):
        sp.set_status(store, "w1", "slapend", "2017-01-01")
    reg = sp.load_registry(store)
    g = reg.groups.set_index("group_id")
    assert g.loc["w1", "team_id"] == "t1"
    assert g.loc["w1", "geometry"].equals(box)
    assert g.loc["t1", "buurten"] == (KERN_DIERDONK, SCHEEPSTAL)
    sp.remove_group(store, "t1")
    reg = sp.load_registry(store)
    assert list(reg.groups["group_id"]) == ["w1"]
    assert reg.groups["team_id"].iloc[0] is None
    assert set(reg.history["group_id"]) == {"w1"}
    with pytest.raises(NotFound):
        sp.remove_group(store, "t1")


def test_failed_import_changes_nothing(areas: Areas, store: Store, demo: p.Registry) -> None:
    known = list(areas.buurten["code"])
    sp.save_registry(store, demo, mode="replace", known_buurten=known)
    before = sp.load_registry(store)
    bad = (b"group_id;type;buurten;status;since\n"
           b"DEMO-BPT-001;bpt;BU07941900;actief;2017-01-01\n"
           b"new-1;wabp;BU07949999;actief;2017-01-01\n")
    with pytest.raises(ImportRejected) as exc:
        parsed = p.parse_registry(bad, "bad.csv", known_buurten=known)
        sp.save_registry(store, parsed.registry, known_buurten=known)
    rej = exc.value.rejects
    assert list(rej[["row", "column"]].itertuples(index=False, name=None)) == [(3, "buurten")]
    # a registry that is valid alone but breaks team links in the store: rejected whole
    lone = p.make_registry([_group("new-2", team_id=None, buurten=KERN_DIERDONK),
                            _group("DEMO-BPT-001", "whatsapp", buurten=KERN_DIERDONK)],
                           [{"group_id": "new-2", "status": "actief", "since": "2018-01-01"},
                            {"group_id": "DEMO-BPT-001", "status": "actief",
                             "since": "2018-01-01"}])
    with pytest.raises(ImportRejected):
        sp.save_registry(store, lone, known_buurten=known)
    # a failure while writing rolls back the deletes already done
    original = sp._write

    def broken(conn, registry, *, replace_ids):  # type: ignore[no-untyped-def]
        original(conn, registry, replace_ids=replace_ids)
        raise RuntimeError("disk full")

    sp._write = broken
    try:
        with pytest.raises(RuntimeError):
            sp.save_registry(store, p.empty_registry(), mode="replace")
    finally:
        sp._write = original
    after = sp.load_registry(store)
    pd.testing.assert_frame_equal(pd.DataFrame(before.groups.drop(columns="geometry")),
                                  pd.DataFrame(after.groups.drop(columns="geometry")))
    pd.testing.assert_frame_equal(before.history, after.history)
    assert before.groups.geometry.geom_equals(after.groups.geometry).sum() == \
        before.groups.geometry.notna().sum()


# --- personal data --------------------------------------------------------------------------

@pytest.mark.parametrize("column, refused", [
    ("naam", True), ("Name", True), ("voornaam", True), ("Achternaam", True),
    ("contactpersoon", True), ("Telefoonnummer", True), ("tel", True), ("phone", True),
    ("mobiel", True), ("E-mail", True), ("emailadres", True), ("adres", True),
    ("Huisnummer", True), ("coördinator", True), ("beheerder_naam", True),
    ("geboortedatum", True),
    ("label", False), ("groepsnaam", False), ("teamnaam", False), ("buurtnaam", False),
    ("buurten", False), ("postcodes", False), ("members", False), ("group_id", False),
    ("team_id", False), ("status_history", False),
])
def test_personal_column_rule(column: str, refused: bool) -> None:
    assert (p.personal_column(column) is not None) is refused


def test_personal_data_is_refused_with_the_column_named(areas: Areas, store: Store) -> None:
    data = (b"group_id;type;label;Naam;Telefoon;e-mail;buurten;status;since\n"
            b"g1;bpt;BPT Brandevoort-Noord;Jan Jansen;0612345678;jan@example.nl;"
            b"BU07942100;actief;2017-01-01\n")
    with pytest.raises(ImportRejected) as exc:
        p.parse_registry(data, "leden.csv")
    msg = str(exc.value)
    for col in ("'Naam'", "'Telefoon'", "'e-mail'"):
        assert col in msg
    assert "persoonsgegevens" in msg
    assert set(exc.value.rejects["column"]) == {"Naam", "Telefoon", "e-mail"}
    assert sp.load_registry(store).groups.empty
    # the same data in an allowed column is caught by its value
    data = (b"group_id;type;label;buurten;status;since\n"
            b"g1;bpt;BPT Noord, bel 06-12345678;BU07942100;actief;2017-01-01\n"
            b"g2;bpt;BPT Zuid;BU07942101;actief;2017-01-01\n"
            b"g3;bpt;mail piet@voorbeeld.nl;BU07942102;actief;2017-01-01\n")
    with pytest.raises(ImportRejected) as exc:
        p.parse_registry(data, "x.csv")
    rej = exc.value.rejects
    assert list(rej["row"]) == [2, 4]
    assert set(rej["column"]) == {"label"}
    # the library functions (used by the API) refuse it too
    with pytest.raises(ImportRejected):
        sp.add_group(store, group_id="g9", type="bpt", status="actief", since="2017-01-01",
                     buurten=["BU07942100"], label="info: +31 6 1234 5678")
    assert sp.load_registry(store).groups.empty
    # a group's own name is fine, members must be a number
    ok = (b"group_id;type;groepsnaam;aantal_leden;buurten;status;since\n"
          b"g1;bpt;BPT Brandevoort-Noord;25;BU07942100;actief;01-03-2017\n")
    parsed = p.parse_registry(ok, "ok.csv")
    assert parsed.registry.groups.loc[0, "label"] == "BPT Brandevoort-Noord"
    assert parsed.registry.groups.loc[0, "members"] == 25
    assert parsed.registry.history.loc[0, "since"] == pd.Timestamp("2017-03-01")


def test_row_and_column_messages(areas: Areas) -> None:
    data = (b"group_id,type,buurten,active_since,stopped_since,team_id\n"
            b"t1,bpt,BU07941900|BU07941909,2016-01-01,,\n"
            b"t1,bpt,BU07941900,2016-01-01,,\n"
            b"w1,zwemclub,BU07941900,2016-01-01,,\n"
            b"w2,whatsapp,,2016-01-01,,\n"
            b"w3,whatsapp,BU07941900,2016-02-30,,t1\n"
            b"w4,whatsapp,BU07941900,2016-01-01,2015-01-01,w3\n"
            b"w5,whatsapp,XX123,2016-01-01,,nobody\n")
    with pytest.raises(ImportRejected) as exc:
        p.parse_registry(data, "f.csv", known_buurten=list(areas.buurten["code"]))
    got = set(exc.value.rejects[["row", "column"]].itertuples(index=False, name=None))
    assert got == {(3, "group_id"), (4, "type"), (5, "geometry"), (6, "active_since"),
                   (7, "team_id"), (8, "buurten"), (8, "team_id")}
    assert "6 van 7 rijen ongeldig" in str(exc.value)


# --- import / export round trips -------------------------------------------------------------

@pytest.mark.parametrize("kind", ["csv", "geojson-wgs84", "geojson-rd"])
def test_round_trip(areas: Areas, demo: p.Registry, kind: str) -> None:
    if kind == "csv":
        data, name = p.to_csv(demo), "reg.csv"
    else:
        data = p.to_geojson(demo, areas, crs=kind.split("-")[1])
        name = "reg.geojson"
        doc = json.loads(data)
        assert len(doc["features"]) == len(demo)
        assert ("crs" in doc) is (kind == "geojson-rd")
    back = p.parse_registry(data, name, known_buurten=list(areas.buurten["code"])).registry
    assert list(back.groups["group_id"]) == list(demo.groups["group_id"])
    pd.testing.assert_frame_equal(back.history, demo.history)
    assert back.groups["team_id"].fillna("").tolist() == demo.groups["team_id"].fillna("").tolist()
    assert back.groups["synthetic"].all()
    a = p.coverage(demo, areas, "2018-04-20", level="buurt")
    b = p.coverage(back, areas, "2018-04-20", level="buurt")
    np.testing.assert_allclose(a["coverage_share"], b["coverage_share"], atol=1e-5)
    assert (a["whatsapp_groups"] == b["whatsapp_groups"]).all()


def test_csv_export_is_spreadsheet_safe_and_reads_back(areas: Areas) -> None:
    """Group names that a spreadsheet would run as a formula are written neutralised
    (``geoveilig.safecsv``: ``'=...``) and read back as they were; a cell that only looks
    like it (a number, a name with a quote inside) is left alone both ways."""
    names = ["=HYPERLINK(\"http://x\")", "+Oost", "-West (oud)", "@team", "-5", "O'Brien",
             "gewoon"]
    rows = "".join(f"g{i};whatsapp;BU07941900;\"{n.replace(chr(34), chr(34) * 2)}\";"
                   "2016-01-01\n" for i, n in enumerate(names))
    data = ("group_id;type;buurten;label;active_since\n" + rows).encode()
    known = list(areas.buurten["code"])
    reg = p.parse_registry(data, "f.csv", known_buurten=known).registry
    assert reg.groups["label"].tolist() == names
    exported = p.to_csv(reg)
    cells = [ln.split(";")[2] for ln in exported.decode().splitlines()[1:]]
    assert cells[:4] == ["\"'=HYPERLINK(\"\"http://x\"\")\"", "'+Oost", "'-West (oud)",
                         "'@team"]
    assert cells[4:] == ["-5", "O'Brien", "gewoon"]
    back = p.parse_registry(exported, "export.csv", known_buurten=known).registry
    assert back.groups["label"].tolist() == names
    assert back.groups["group_id"].tolist() == reg.groups["group_id"].tolist()


def test_geojson_with_buurt_lists_and_rd_detection() -> None:
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"group_id": "w1", "type": "WhatsApp",
                                           "buurten": ["BU07941900", "BU07941909"],
                                           "status_history": "actief 2017-05-01"},
         "geometry": None},
        {"type": "Feature", "properties": {"group_id": "w2", "type": "WhatsApp",
                                           "status": "actief", "since": "2017-05-01"},
         "geometry": {"type": "Polygon", "coordinates": [[[176000, 388000], [176100, 388000],
                                                          [176100, 388100], [176000, 388000]]]}},
    ]}
    with pytest.raises(InvalidInput, match="RD"):
        p.parse_registry(json.dumps(doc).encode(), "g.geojson")
    doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::28992"}}
    reg = p.parse_registry(json.dumps(doc).encode(), "g.geojson").registry
    assert reg.groups.loc[0, "buurten"] == ("BU07941900", "BU07941909")
    assert reg.groups.loc[1, "geometry"].area == pytest.approx(5000)


# --- gap ranking, growth, layers ------------------------------------------------------------

def test_gap_ranking_numbers(areas: Areas) -> None:
    reg = p.make_registry([_group("w", buurten=KERN_DIERDONK)],
                          [{"group_id": "w", "status": "actief", "since": "2017-01-01"}])
    risk = pd.Series({KERN_DIERDONK: 50.0, SCHEEPSTAL: 10.0, "BU07941006": 30.0})
    gaps = p.gap_ranking(reg, areas, risk, "2017-06-01")
    buurt = gaps.loc[gaps["level"] == "buurt"].set_index("code")
    assert buurt.loc[KERN_DIERDONK, "gap_score"] == 0          # fully covered
    assert buurt.loc["BU07941006", "rank"] == 1
    assert buurt.loc[SCHEEPSTAL, "rank"] == 2
    assert buurt.loc["BU07941006", "gap_share"] == pytest.approx(30 / 40)
    assert buurt.loc[KERN_DIERDONK, "risk_share"] == pytest.approx(50 / 90)
    wijk = gaps.loc[gaps["level"] == "wijk"].set_index("code")
    unc = wijk.loc[DIERDONK, "uncovered_share"]
    assert wijk.loc[DIERDONK, "risk"] == 60                     # summed from buurten
    assert wijk.loc[DIERDONK, "gap_score"] == pytest.approx(60 * unc)
    assert wijk.loc["WK079410", "gap_score"] == 30
    assert 60 * unc > 30  # Scheepstal (60% of Dierdonk) is uncovered
    assert list(wijk.sort_values("rank").index[:2]) == [DIERDONK, "WK079410"]
    assert (wijk.loc[wijk["risk"] == 0, "rank"] > 2).all()
    # a DataFrame from the hotspot engine gives the same result
    frame = pd.DataFrame({"code": risk.index, "expected": risk.to_numpy()})
    same = p.gap_ranking(reg, areas, frame, "2017-06-01")
    pd.testing.assert_frame_equal(gaps, same)
    with pytest.raises(InvalidInput):
        p.gap_ranking(reg, areas, -risk, "2017-06-01")


def test_risk_from_a_hotspot_surface(areas: Areas) -> None:
    reg = p.make_registry([_group("w", buurten=KERN_DIERDONK)],
                          [{"group_id": "w", "status": "actief", "since": "2017-01-01"}])
    inside = _box_in(areas, SCHEEPSTAL, 0, 0, 125, 125)
    b = areas.buurten.set_index("code").geometry
    # a cell straddling the Kern Dierdonk / Scheepstal edge, split by area
    edge = b[KERN_DIERDONK].intersection(b[SCHEEPSTAL].buffer(1)).representative_point()
    straddle = shapely.box(edge.x - 62.5, edge.y - 62.5, edge.x + 62.5, edge.y + 62.5)
    pt = b["BU07941006"].representative_point()
    surface = gpd.GeoDataFrame({"expected": [4.0, 10.0, 2.5]},
                               geometry=[inside, straddle, pt], crs=areas.buurten.crs)
    r = p.risk_from_surface(surface, areas, "expected")
    share = shapely.area(straddle.intersection(b[KERN_DIERDONK])) / straddle.area
    assert r[SCHEEPSTAL] == pytest.approx(4.0 + 10.0 * (1 - share), rel=1e-6)
    assert r[KERN_DIERDONK] == pytest.approx(10.0 * share, rel=1e-6)
    assert r["BU07941006"] == 2.5
    assert r.sum() == pytest.approx(16.5)
    gaps = p.gap_ranking(reg, areas, surface, "2017-06-01", levels=("buurt",))
    assert gaps.set_index("code").loc[SCHEEPSTAL, "risk"] == pytest.approx(r[SCHEEPSTAL])
    with pytest.raises(CrsError):
        p.risk_from_surface(surface.to_crs(4326), areas, "expected")


def test_hic_risk_counts_hic_only() -> None:
    inc = pd.DataFrame({"crime_type": ["woninginbraak", "fietsendiefstal", "mishandeling",
                                       "woninginbraak"],
                        "buurt_code": ["BU07941900", "BU07941900", "BU07941006", "BU07941006"],
                        "wijk_code": ["WK079419", "WK079419", "WK079410", "WK079410"]})
    r = p.hic_risk(inc, "buurt")
    assert r.to_dict() == {"BU07941006": 2.0, "BU07941900": 1.0}


def test_growth_per_quarter(areas: Areas, demo: p.Registry) -> None:
    g = p.growth_per_quarter(demo, areas, start="2017-01-01", end="2018-06-30")
    assert list(g["quarter"]) == ["2017Q1", "2017Q2", "2017Q3", "2017Q4", "2018Q1", "2018Q2"]
    assert g.loc[0, "active_teams"] == 33 and g.loc[0, "date"] == "2017-03-31"
    assert g.loc[5, "whatsapp_groups"] == 102
    assert g["wijkdekkend_wijken"].tolist()[-1] == 2
    assert (g["active_teams_change"].iloc[1:] == g["active_teams"].diff().iloc[1:]).all()
    w = p.growth_per_quarter(demo, areas, start="2017-01-01", end="2017-12-31", level="wijk")
    assert len(w) == 4 * len(areas.wijken)


def test_map_layers(areas: Areas, demo: p.Registry) -> None:
    layer = p.group_areas(demo, areas, "2017-03-31")
    assert layer.crs.to_epsg() == 28992
    assert layer["status"].notna().all()
    assert ((layer["type"] == p.TEAM) & (layer["status"] == "actief")).sum() == 33
    assert layer.geometry.is_valid.all() and (layer.geometry.area > 0).all()
    wijken = p.coverage_layer(demo, areas, "2018-04-20")
    assert isinstance(wijken, gpd.GeoDataFrame) and len(wijken) == 12
    assert set(p.COVERAGE_COLUMNS) <= set(wijken.columns)
    with pytest.raises(CrsError):
        p.coverage(p.Registry(groups=demo.groups.to_crs(4326), history=demo.history), areas,
                   "2018-01-01")


# --- demo registry --------------------------------------------------------------------------

def test_demo_figures_equal_the_seed(areas: Areas, demo: p.Registry) -> None:
    march = demo.counts_on("2017-03-15")
    april = demo.counts_on("2018-04-20")
    assert march["active_teams"] == 33
    assert april["active_teams"] == 42
    assert april["teams_in_formation"] == 9
    assert april["whatsapp_groups"] == 102
    early = p.coverage(demo, areas, "2018-03-01").set_index("code")
    assert set(early.index[early["fully_covered"]]) == {"WK079419", "WK079421"}
    assert (early.loc[["WK079419", "WK079421"], "coverage_share_whatsapp"] >= 0.95).all()
    april_cov = p.coverage(demo, areas, "2018-04-20").set_index("code")
    assert set(april_cov.index[april_cov["fully_covered"]]) == {"WK079419", "WK079421"}
    assert 0 < april_cov.loc["WK079413", "coverage_share"] < 0.95
    # Brandevoort is wijkdekkend only "sinds kort"
    assert not p.coverage(demo, areas, "2018-01-31").set_index("code").loc[
        "WK079421", "fully_covered"]
    # the networks are connected: their WhatsApp groups are linked to a team
    layer = p.group_areas(demo, areas, "2018-04-20")
    net = layer.loc[(layer["type"] == p.WHATSAPP)
                    & layer["wijk_codes"].isin(["WK079419", "WK079421"])]
    assert net["team_id"].notna().all() and len(net) >= 20
    assert (early.loc[["WK079419", "WK079421"], "whatsapp_groups_linked"]
            == early.loc[["WK079419", "WK079421"], "whatsapp_groups"]).all()
    teams = layer.set_index("group_id")
    assert teams.loc[net["team_id"].unique(), "linked_whatsapp_groups"].sum() >= len(net)


def test_demo_is_synthetic_seeded_and_placed_in_buurten(areas: Areas,
                                                        demo: p.Registry) -> None:
    assert demo.synthetic
    assert demo.groups["group_id"].str.startswith("DEMO-").all()
    assert demo.groups["label"].str.endswith("(demo)").all()
    again = demo_prevention_groups(areas, seed=42)
    pd.testing.assert_frame_equal(pd.DataFrame(again.groups.drop(columns="geometry")),
                                  pd.DataFrame(demo.groups.drop(columns="geometry")))
    other = demo_prevention_groups(areas, seed=7)
    assert other.counts_on("2018-04-20")["whatsapp_groups"] == 102
    assert not other.history.equals(demo.history)
    layer = p.group_areas(demo, areas, include_unregistered=True)
    buurten = areas.buurten.set_index("code").geometry
    poly = layer.loc[layer["area_kind"] == "polygon"]
    # each polygon lies within one buurt, never in the industrial estates
    home = [max(buurten.index, key=lambda c, g=g: g.intersection(buurten[c]).area)
            for g in poly.geometry]
    inside = [g.intersection(buurten[c]).area / g.area for g, c in zip(poly.geometry, home,
                                                                        strict=True)]
    assert min(inside) > 0.999
    assert not {"BU07942901", "BU07942902"} & set(home)


def test_demo_follows_burglary_and_never_overwrites_real_groups(
        areas: Areas, store: Store, demo: p.Registry) -> None:
    anna = "BU07941006"
    inc = pd.DataFrame({"crime_type": ["woninginbraak"] * 400, "buurt_code": [anna] * 400})
    hot = demo_prevention_groups(areas, seed=42, incidents=inc)
    assert hot.counts_on("2018-04-20") == demo.counts_on("2018-04-20")
    in_anna = lambda r: sum(anna in w for w in p.group_areas(r, areas)["buurten"]) + sum(  # noqa: E731
        p.group_areas(r, areas).geometry.intersection(
            areas.buurten.set_index("code").geometry[anna]).area > 1)
    assert in_anna(hot) > in_anna(demo) + 20
    sp.add_group(store, group_id="echt-1", type="bpt", status="actief", since="2017-01-01",
                 buurten=[anna])
    with pytest.raises(InvalidInput, match="echte groep"):
        sp.load_demo_registry(store, demo, source_name="demo")
    assert list(sp.load_registry(store).groups["group_id"]) == ["echt-1"]
    sp.load_demo_registry(store, demo, source_name="demo", force=True)
    assert len(sp.load_registry(store)) == len(demo)
    with pytest.raises(InvalidInput, match="demo"):
        sp.load_demo_registry(store, sp.load_registry(store).__class__(
            groups=demo.groups.assign(synthetic=False), history=demo.history),
            source_name="x")


# --- CLI ------------------------------------------------------------------------------------

def test_cli_coverage_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              shared_geo: Path) -> None:
    from typer.testing import CliRunner

    from geoveilig.cli import app

    monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GEOVEILIG_GEO_DIR", str(shared_geo))
    runner = CliRunner()
    empty = runner.invoke(app, ["prevention", "coverage"])
    assert empty.exit_code == 1
    csv = tmp_path / "reg.csv"
    csv.write_text("group_id;type;label;buurten;status_history\n"
                   "t1;bpt;BPT Dierdonk;BU07941900|BU07941909;in_oprichting 2016-01-01 | "
                   "actief 2016-06-01\n", encoding="utf-8")
    res = runner.invoke(app, ["prevention", "import", str(csv)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "cov.json"
    res = runner.invoke(app, ["prevention", "coverage", "--date", "2017-01-01", "--level",
                              "wijk", "--format", "json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert len(rows) == 12
    assert list(rows[0])[:7] == list(p.COVERAGE_COLUMNS)
    dier = next(r for r in rows if r["code"] == "WK079419")
    assert dier["fully_covered"] is True and dier["active_teams"] == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("group_id;type;telefoon;buurten;status;since\n"
                   "t2;bpt;0612345678;BU07941900;actief;2017-01-01\n", encoding="utf-8")
    res = runner.invoke(app, ["prevention", "import", str(bad)])
    assert res.exit_code == 2
    assert "telefoon" in res.output


def test_migration_0002_down_and_up(store: Store) -> None:
    from alembic import command

    from geoveilig.store import _alembic_config

    sp.add_group(store, group_id="t1", type="bpt", status="actief", since="2017-01-01",
                 buurten=[KERN_DIERDONK])
    with store.engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0001")
    assert store.schema_revision() == "0001"
    with store.engine.connect() as conn:
        names = set(conn.dialect.get_table_names(conn))
    assert "prevention_groups" not in names and "incidents" in names
    store.migrate()
    assert store.schema_revision() == Store.head_revision()
    assert sp.load_registry(store).groups.empty
