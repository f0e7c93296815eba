"""Several gemeenten in one service (issue 22, item 3): Helmond (GM0794) and the synthetic
neighbour Buurdorp (GM9901, ``tests/multi_support.py``) loaded together."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from geoveilig.areas import (
    count_per_gemeente,
    fetch_pdok,
    gemeente_of,
    load_areas,
    parse_gemeenten,
    save_areas,
)
from geoveilig.cli import app
from geoveilig.errors import AreaError, InvalidInput, NotFound
from tests.multi_support import BORDER_X, BUURDORP, two_gemeenten_dir
from tests.pdok_fake import FakePdok

runner = CliRunner()


@pytest.fixture(scope="module")
def two_dir(shared_geo, tmp_path_factory):
    return two_gemeenten_dir(shared_geo, tmp_path_factory.mktemp("two") / "geo")


@pytest.fixture(scope="module")
def two(two_dir):
    return load_areas(two_dir, gemeente="GM0794,GM9901")


def test_parse_gemeenten():
    assert parse_gemeenten("GM0794") == ("GM0794",)
    assert parse_gemeenten(" gm0794, 9901 ,GM0794") == ("GM0794", "GM9901")
    assert parse_gemeenten(["GM0772", "GM0794"]) == ("GM0772", "GM0794")
    assert parse_gemeenten("*") is None and parse_gemeenten("alle") is None
    assert parse_gemeenten(None) is None
    with pytest.raises(InvalidInput, match="'GM07' is geen CBS-gemeentecode"):
        parse_gemeenten("GM0794,GM07")
    with pytest.raises(InvalidInput, match="niet samen"):
        parse_gemeenten("alle,GM0794")


def test_two_gemeenten_load_together_with_unique_codes(two, areas):
    assert two.gemeente_codes == ("GM0794", "GM9901")
    assert two.gemeenten.to_dict("records") == [{"code": "GM0794", "name": "Helmond"},
                                                {"code": "GM9901", "name": "Buurdorp"}]
    assert len(two.wijken) == 12 + 2 and len(two.buurten) == 44 + 4
    assert two.buurten["code"].is_unique and two.wijken["code"].is_unique
    assert set(two.buurten["gemeente_code"]) == {"GM0794", "GM9901"}
    # CBS attributes of the fixture are read (AANT_INW -> inhabitants)
    assert two.buurten.set_index("code").loc["BU99010101", "inhabitants"] == 4000
    assert two.choices() == "GM0794 (Helmond), GM9901 (Buurdorp)"


def test_one_code_behaves_as_before(two_dir, areas):
    one = load_areas(two_dir, gemeente="GM0794")
    assert one.gemeente_code == "GM0794" and one.gemeente_name == "Helmond"
    assert list(one.buurten["code"]) == list(areas.buurten["code"])
    assert one.warnings == areas.warnings
    every = load_areas(two_dir, gemeente="alle")
    assert every.gemeente_codes == ("GM0794", "GM9901")
    assert load_areas(two_dir).gemeente_codes == ("GM0794", "GM9901")


def test_select_gives_one_gemeente_and_names_the_choices(two, areas):
    helmond = two.select("GM0794")
    assert list(helmond.wijken["code"]) == list(areas.wijken["code"])
    assert helmond.gemeente_name == "Helmond"
    assert two.select("*") is two
    assert two.select("GM9901") is two.select("gm9901")  # one object per gemeente
    assert list(two.select("GM9901").buurten["code"]) == [
        "BU99010101", "BU99010102", "BU99010201", "BU99010202"]
    with pytest.raises(NotFound, match=r"onbekende gemeente GM0772; kies uit GM0794 "
                                           r"\(Helmond\), GM9901 \(Buurdorp\)"):
        two.select("GM0772")


def test_a_missing_gemeente_is_an_error(two_dir):
    with pytest.raises(AreaError, match="GM0772 niet gevonden"):
        load_areas(two_dir, gemeente="GM0794,GM0772")


def test_duplicate_codes_across_gemeenten_are_refused(shared_geo, tmp_path):
    folder = two_gemeenten_dir(shared_geo, tmp_path / "geo")
    bu = gpd.read_file(BUURDORP / "buurdorp_buurten_2017.geojson")
    bu.loc[0, "BU_CODE"] = "BU07941000"  # a Helmond buurt code, in Buurdorp's file
    bu.to_file(folder / "buurdorp_buurten_2017.geojson")
    with pytest.raises(AreaError, match="dubbele code"):
        load_areas(folder)


def test_points_near_the_border_land_in_the_right_gemeente(two):
    rng = np.random.default_rng(7)
    x = rng.uniform(BORDER_X - 1500, BORDER_X + 1500, 4000)
    y = rng.uniform(383400, 391100, 4000)
    got = two.assign_gemeente(x, y)
    # oracle: shapely's contains on every buurt of both gemeenten
    pts = shapely.points(x, y)
    expect = np.full(len(x), None, dtype=object)
    for code, geom in zip(two.buurten["code"], two.buurten.geometry.values, strict=True):
        expect[shapely.contains(geom, pts)] = code
    inside = pd.notna(expect)
    assert (got["buurt_code"].to_numpy(dtype=object)[inside] == expect[inside]).all()
    assert got["buurt_code"].isna().to_numpy()[~inside].all()
    gm = got["gemeente_code"].to_numpy(dtype=object)
    assert (gm[inside & (x > BORDER_X)] == "GM9901").all()
    assert (gm[inside & (x < BORDER_X)] == "GM0794").all()
    # each kind occurs: both gemeenten and the gap between them
    assert {"GM0794", "GM9901"} <= set(gm[inside]) and (~inside).sum() > 0
    # a point 10 m either side of the Buurdorp border
    pair = two.assign_gemeente(np.array([BORDER_X + 10, BORDER_X - 10]),
                               np.array([387000.0, 387000.0]))
    assert pair["gemeente_code"].iloc[0] == "GM9901"
    assert pd.isna(pair["buurt_code"].iloc[1])


def test_gemeente_of_and_counts():
    codes = pd.Series(["BU07941000", "BU99010101", None, "BU07941001"])
    assert list(gemeente_of(codes)) == ["GM0794", "GM9901", None, "GM0794"]
    assert count_per_gemeente(codes) == {"GM0794": 2, "GM9901": 1}


def test_outside_reason_names_every_gemeente(two):
    assert two.outside_reason() == ("ligt buiten de gemeenten GM0794, GM9901 "
                                    "(in geen enkele buurt)")
    assert two.select("GM0794").outside_reason() == (
        "ligt buiten de gemeente Helmond (in geen enkele buurt)")


def test_fetch_pdok_for_two_gemeenten_offline(two, tmp_path):
    with FakePdok(two) as pdok:
        fetched = fetch_pdok("GM0794,GM9901", 2017, pdok.url)
        with pytest.raises(InvalidInput, match="noem de gemeenten"):
            fetch_pdok("alle", 2017, pdok.url)
    assert [q["CQL_FILTER"] for q in pdok.requests] == (
        [["gemeentecode='GM0794'"]] * 3 + [["gemeentecode='GM9901'"]] * 3)
    assert fetched.gemeente_codes == ("GM0794", "GM9901")
    assert len(fetched.buurten) == 48
    paths = save_areas(fetched, tmp_path / "geo")
    assert [p.name for p in paths] == ["gm0794-gm9901_gemeente_2017.geojson",
                                       "gm0794-gm9901_wijken_2017.geojson",
                                       "gm0794-gm9901_buurten_2017.geojson"]
    again = load_areas(tmp_path / "geo")
    assert list(again.buurten["code"]) == list(two.buurten["code"])


def test_cli_areas_fetch_and_show_several(two, tmp_path, monkeypatch):
    monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GEOVEILIG_GEO_DIR", str(tmp_path / "geo"))
    monkeypatch.setenv("GEOVEILIG_GEMEENTE", "GM0794,GM9901")
    with FakePdok(two) as pdok:
        monkeypatch.setenv("GEOVEILIG_PDOK_URL", pdok.url)
        result = runner.invoke(app, ["areas", "fetch", "--gemeente", "GM0794,GM9901"])
    assert result.exit_code == 0, result.output
    assert "14 wijken en 48 buurten van Helmond, Buurdorp" in result.output
    shown = runner.invoke(app, ["areas", "show"])
    assert shown.exit_code == 0, shown.output
    assert "2 gemeenten: GM0794 (Helmond), GM9901 (Buurdorp)" in shown.output
    assert "WK990102" in shown.output and "WK079421" in shown.output
    one = runner.invoke(app, ["areas", "show", "--gemeente", "GM9901"])
    assert "Gemeente Buurdorp (GM9901)" in one.output and "WK079421" not in one.output
    bad = runner.invoke(app, ["areas", "show", "--gemeente", "GM0772"])
    assert bad.exit_code == 1 and "kies uit GM0794 (Helmond), GM9901 (Buurdorp)" in bad.output


# --- imports across gemeente borders ---------------------------------------------------------

NOW = pd.Timestamp("2018-01-01", tz="Europe/Amsterdam")


def _border_file(two) -> bytes:
    """Incidents on both sides of the Helmond-Buurdorp border and one in the gap between."""
    helmond = two.select("GM0794").buurten
    east = helmond.loc[helmond.geometry.bounds["maxx"].idxmax()]
    hx, hy = shapely.get_coordinates(east.geometry.representative_point())[0]
    rows = ["registratienummer;soort;pleegdatum;x;y",
            f"h1;woninginbraak;2017-03-14;{hx:.1f};{hy:.1f}",
            f"b1;woninginbraak;2017-03-15;{BORDER_X + 25:.1f};387000",
            f"b2;fietsendiefstal;2017-04-01;{BORDER_X + 4000:.1f};390000",
            f"gap;woninginbraak;2017-03-16;{BORDER_X - 20:.1f};387000",
            "far;woninginbraak;2017-03-16;100000;400000"]
    return ("\n".join(rows) + "\n").encode()


def test_import_assigns_across_borders_and_rejects_outside_all(two, store):
    from geoveilig.incidents import parse_incidents

    parsed = parse_incidents(_border_file(two), filename="grens.csv", areas=two, now=NOW)
    got = parsed.incidents.set_index("incident_id")
    assert got.loc["b1", "buurt_code"] == "BU99010101" and got.loc["b1", "wijk_code"] == "WK990101"
    assert got.loc["b2", "buurt_code"] == "BU99010202"
    assert got.loc["h1", "buurt_code"].startswith("BU0794")
    reasons = parsed.rejects.set_index("row")["reason"]
    assert list(reasons) == ["ligt buiten de gemeenten GM0794, GM9901 (in geen enkele buurt)"] * 2
    summary = store.import_incidents(parsed, source_name="grens.csv", content_sha256="s" * 64,
                                     partial=True)
    assert summary.accepted == 3 and summary.rejected == 2
    assert dict(summary.per_gemeente) == {"GM0794": 1, "GM9901": 2}
    stored = store.incidents()
    assert sorted(stored["buurt_code"].str[:6]) == ["BU0794", "BU9901", "BU9901"]


def test_import_cli_counts_per_gemeente(two, two_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GEOVEILIG_GEO_DIR", str(two_dir))
    monkeypatch.setenv("GEOVEILIG_GEMEENTE", "alle")
    f = tmp_path / "grens.csv"
    f.write_bytes(_border_file(two))
    result = runner.invoke(app, ["import", str(f), "--partial"])
    assert result.exit_code == 0, result.output
    assert "Per gemeente: Helmond (GM0794) 1, Buurdorp (GM9901) 2." in result.output
    # one gemeente configured: Buurdorp's incidents are outside it, as before
    monkeypatch.setenv("GEOVEILIG_GEMEENTE", "GM0794")
    monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(tmp_path / "data1"))
    result = runner.invoke(app, ["import", str(f), "--partial"])
    assert result.exit_code == 0, result.output
    assert "afgewezen: 4" in result.output and "Per gemeente" not in result.output


# --- CLI: --gemeente --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cli_env(two, two_dir, tmp_path_factory):  # type: ignore[no-untyped-def]
    from tests.multi_support import incidents_csv

    tmp = tmp_path_factory.mktemp("cli")
    env = {"GEOVEILIG_DATA_DIR": str(tmp / "data"), "GEOVEILIG_GEO_DIR": str(two_dir),
           "GEOVEILIG_GEMEENTE": "GM0794,GM9901"}
    f = incidents_csv(two, tmp / "incidents.csv")
    result = runner.invoke(app, ["import", str(f)], env=env)
    assert result.exit_code == 0, result.output
    assert "Per gemeente: Helmond (GM0794) 400, Buurdorp (GM9901) 120." in result.output
    return env, tmp


def test_cli_report_needs_a_gemeente_with_several(cli_env):
    env, _tmp = cli_env
    result = runner.invoke(app, ["report", "--year", "2016"], env=env)
    assert result.exit_code == 1
    assert ("kies er een met gemeente (GM0794 (Helmond), GM9901 (Buurdorp))"
            in " ".join(result.output.split()))
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["report", "--year", "2016", "--gemeente", "GM9901",
                                 "--format", "json", "--level", "wijk"], env=env)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["rows"]
    assert {r["area_code"] for r in rows} == {"WK990101", "WK990102"}
    assert not any(r["area_code"].startswith(("WK0794", "GM0794")) for r in rows)
    bad = runner.invoke(app, ["report", "--year", "2016", "--gemeente", "GM0772"], env=env)
    assert bad.exit_code == 1 and "onbekende gemeente GM0772" in " ".join(bad.output.split())


def test_cli_export_and_hotspots_per_gemeente(cli_env):
    env, tmp = cli_env
    out = tmp / "buurdorp.csv"
    result = runner.invoke(app, ["export", "--out", str(out), "--gemeente", "GM9901"], env=env)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, sep=";")
    assert len(frame) == 120 and set(frame["buurtcode"].str[:6]) == {"BU9901"}
    every = tmp / "alle.csv"
    assert runner.invoke(app, ["export", "--out", str(every)], env=env).exit_code == 0
    assert len(pd.read_csv(every, sep=";")) == 520
    geo = tmp / "hot.geojson"
    result = runner.invoke(app, ["hotspots", "--crime-type", "woninginbraak", "--method", "kde",
                                 "--no-backtest", "--out", str(geo), "--rd"], env=env)
    assert result.exit_code == 1 and "kies er een met gemeente" in " ".join(result.output.split())
    result = runner.invoke(app, ["hotspots", "--crime-type", "woninginbraak", "--method", "kde",
                                 "--no-backtest", "--out", str(geo), "--rd",
                                 "--gemeente", "GM9901"], env=env)
    assert result.exit_code == 0, result.output
    cells = gpd.read_file(geo)
    assert len(cells) and cells.total_bounds[0] >= BORDER_X - 125


def test_every_planning_command_takes_gemeente():
    for cmd in (["report"], ["hotspots"], ["backtest"], ["nearrepeat"], ["recommend", "alarms"],
                ["recommend", "cameras"], ["recommend", "buurttent"], ["map"], ["export"],
                ["prevention", "coverage"], ["prevention", "gaps"], ["prevention", "growth"],
                ["prevention", "export"], ["areas", "show"], ["cbs", "fetch"]):
        result = runner.invoke(app, [*cmd, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0 and "--gemeente" in result.output, cmd


def test_a_national_geopackage_with_alle_or_some_codes(two, tmp_path):
    """One GeoPackage with a layer per level for every gemeente (as the national CBS map),
    with the CBS attribute names."""
    gpkg = tmp_path / "wijkbuurtkaart_2017.gpkg"
    two.gemeente.rename(columns={"code": "GM_CODE", "name": "GM_NAAM"}).to_file(
        gpkg, layer="gemeenten", driver="GPKG")
    two.wijken[["code", "name", "geometry"]].rename(
        columns={"code": "WK_CODE", "name": "WK_NAAM"}).to_file(gpkg, layer="wijken",
                                                                 driver="GPKG")
    two.buurten[["code", "name", "geometry"]].rename(
        columns={"code": "BU_CODE", "name": "BU_NAAM"}).to_file(gpkg, layer="buurten",
                                                                 driver="GPKG")
    every = load_areas(gpkg, gemeente="alle")
    assert every.gemeente_codes == ("GM0794", "GM9901") and len(every.buurten) == 48
    assert every.year == 2017
    assert load_areas(gpkg, gemeente="*").gemeente_codes == ("GM0794", "GM9901")
    only = load_areas(gpkg, gemeente="GM9901")
    assert only.gemeente_codes == ("GM9901",) and len(only.wijken) == 2


def test_prevention_coverage_per_gemeente(two, areas):
    """At gemeente level with two gemeenten: one row per gemeente, each with its own area and
    groups; Helmond's row equals the Helmond-only service's."""
    from geoveilig import prevention as p

    helmond_bu = areas.buurten["code"].iloc[0]
    buurdorp_bu = two.buurten.loc[two.buurten["code"].str.startswith("BU9901"), "code"].iloc[0]
    data = ("group_id;type;buurten;active_since\n"
            f"h1;bpt;{helmond_bu};2016-01-01\n"
            f"b1;whatsapp;{buurdorp_bu};2016-01-01\n").encode()
    reg = p.parse_registry(data, "g.csv", known_buurten=list(two.buurten["code"])).registry
    both = p.coverage(reg, two, "2017-01-01", level="gemeente").set_index("code")
    assert list(both.index) == ["GM0794", "GM9901"]
    assert (both["active_teams"].tolist(), both["whatsapp_groups"].tolist()) == ([1, 0], [0, 1])
    assert both.loc["GM9901", "area_km2"] == pytest.approx(
        two.select("GM9901").buurten.area.sum() / 1e6)
    helmond_only = p.parse_registry(data.decode().rsplit("\n", 2)[0].encode() + b"\n", "h.csv",
                                    known_buurten=list(areas.buurten["code"])).registry
    alone = p.coverage(helmond_only, areas, "2017-01-01", level="gemeente").iloc[0]
    for col in ("area_km2", "coverage_share", "active_teams", "whatsapp_groups"):
        assert both.loc["GM0794", col] == pytest.approx(alone[col])
    growth = p.growth_per_quarter(reg, two, start="2016-10-01", end="2016-12-31",
                                  level="gemeente")
    assert sorted(growth["code"]) == ["GM0794", "GM9901"]
