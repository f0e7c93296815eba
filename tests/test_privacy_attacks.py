"""Attacks on the public and analyst tiers, tried as an outsider would (docs/privacy.md).

The data are constructed so that the true small values are known. Every differencing attack
is first run against the exact numbers (the police key), where it recovers the hidden value
(so the attack is real and the test can fail), then against the public output, where the
attacker's equation keeps the noise of every published cell it uses: the hidden value is
not determined (at least two values between 1 and 4 remain possible) and the outputs agree
with each other (same cell, same number, in every format, page and order).

The analyst tier: a single incident of its crime type is moved to another day of the same
month; every hotspot and planning answer an analyst can get stays byte for byte the same,
while the police's day-by-day naive hotspots find its day.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from geoveilig.api import create_app
from geoveilig.disclosure import PTABLE
from geoveilig.settings import Settings
from geoveilig.store import Store

MAX_NOISE = max(abs(e) for e, _p in PTABLE)
SECRET = "test-disclosure-secret-0123456789"
WIJK = "WK079413"  # 5 buurten
OTHER_WIJK = "WK079414"
TRUE_SMALL = 3  # zedenmisdrijven in the first buurt of WIJK in 2017 (hidden for the public)


def _points(areas, code: str, level: str = "buurt") -> tuple[float, float]:  # type: ignore[no-untyped-def]
    layer = areas.buurten if level == "buurt" else areas.wijken
    geom = layer.loc[layer["code"] == code, "geometry"].iloc[0].representative_point()
    return geom.x, geom.y


def _rows(areas) -> tuple[list[tuple[str, str, str, float, float]], dict[str, object]]:  # type: ignore[no-untyped-def]
    """Incidents (id, type, time, x, y) and the facts the tests check against."""
    buurten = list(areas.buurten.loc[areas.buurten["wijk_code"] == WIJK, "code"])
    rows: list[tuple[str, str, str, float, float]] = []

    def add(kind: str, code: str, n: int, month: int, day0: int = 2) -> None:
        x, y = _points(areas, code)
        for i in range(n):
            rows.append((f"T{len(rows)}", kind, f"2017-{month:02d}-{day0 + i % 20:02d} 12:00",
                         x + 3 * (i % 5), y + 3 * (i // 5)))

    # coverage of 2016 and 2017 (so the report compares 2017 with 2016)
    x, y = _points(areas, buurten[-1])
    rows.append(("C0", "vernieling", "2016-01-01 12:00", x, y))
    rows.append(("C1", "vernieling", "2017-12-31 12:00", x, y))
    # zedenmisdrijven 2017 in WIJK: 3 in the first buurt, larger counts in the others
    add("zedenmisdrijf", buurten[0], TRUE_SMALL, 1)
    for j, code in enumerate(buurten[1:]):
        add("zedenmisdrijf", code, 8 + 2 * j, 5)
    # mishandelingen in the first buurt: 3 in January, 6 in February, 7 in March
    add("mishandeling", buurten[0], TRUE_SMALL, 1)
    add("mishandeling", buurten[0], 6, 2)
    add("mishandeling", buurten[0], 7, 3)
    # crime-type lists in OTHER_WIJK: 2 overvallen hidden between two large categories
    other = areas.buurten.loc[areas.buurten["wijk_code"] == OTHER_WIJK, "code"].iloc[0]
    add("overval", other, 2, 6)
    add("woninginbraak", other, 20, 6)
    add("fietsendiefstal", other, 30, 7)
    # a small wijk count for the report: 2 zedenmisdrijven in a third wijk
    third = areas.buurten.loc[areas.buurten["wijk_code"] == "WK079415", "code"].iloc[0]
    add("zedenmisdrijf", third, 2, 8)
    facts = {"buurten": buurten, "small": TRUE_SMALL, "overval": 2}
    return rows, facts


def _csv(rows: list[tuple[str, str, str, float, float]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["registratienummer", "misdrijf", "datum", "x", "y"])
    w.writerows(rows)
    return buf.getvalue().encode()


def _store(tmp: Path, areas, rows) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from geoveilig.incidents import parse_incidents
    from geoveilig.store.keys import create_key

    data = _csv(rows)
    parsed = parse_incidents(data, filename="attack.csv", areas=areas)
    store = Store.sqlite(tmp / "geoveilig.sqlite")
    try:
        store.import_incidents(parsed, source_name="attack.csv", content_sha256="a" * 64)
        return {role: create_key(store, f"t-{role}", role)[1] for role in ("analyst", "police")}
    finally:
        store.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory, shared_geo, areas) -> Iterator[tuple[TestClient, dict, dict]]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("attacks")
    rows, facts = _rows(areas)
    keys = _store(tmp, areas, rows)
    settings = Settings(data_dir=tmp, geo_dir=shared_geo, disclosure_key=SECRET, rate_limit="")
    with TestClient(create_app(settings)) as client:
        yield client, keys, facts


def _counts(client: TestClient, layer: str, query: str, headers: dict | None = None
            ) -> dict[str, int | None]:
    r = client.get(f"/v1/collections/{layer}/items?{query}&limit=1000", headers=headers or {})
    assert r.status_code == 200, r.text
    return {f["properties"]["code"]: f["properties"]["count"] for f in r.json()["features"]}


def _feasible(estimate: int, noisy_terms: int) -> list[int]:
    """The hidden values (1..4) consistent with an estimate that carries ``noisy_terms``
    published cells, each off by at most MAX_NOISE."""
    return [x for x in range(1, 5) if abs(estimate - x) <= MAX_NOISE * noisy_terms]


def _undetermined(estimate: int, truth: int, noisy_terms: int) -> None:
    options = _feasible(estimate, noisy_terms)
    assert truth in options and len(options) >= 2, (estimate, truth, options)


def _police(keys: dict) -> dict[str, str]:
    return {"X-API-Key": keys["police"]}


# --- differencing --------------------------------------------------------------------------

def test_wijk_minus_its_buurten(world) -> None:  # type: ignore[no-untyped-def]
    client, keys, facts = world
    hidden = facts["buurten"][0]
    q = "crimeType=zedenmisdrijf&period=2017"
    exact_w = _counts(client, "wijken", q, _police(keys))[WIJK]
    exact_b = _counts(client, "buurten", q + f"&wijk_code={WIJK}", _police(keys))
    assert exact_w - sum(v for c, v in exact_b.items() if c != hidden) == facts["small"]
    pub_w = _counts(client, "wijken", q)[WIJK]
    pub_b = _counts(client, "buurten", q + f"&wijk_code={WIJK}")
    assert pub_b[hidden] is None and pub_w is not None
    others = [c for c in pub_b if c != hidden]
    assert all(pub_b[c] is not None for c in others)
    _undetermined(pub_w - sum(pub_b[c] for c in others), facts["small"], 1 + len(others))


def test_crime_type_lists_and_total_minus_types(world) -> None:  # type: ignore[no-untyped-def]
    client, keys, facts = world
    # arbitrary lists are not a public table
    r = client.get("/v1/collections/wijken/items?crimeType=woninginbraak,overval&period=2017")
    assert r.status_code == 400 and r.json()["parameter"] == "crimeType"
    assert client.get("/v1/collections/wijken/items?crimeType=woninginbraak,overval"
                      "&period=2017", headers=_police(keys)).status_code == 200
    # totaal minus every other type, with exact numbers, gives the hidden 2
    exact = {t: _counts(client, "wijken", f"crimeType={t}&period=2017", _police(keys))[
        OTHER_WIJK] for t in ("totaal", "woninginbraak", "fietsendiefstal", "overval")}
    assert exact["totaal"] - exact["woninginbraak"] - exact["fietsendiefstal"] == 2
    pub = {t: _counts(client, "wijken", f"crimeType={t}&period=2017")[OTHER_WIJK]
           for t in ("totaal", "woninginbraak", "fietsendiefstal", "overval")}
    assert pub["overval"] is None
    _undetermined(pub["totaal"] - pub["woninginbraak"] - pub["fietsendiefstal"],
                  facts["overval"], 3)
    # the same through the report's rows (totaal minus the listed categories)
    rep = client.get("/v1/reports/evaluation?year=2017&level=wijk"
                     "&crimeType=totaal,woninginbraak,fietsendiefstal,overval").json()
    mine = {r["crime_type"]: r["count"] for r in rep["rows"] if r["area_code"] == OTHER_WIJK}
    assert mine["overval"] is None
    assert mine == pub  # the report and the layer publish the same cells


def test_overlapping_and_adjacent_periods(world) -> None:  # type: ignore[no-untyped-def]
    client, keys, facts = world
    hidden = facts["buurten"][0]
    base = "/v1/collections/buurten/items?crimeType=zedenmisdrijf&period="
    for period in ("2017-01-01/2017-02-01", "2017-01-02/2017-01-31", "2017-W02"):
        r = client.get(base + period)
        assert r.status_code == 400 and r.json()["parameter"] == "period", period
        assert client.get(base + period, headers=_police(keys)).status_code == 200
    r = client.get("/v1/reports/evaluation?period=2017-01-01/2017-02-01&level=wijk")
    assert r.status_code == 400
    # a date range that is a calendar month is that month's cell (no second draw)
    assert _counts(client, "buurten", "crimeType=woninginbraak&period=2017-01-01/2017-01-31"
                   ) == _counts(client, "buurten", "crimeType=woninginbraak&period=2017-01")
    # adjacent calendar units: Q1 minus February minus March
    t = "crimeType=mishandeling&period="
    exact = {p: _counts(client, "buurten", t + p, _police(keys))[hidden]
             for p in ("2017-Q1", "2017-02", "2017-03")}
    assert exact["2017-Q1"] - exact["2017-02"] - exact["2017-03"] == facts["small"]
    pub = {p: _counts(client, "buurten", t + p)[hidden]
           for p in ("2017-Q1", "2017-02", "2017-03", "2017-01")}
    assert pub["2017-01"] is None
    _undetermined(pub["2017-Q1"] - pub["2017-02"] - pub["2017-03"], facts["small"], 3)
    # the year minus its quarters
    year = _counts(client, "buurten", t + "2017")[hidden]
    quarters = [_counts(client, "buurten", t + f"2017-Q{q}")[hidden] for q in (2, 3, 4)]
    assert quarters == [0, 0, 0]  # true zeros stay zeros
    assert year is not None and abs(year - 16) <= MAX_NOISE
    assert abs(year - pub["2017-Q1"]) <= 2 * MAX_NOISE


def test_report_versus_layer_and_every_format(world) -> None:  # type: ignore[no-untyped-def]
    client, keys, _facts = world
    q = "year=2017&level=wijk&crimeType=zedenmisdrijf"
    js = client.get(f"/v1/reports/evaluation?{q}&f=json").json()
    rows = {r["area_code"]: r for r in js["rows"]}
    layer = _counts(client, "wijken", "crimeType=zedenmisdrijf&period=2017")
    for code, r in rows.items():
        if code:
            assert r["count"] == layer[code], code  # the same cell, the same number
        assert r["count"] is None or r["count"] == 0 or r["count"] >= 5
        assert r.get("p_1y") is None or r["count"] is not None
    exact = client.get(f"/v1/reports/evaluation?{q}&f=json", headers=_police(keys)).json()
    assert any(1 <= r["count"] <= 4 for r in exact["rows"])  # there is something to hide
    text = client.get(f"/v1/reports/evaluation?{q}&f=csv").text
    table = list(csv.DictReader(io.StringIO(text)))
    for rec in table:
        shown = rec["aantal_2017"]
        want = rows[rec["gebiedscode"]]["count"]
        assert (shown == "" and want is None) or int(float(shown)) == want
    # HTML: the public report prints the published gemeente total, not the exact one
    gem = client.get("/v1/reports/evaluation?year=2017&f=json").json()["rows"][0]
    gem_exact = client.get("/v1/reports/evaluation?year=2017&f=json",
                           headers=_police(keys)).json()["rows"][0]
    html = client.get("/v1/reports/evaluation?year=2017&f=html").text
    assert gem["crime_type"] == "totaal"
    if gem["count"] != gem_exact["count"]:
        assert f">{gem['count']}<" in html and f">{gem_exact['count']}<" not in html
    # the same request always gives the same answer
    again = client.get(f"/v1/reports/evaluation?{q}&f=json").json()
    assert again == js


def test_paging_and_parameter_order_give_the_same_cells(world) -> None:  # type: ignore[no-untyped-def]
    client, _keys, _facts = world
    full = _counts(client, "buurten", "crimeType=zedenmisdrijf&period=2017-01")
    paged: dict[str, int | None] = {}
    for offset in range(0, len(full), 7):
        r = client.get("/v1/collections/buurten/items?period=2017-01&crimeType=zedenmisdrijf"
                       f"&limit=7&offset={offset}").json()
        paged.update({f["properties"]["code"]: f["properties"]["count"]
                      for f in r["features"]})
    assert paged == full
    one = client.get(f"/v1/collections/buurten/items/{_facts['buurten'][0]}"
                     "?crimeType=zedenmisdrijf&period=2017-01").json()
    assert one["properties"]["count"] is None and one["properties"]["count_suppressed"]
    assert all(v is None or v == 0 or v >= 5 for v in full.values())


# --- the analyst tier --------------------------------------------------------------------------

def _single_incident_world(tmp: Path, shared_geo: Path, areas, day: int):  # type: ignore[no-untyped-def]
    """Background burglaries and ONE overval on 2017-03-``day``."""
    buurten = list(areas.buurten["code"])
    rows = []
    for i in range(120):
        x, y = _points(areas, buurten[i % len(buurten)])
        rows.append((f"B{i}", "woninginbraak", f"2017-{1 + i % 4:02d}-{1 + i % 27:02d} 08:00",
                     x + i % 7, y))
    x, y = _points(areas, buurten[5])
    rows.append(("SECRET", "overval", f"2017-03-{day:02d} 22:00", x, y))
    keys = _store(tmp, areas, rows)
    return Settings(data_dir=tmp, geo_dir=shared_geo, disclosure_key=SECRET, rate_limit=""), keys


def _answers(client: TestClient, key: str, origins: list[str]) -> list[tuple[int, str]]:
    out = []
    for origin in origins:
        for method, window in (("naive", "1d"), ("kde", "1d")):
            r = client.get(f"/v1/collections/hotspots/items?crimeType=overval&method={method}"
                           f"&window={window}&origin={origin}&limit=5000",
                           headers={"X-API-Key": key})
            out.append((r.status_code, r.text))
    return out


def test_analyst_cannot_date_a_single_incident(tmp_path: Path, shared_geo: Path, areas) -> None:  # type: ignore[no-untyped-def]
    origins = [f"2017-03-{d:02d}" for d in range(2, 32, 3)] + ["2017-04-01", "2017-04-02"]
    seen = []
    for day in (7, 20):
        settings, keys = _single_incident_world(tmp_path / f"d{day}", shared_geo, areas, day)
        with TestClient(create_app(settings)) as c:
            analyst = _answers(c, keys["analyst"], origins)
            plan = c.post("/v1/recommendations/cameras",
                          json={"count": 2, "origin": "2017-04-10", "window": "28d"},
                          headers={"X-API-Key": keys["analyst"]})
            assert plan.status_code == 200, plan.text
            # control: the police, stepping the naive 1-day surface, find the day
            police = {}
            for d in range(5, 23):
                r = c.get("/v1/collections/hotspots/items?crimeType=overval&method=naive"
                          f"&window=1d&origin=2017-03-{d:02d}&limit=5000",
                          headers={"X-API-Key": keys["police"]})
                police[d] = r.status_code
            # the first origin with a surface is the day after the incident (before it there
            # is no overval to build on); how long it stays depends on the look-back
            found = [d - 1 for d, status in police.items() if status == 200]
            assert found and found[0] == day
        seen.append((analyst, json.loads(plan.text)["features"]))
    # whatever day in March the incident happened, the analyst gets the same answers
    assert seen[0] == seen[1]
    assert any(status == 200 for status, _ in seen[0][0])  # the month itself is visible


def test_police_plans_and_analyst_evaluations_do_not_date_an_incident(  # type: ignore[no-untyped-def]
        tmp_path: Path, shared_geo: Path, areas) -> None:
    """A plan the police computed (on exact times) is invisible below the police: not in the
    recommendations layer, not by its planId, not as the source of new deployments. The
    analyst's "did it help?" counts incidents by month: a circle around the single incident
    with a start stepped through March answers the same whatever day the incident was."""
    buurten = list(areas.buurten["code"])
    seen = []
    for day in (7, 20):
        settings, keys = _single_incident_world(tmp_path / f"e{day}", shared_geo, areas, day)
        analyst, police = {"X-API-Key": keys["analyst"]}, {"X-API-Key": keys["police"]}
        x, y = _points(areas, buurten[5])
        with TestClient(create_app(settings)) as c:
            # a surface the police read first is not handed to the analyst from a cache
            url = ("/v1/collections/hotspots/items?crimeType=overval&method=prospective"
                   "&window=7d&origin=2017-04-21&limit=5000")
            exact = c.get(url, headers=police)
            shown = c.get(url, headers=analyst)
            assert exact.status_code == shown.status_code == 200
            effects: list[object] = [shown.json()["features"]]
            made = c.post("/v1/recommendations/cameras", headers=police,
                          json={"count": 2, "origin": "2017-03-25", "window": "7d"})
            assert made.status_code == 200, made.text
            plan_id = made.json()["summary"]["planId"]
            mine = c.get(f"/v1/collections/recommendations/items?planId={plan_id}",
                         headers=police)
            assert mine.status_code == 200 and mine.json()["features"]
            assert c.get(f"/v1/collections/recommendations/items?planId={plan_id}",
                         headers=analyst).status_code == 404
            listed = c.get("/v1/collections/recommendations/items", headers=analyst)
            assert listed.status_code == 200 and listed.json()["features"] == []
            taken = c.post("/v1/deployments", headers=analyst,
                           json={"planId": plan_id, "ranks": [1]})
            assert taken.status_code == 404, taken.text
            for start in ("2017-03-05", "2017-03-12", "2017-03-19", "2017-03-26"):
                dep = c.post("/v1/deployments", headers=analyst,
                             json={"kind": "alarm", "x": x, "y": y, "radius": 100,
                                   "start": start})
                assert dep.status_code == 201, dep.text
                dep_id = dep.json()["deployments"][0]["id"]
                r = c.get(f"/v1/deployments/{dep_id}/effect", headers=analyst)
                assert r.status_code == 200, r.text
                body = r.json()
                effects.append((body["counts"], body["verdict"]))
        seen.append(effects)
    assert seen[0] == seen[1]
