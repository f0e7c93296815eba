"""Published figures (geoveilig.sources, store.counts, ``geoveilig cbs``): parsing the documented
OData layout, the client against a local HTTP server (paging, retries, cache), storage on both
backends, rates with their denominator year, the comparison with incidents, perception."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from geoveilig.cli import app
from geoveilig.errors import InvalidInput
from geoveilig.sources import mapping, parse, rates, tables
from geoveilig.sources.cbs import Client, SourceError, SourceUnavailable
from geoveilig.sources.fetch import fetch_all, region_filter
from geoveilig.stats import LowCountRule
from geoveilig.store import counts as store_counts
from tests.cbs_fake import (
    BUURTEN,
    FakeCbs,
    count_value,
    install_figures,
    install_perception,
    install_police,
)
from tests.storehelp import parsed

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def fake():
    server = FakeCbs(page_size=200)
    install_police(server)
    install_figures(server, "83487NED", 2016)
    install_figures(server, "83765NED", 2017)
    install_perception(server)
    yield server
    server.close()


def _clients(fake: FakeCbs, tmp_path, **kw):
    c = Client(fake.url, tmp_path / "cache", backoff=0.0, clock=lambda: AT, **kw)
    return {"politie": c, "cbs": c}


SPECS = tables.resolve_tables("47022NED,83487NED,83765NED,81877NED")


# --- parsing ---------------------------------------------------------------------------------

def test_period_codes():
    assert parse.parse_period("2017MM03") == (2017, 3, 0)
    assert parse.parse_period("2017JJ00 ") == (2017, 0, 0)
    assert parse.parse_period("2018KW02") == (2018, 0, 2)
    for bad in ("2017MM13", "2017", "JJ2017"):
        with pytest.raises(InvalidInput):
            parse.parse_period(bad)


def test_parse_counts_strips_padding_keeps_unpublished_and_labels():
    rows = [
        {"ID": 0, "SoortMisdrijf": "1.1.1   ", "WijkenEnBuurten": "BU07941002",
         "Perioden": "2017MM01", "GeregistreerdeMisdrijven_1": 4},
        {"ID": 1, "SoortMisdrijf": "1.4.5   ", "WijkenEnBuurten": "WK079410  ",
         "Perioden": "2017JJ00", "GeregistreerdeMisdrijven_1": None},
        {"ID": 2, "SoortMisdrijf": "9.9.9   ", "WijkenEnBuurten": "GM0794    ",
         "Perioden": "2017MM12", "GeregistreerdeMisdrijven_1": 0},
    ]
    out = parse.parse_counts(rows, {"1.1.1": "Diefstal/inbraak woning"}, table_id="47022NED",
                             retrieved_at=AT)
    assert list(out["area_code"]) == ["BU07941002", "WK079410", "GM0794"]
    assert list(out["area_level"]) == ["buurt", "wijk", "gemeente"]
    assert list(out["month"]) == [1, 0, 12]
    assert out["count"].isna().tolist() == [False, True, False]  # null is not zero
    assert list(out["crime_label"]) == ["Diefstal/inbraak woning", "Mishandeling", "9.9.9"]
    assert set(out["source"]) == {"politie"} and set(out["table_id"]) == {"47022NED"}
    with pytest.raises(InvalidInput, match="kwartaal"):
        parse.parse_counts([dict(rows[0], Perioden="2017KW01")], {}, table_id="x",
                           retrieved_at=AT)
    with pytest.raises(InvalidInput, match="SoortMisdrijf"):
        parse.parse_counts([{"WijkenEnBuurten": "GM0794", "Perioden": "2017JJ00"}], {},
                           table_id="x", retrieved_at=AT)


def test_parse_key_figures_by_topic_name_not_number():
    rows = [{"WijkenEnBuurten": "BU07941002", "AantalInwoners_5": 1200,
             "Woningvoorraad_35": 500, "OppervlakteLand_112": 50.0},
            {"WijkenEnBuurten": "BU07941000", "AantalInwoners_5": 12,
             "Woningvoorraad_35": -99997, "OppervlakteLand_112": None}]
    out = parse.parse_key_figures(rows, table_id="83765NED", year=2017, retrieved_at=AT)
    assert out["inhabitants"].tolist() == [1200, 12]
    assert out["dwellings"].isna().tolist() == [False, True]  # CBS's negative = secret
    assert np.isnan(out["land_area_ha"].iloc[1])
    assert set(out["year"]) == {2017}
    with pytest.raises(InvalidInput, match="AantalInwoners"):
        parse.parse_key_figures([{"WijkenEnBuurten": "GM0794"}], table_id="x", year=2017,
                                retrieved_at=AT)


def test_parse_perception_margins_and_half_width():
    topics = {"VoeltZichWelEensOnveilig_1": ("Voelt zich wel eens onveilig", "%")}
    rows = [{"Marges": m, "RegioS": "GM0794    ", "Perioden": "2019JJ00",
             "VoeltZichWelEensOnveilig_1": v}
            for m, v in (("MW00000", 30.0), ("MOG0095", 27.5), ("MBG0095", 32.5))]
    out = parse.parse_perception(rows, topics, {"MW00000": "Waarde",
                                                "MOG0095": "Ondergrens 95%-interval",
                                                "MBG0095": "Bovengrens 95%-interval"},
                                 table_id="81877NED", retrieved_at=AT)
    assert out[["value", "lower", "upper"]].iloc[0].tolist() == [30.0, 27.5, 32.5]
    assert out["indicator"].iloc[0] == "VoeltZichWelEensOnveilig"
    half = [{"Betrouwbaarheidsmarges": m, "RegioS": "GM0794", "Perioden": "2021JJ00",
             "VoeltZichWelEensOnveilig_1": v} for m, v in (("W", 31.0), ("M", 1.5))]
    out = parse.parse_perception(half, topics, {"W": "Waarde", "M": "Marge"},
                                 table_id="85146NED", retrieved_at=AT)
    assert out[["value", "lower", "upper"]].iloc[0].tolist() == [31.0, 29.5, 32.5]


def test_mapping_says_what_cannot_be_matched():
    assert mapping.category_of("1.1.1  ") == "woninginbraak"
    assert mapping.category_of("1.2.3") == "fietsendiefstal+diefstal-bromfiets"
    assert mapping.category_of("0.0.0") == "totaal"
    assert mapping.category_of("2.6.9") == "overig"  # the environment family
    assert mapping.category_of("7.7.7") == "overig"  # unknown code: kept, counted as overig
    assert set(mapping.UNMATCHED) == {"fietsendiefstal", "diefstal-bromfiets"}
    t = mapping.table()
    assert set(t["match"]) == {"total", "exact", "wider", "combined", "overig"}
    # every project category is reachable from some police class
    covered = {s for m in mapping.BY_CODE.values() if m.match != "total" for s in m.slugs}
    from geoveilig import crimetypes
    assert covered == set(crimetypes.SLUGS)


# --- the client -------------------------------------------------------------------------------

@pytest.mark.parametrize("v4", [False, True])
def test_client_follows_next_links(tmp_path, v4):
    server = FakeCbs(page_size=7, v4=v4)
    try:
        server.tables[("T1", "TypedDataSet")] = [{"ID": i} for i in range(30)]
        pages = []
        client = Client(server.url, tmp_path, backoff=0.0, clock=lambda: AT,
                        progress=pages.append)
        answer = client.fetch("T1")
        assert [r["ID"] for r in answer.rows] == list(range(30))
        assert client.requests == 5 and len(pages) == 5 and "pagina 5, 30 rijen" in pages[-1]
    finally:
        server.close()


def test_client_retries_5xx_then_gives_up_in_dutch(tmp_path):
    server = FakeCbs()
    try:
        server.tables[("T1", "TypedDataSet")] = [{"ID": 1}]
        server.fail_next = 2
        client = Client(server.url, None, retries=3, backoff=0.0)
        assert client.fetch("T1").rows == [{"ID": 1}]
        assert client.requests == 3
        server.fail_next = 10
        with pytest.raises(SourceUnavailable, match="na 2 pogingen geen antwoord"):
            Client(server.url, None, retries=1, backoff=0.0).fetch("T1")
        server.fail_next = 0
        with pytest.raises(SourceError, match="HTTP 404"):
            client.fetch("NOPE")
    finally:
        server.close()


def test_client_offline_is_one_sentence(tmp_path):
    server = FakeCbs()
    url = server.url
    server.close()  # nothing listens on the port any more
    with pytest.raises(SourceUnavailable) as err:
        Client(url, tmp_path, backoff=0.0).fetch("T1")
    assert "niet bereikbaar" in str(err.value) and "\n" not in str(err.value)


def test_cache_by_table_and_retrieval_date(tmp_path, fake):
    client = Client(fake.url, tmp_path / "c", backoff=0.0, clock=lambda: AT)
    first = client.fetch("47022NED", "SoortMisdrijf")
    assert not first.from_cache
    assert first.cache_path.parent == tmp_path / "c" / "47022NED" / "2026-12-01"
    doc = json.loads(first.cache_path.read_text(encoding="utf-8"))
    assert doc["table_id"] == "47022NED" and doc["retrieved_at"].startswith("2026-12-01T09:30")
    n = len(fake.requests)
    again = client.fetch("47022NED", "SoortMisdrijf")
    assert again.from_cache and again.rows == first.rows and len(fake.requests) == n
    assert again.retrieved_at == AT
    later = Client(fake.url, tmp_path / "c", backoff=0.0,
                   clock=lambda: datetime(2026, 12, 5, tzinfo=UTC))
    fresh = later.fetch("47022NED", "SoortMisdrijf", refresh=True)
    assert not fresh.from_cache and len(fake.requests) == n + 1
    assert later.fetch("47022NED", "SoortMisdrijf").retrieved_date == "2026-12-05"  # newest


def test_region_filter_selects_every_level_of_the_gemeente():
    assert region_filter("WijkenEnBuurten", "GM0794") == \
        "substring(WijkenEnBuurten,2,4) eq '0794'"
    with pytest.raises(InvalidInput, match="gemeentecode"):
        fetch_all({}, None, (), "0794")


# --- store, rates, comparison (both backends) -------------------------------------------------

def test_fetch_into_store_and_refetch_replaces(store, fake, tmp_path):
    report = fetch_all(_clients(fake, tmp_path), store, SPECS, "gm0794")
    counts = store_counts.read_counts(store)
    # 2 years x 12 months x (gemeente + 2 wijken + 3 buurten) x 5 classes; GM0795 filtered out
    assert len(counts) == 2 * 12 * 6 * 5 == report.rows["47022NED"]
    assert set(counts["area_code"]) == {"GM0794", "WK079410", "WK079411", *BUURTEN}
    assert counts["count"].isna().sum() == 1
    assert set(counts["source"]) == {"politie"} and not counts["synthetic"].any()
    assert (counts["retrieved_at"] == pd.Timestamp(AT)).all()
    figures = store_counts.read_figures(store)
    assert sorted(figures["year"].unique()) == [2016, 2017] and len(figures) == 12
    perception = store_counts.read_perception(store)
    assert set(perception["area_code"]) == {"GM0794"}
    assert set(perception["indicator"]) == {"VoeltZichWelEensOnveilig",
                                            "VoeltZichWelEensOnveiligInBuurt"}
    assert "1 andere onderwerpen" in " ".join(report.lines)
    # the second run reads the cache for the older year, asks the newest year again, and
    # replaces rows instead of duplicating them
    n = len(fake.requests)
    fetch_all(_clients(fake, tmp_path), store, SPECS, "GM0794")
    again = fake.requests[n:]
    assert len(again) == 3 and "Perioden" in again[0]  # the period list, and 2 pages of ...
    assert all("2017" in r and "TypedDataSet" in r for r in again[1:])  # ... the newest year only
    assert len(store_counts.read_counts(store)) == len(counts)
    summary = store_counts.sources_summary(store)
    assert set(summary["kind"]) == {"misdrijven", "kerncijfers", "veiligheidsbeleving"}
    assert summary.set_index("table_id").loc["47022NED", "years"] == "2016-2017"


def test_table_selection():
    default = tables.resolve_tables(None)
    assert default[0].kind == "counts" and default[0].id == "47022NED"
    assert {t.kind for t in default} == {"counts", "figures", "perception"}
    figures = tables.resolve_tables("figures")
    assert len(figures) == len(tables.FIGURES) and {t.year for t in figures} == set(
        tables.FIGURES)
    assert [t.id for t in tables.resolve_tables("47018ned, perception")] == [
        "47018NED", "81877NED", "85146NED"]


def test_from_year_and_unknown_table(store, fake, tmp_path):
    fetch_all(_clients(fake, tmp_path), store, tables.resolve_tables("47022NED"), "GM0794",
              from_year=2017)
    assert set(store_counts.read_counts(store)["year"]) == {2017}
    with pytest.raises(InvalidInput, match="geen cijfers vanaf 2030"):
        fetch_all(_clients(fake, tmp_path), store, tables.resolve_tables("counts"), "GM0794",
                  from_year=2030)
    with pytest.raises(InvalidInput, match="onbekende tabel"):
        tables.resolve_tables("12345NED")


def test_yearly_counts_months_of_a_partial_year():
    rows = pd.DataFrame({
        "area_code": "GM0794", "area_level": "gemeente", "year": [2018, 2018, 2017],
        "month": [1, 2, 0], "crime_class": "1.1.1", "crime_label": "x",
        "count": pd.array([3, None, 40], dtype="Int64"), "table_id": ["47022NED"] * 2 + [
            "47018NED"], "source": "politie", "retrieved_at": pd.Timestamp(AT)})
    y = rates.yearly_counts(rows).set_index("year")
    assert (y.loc[2018, "months"], y.loc[2018, "count"], y.loc[2018, "unpublished"]) == (2, 3, 1)
    assert (y.loc[2017, "months"], y.loc[2017, "count"]) == (12, 40)  # a year row
    # the evaluation table on counts carries the months, so a partial year is visible
    table = rates.compare_years(rates.yearly_counts(rows), 2018, years_back=(1,))
    assert table.loc[0, "months"] == 2 and table.loc[0, "count_1y"] == 40


def test_yearly_counts_and_rates_with_denominator_year(store, fake, tmp_path):
    fetch_all(_clients(fake, tmp_path), store, SPECS, "GM0794")
    yearly = rates.yearly_counts(store_counts.read_counts(store))
    b = yearly.set_index(["area_code", "year", "category"])
    # months are summed: BU07941002 woninginbraak 2017 = 12 x (3 x 1 + 1)
    assert b.loc[("BU07941002", 2017, "woninginbraak"), "count"] == 12 * count_value(
        "BU07941002", 2017, 1, "1.1.1")
    assert b.loc[("BU07941000", 2017, "mishandeling"), "unpublished"] == 1
    assert b.loc[("BU07941002", 2017, "fietsendiefstal+diefstal-bromfiets"), "match"] == \
        "combined"
    assert b.loc[("BU07941002", 2017, "overig"), "count"] == 12 * 2  # cybercrime
    # the roll-up row is the police's own total, not added to the detail rows
    g = b.loc[("GM0794", 2017)]
    assert g.loc["totaal", "count"] == g.drop(index="totaal")["count"].sum() + 0 * 1 + (
        count_value("BU07941000", 2017, 2, "1.4.5") or 0)

    figures = store_counts.read_figures(store)
    # only 2016 key figures for the 2016 counts, 2017 for 2017; drop 2017 to see the fallback
    out = rates.add_rates(yearly, figures[figures["year"] == 2016], LowCountRule())
    r = out.set_index(["area_code", "year", "category"])
    row = r.loc[("GM0794", 2017, "woninginbraak")]
    assert row["denominator_year"] == 2016 and "2016" in row["rate_note"]
    assert row["per_1000_inhabitants"] == round(row["count"] / 90_000 * 1000, 2)
    assert row["per_1000_dwellings"] == round(row["count"] / 40_000 * 1000, 2)
    assert np.isnan(r.loc[("GM0794", 2017, "mishandeling"), "per_1000_dwellings"])
    # a buurt of 12 inhabitants: the rate is withheld (-*), like a small count
    small = r.loc[("BU07941000", 2017, "woninginbraak")]
    assert small["rate_suppressed"] and np.isnan(small["per_1000_inhabitants"])
    assert "-*" in small["rate_note"]
    # a wijk with 15 dwellings: no burglary rate per dwelling, the per-inhabitant rate stays
    w = r.loc[("WK079411", 2016, "woninginbraak")]
    assert np.isnan(w["per_1000_dwellings"]) and w["rate_suppressed"]
    # no key figures of the year or before: no rate (never a later year: no look-ahead)
    later_only = rates.add_rates(yearly, figures[figures["year"] == 2017])
    lo = later_only.set_index(["area_code", "year", "category"]).loc[
        ("GM0794", 2016, "woninginbraak")]
    assert pd.isna(lo["denominator_year"]) and np.isnan(lo["per_1000_inhabitants"])
    assert lo["rate_note"] == "geen kerncijfers van dit jaar of eerder"


def test_comparison_of_incidents_and_published_counts(store, fake, tmp_path, areas):
    fetch_all(_clients(fake, tmp_path), store, SPECS, "GM0794")
    # imported incidents for 2017: 5 burglaries, 3 bicycle + 1 moped theft, 2 threats
    x, y = areas.buurten.geometry.iloc[0].representative_point().coords[0]
    rows = ([("woninginbraak", f"2017-0{m}-10") for m in range(1, 6)]
            + [("fietsendiefstal", "2017-03-01")] * 3 + [("diefstal-bromfiets", "2017-04-01")]
            + [("bedreiging", "2017-05-05")] * 2)
    import geopandas as gpd
    from shapely.geometry import Point

    from geoveilig import TIMEZONE
    inc = gpd.GeoDataFrame({
        "incident_id": [f"i{i}" for i in range(len(rows))],
        "crime_type": [r[0] for r in rows],
        "occurred_at": pd.to_datetime([r[1] for r in rows]).tz_localize(TIMEZONE).as_unit("ns"),
        "occurred_from": pd.NaT, "occurred_to": pd.NaT,
        "x": x, "y": y, "buurt_code": areas.buurten["code"].iloc[0],
        "wijk_code": areas.buurten["wijk_code"].iloc[0]},
        geometry=[Point(x, y)] * len(rows), crs=28992)
    store.import_incidents(parsed(inc), source_name="test.csv", content_sha256="0" * 64)
    from geoveilig.sources import service
    table = service.comparison_table(store)
    assert set(table["year"]) == {2017}  # only the year both sources have
    t = table.set_index("category")
    assert t.loc["woninginbraak", "incidents"] == 5
    assert t.loc["woninginbraak", "published"] == 12 * count_value("GM0794", 2017, 1, "1.1.1")
    assert t.loc["woninginbraak", "difference"] == 5 - t.loc["woninginbraak", "published"]
    assert t.loc["woninginbraak", "match"] == "wider"
    assert t.loc["fietsendiefstal+diefstal-bromfiets", "incidents"] == 4
    assert "samen gepubliceerd" in t.loc["fietsendiefstal+diefstal-bromfiets", "note"]
    # bedreiging has no class in this fake table: shown, not dropped
    assert t.loc["bedreiging", "incidents"] == 2 and pd.isna(t.loc["bedreiging", "published"])
    assert "geen gepubliceerd aantal" in t.loc["bedreiging", "note"]
    assert t.loc["overig", "incidents"] == 0 and t.loc["overig", "published"] > 0
    assert t.loc["totaal", "incidents"] == len(rows)
    assert "niet volledig" in t.loc["totaal", "note"]  # incidents cover Jan-May only
    assert (table["incident_source"] == "geïmporteerd").all()
    assert set(table["published_source"]) == {"politie", ""}


def test_perception_beside_crimes(store, fake, tmp_path):
    fetch_all(_clients(fake, tmp_path), store, SPECS, "GM0794")
    from geoveilig.sources import service
    table = service.perception_table(store).set_index(["indicator", "year"])
    row = table.loc[("VoeltZichWelEensOnveilig", 2017)]
    assert (row["value"], row["lower"], row["upper"]) == (35.5, 33.0, 38.0)
    assert row["interval"] == "33.0-38.0"
    total = 12 * count_value("GM0794", 2017, 1, "0.0.0") - (
        count_value("GM0794", 2017, 1, "0.0.0") - count_value("GM0794", 2017, 2, "0.0.0"))
    assert row["crimes"] == total
    assert row["crimes_per_1000"] == round(total / 90_900 * 1000, 2)


# --- the command line -------------------------------------------------------------------------

runner = CliRunner()


def test_cli_fetch_rates_compare_perception(monkeypatch, tmp_path, fake, shared_geo):
    monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GEOVEILIG_GEO_DIR", str(shared_geo))
    monkeypatch.setenv("GEOVEILIG_CBS_URL", fake.url)
    monkeypatch.setenv("GEOVEILIG_POLICE_URL", fake.url)
    result = runner.invoke(app, ["cbs", "fetch", "--gemeente", "GM0794", "--tables",
                                 "47022NED,83487NED,83765NED,81877NED"])
    assert result.exit_code == 0, result.output
    assert "GM0794: 736 rijen uit 4 tabellen opgeslagen" in result.output
    assert "47022NED 2016: 360 aantallen" in result.output
    assert list((tmp_path / "data" / "cbs" / "47022NED").iterdir())  # cached by table + date
    result = runner.invoke(app, ["cbs", "show"])
    assert "47022NED" in result.output and "politie" in result.output
    result = runner.invoke(app, ["cbs", "rates", "--level", "buurt", "--year", "2017",
                                 "--crime-type", "woninginbraak", "--format", "csv"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(__import__("io").StringIO(result.output))
    assert set(frame["area_code"]) == set(BUURTEN)
    assert set(frame["denominator_year"]) == {2017}
    result = runner.invoke(app, ["cbs", "perception"])
    assert result.exit_code == 0 and "Voelt zich wel eens onveilig" in result.output
    result = runner.invoke(app, ["cbs", "compare"])
    assert result.exit_code == 1 and "geen incidenten" in result.output
    assert "Traceback" not in result.output
    # hotspots need incident points: said plainly, published counts are not enough
    result = runner.invoke(app, ["hotspots", "--crime-type", "woninginbraak", "--out",
                                 str(tmp_path / "h.geojson")])
    assert result.exit_code == 1 and "incidentpunten nodig" in " ".join(result.output.split())


def test_cli_offline_says_so_in_one_dutch_line(monkeypatch, tmp_path):
    server = FakeCbs()
    url = server.url
    server.close()
    monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GEOVEILIG_CBS_URL", url)
    monkeypatch.setenv("GEOVEILIG_POLICE_URL", url)
    result = runner.invoke(app, ["cbs", "fetch", "--gemeente", "GM0794"])
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "niet bereikbaar" in lines[0] and lines[0].startswith("Fout")


def test_compare_years_on_counts_with_low_count_rule(store, fake, tmp_path):
    fetch_all(_clients(fake, tmp_path), store, SPECS, "GM0794")
    yearly = rates.yearly_counts(store_counts.read_counts(store))
    table = rates.compare_years(yearly, 2017, years_back=(1, 5), rule=LowCountRule())
    t = table.set_index(["area_code", "category"])
    w = t.loc[("GM0794", "woninginbraak")]
    a, b = 12 * count_value("GM0794", 2016, 1, "1.1.1"), 12 * count_value("GM0794", 2017, 1,
                                                                          "1.1.1")
    assert (w["count_1y"], w["count"]) == (a, b)
    assert w["change_1y_text"] == f"{round(100 * (b - a) / a)}%"
    assert pd.isna(w["count_5y"]) and w["change_5y_text"] == ""  # 2012 not published: empty
    assert w["months"] == 12
    assert 0 <= w["p_1y"] <= 1 and w["signal_1y"] in ("geen signaal", "significant hoger")
    # both years below the threshold: -* (the rule of the evaluation table)
    small = rates.compare_years(yearly, 2017, rule=LowCountRule(threshold=10_000))
    assert (small["change_1y_text"] == "-*").all()
    with pytest.raises(InvalidInput, match="geen gepubliceerde aantallen voor 2030"):
        rates.compare_years(yearly, 2030)


def test_layers_run_on_counts_without_incidents(store, fake, tmp_path, areas):
    from geoveilig.layers import LayerContext, get_layer
    fetch_all(_clients(fake, tmp_path), store, SPECS, "GM0794")
    ctx = LayerContext(areas=areas, store=store)
    layer = get_layer("buurten")  # the incident layer falls back on published counts
    params = layer.parse_params({"crimeType": "woninginbraak", "year": "2017"})
    frame = layer.build(ctx, params, role="analyst").set_index("code")
    assert frame.loc["BU07941002", "count"] == 12 * count_value("BU07941002", 2017, 1, "1.1.1")
    assert frame.loc["BU07941002", "source"] == "politie"
    assert frame.loc["BU07941002", "table_id"] == "47022NED"
    assert frame.loc["BU07941002", "denominator_year"] == 2017
    assert frame.loc["BU07941002", "per_1000_dwellings"] == round(
        frame.loc["BU07941002", "count"] / 505 * 1000, 2)
    assert pd.isna(frame.loc["BU07942103", "count"])  # a buurt the table has no row for
    public = get_layer("published-buurten").build(
        ctx, get_layer("published-buurten").parse_params({"crimeType": "fietsendiefstal"}),
        role="public")
    assert "inclusief diefstallen brom- en snorfietsen" in public["crime_type_label"].iloc[0]
    assert set(public["period"]) == {"2017"}  # the last complete published year
    with pytest.raises(InvalidInput, match="heel jaar"):
        layer.build(ctx, layer.parse_params({"period": "2017-Q1"}), role="analyst")
    per = get_layer("perception").build(ctx, {}, role="public")
    assert set(per["code"]) == {"GM0794"} and len(per) == 4
    row = per.set_index("id").loc["GM0794-VoeltZichWelEensOnveilig-2017"]
    assert (row["lower"], row["value"], row["upper"]) == (33.0, 35.5, 38.0)
    assert row["source"] == "cbs-veiligheidsmonitor" and row["table_id"] == "81877NED"


def test_report_on_counts_only_and_beside_incidents(monkeypatch, tmp_path, fake, shared_geo,
                                                    demo_incidents):
    monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GEOVEILIG_GEO_DIR", str(shared_geo))
    monkeypatch.setenv("GEOVEILIG_CBS_URL", fake.url)
    monkeypatch.setenv("GEOVEILIG_POLICE_URL", fake.url)
    assert runner.invoke(app, ["cbs", "fetch", "--tables", ",".join(
        t.id for t in SPECS)]).exit_code == 0
    result = runner.invoke(app, ["report", "--year", "2017"])
    assert result.exit_code == 0, result.output
    assert "Gepubliceerde aantallen (politie via CBS), 2017" in result.output
    assert "Woninginbraken" in result.output and "t.o.v. 2016" in result.output
    html_file = tmp_path / "r.html"
    result = runner.invoke(app, ["report", "--year", "2017", "--format", "html", "--out",
                                 str(html_file)])
    assert result.exit_code == 0, result.output
    html = html_file.read_text(encoding="utf-8")
    for text in ("Gepubliceerde cijfers", "Per 1.000 inwoners en woningen, 2017",
                 "Veiligheidsbeleving (Veiligheidsmonitor)", "33,0-38,0", "47022NED",
                 "Hotspots en inzetadvies hebben incidentpunten nodig"):
        assert text in html, text
    result = runner.invoke(app, ["report", "--year", "2017", "--quarter", "1"])
    assert result.exit_code == 1 and "per heel jaar" in result.output
    # the API's evaluation report runs on the same published counts
    from fastapi.testclient import TestClient

    from geoveilig.api import create_app
    from geoveilig.settings import Settings

    with TestClient(create_app(Settings(data_dir=tmp_path / "data", geo_dir=shared_geo,
                                        rate_limit=""))) as c:
        r = c.get("/v1/reports/evaluation?year=2017&f=csv")
        assert r.status_code == 200, r.text
        assert "gepubliceerd (politie via CBS)" in r.text
        r = c.get("/v1/reports/evaluation?year=2017&f=html")
        assert r.status_code == 200 and "Gepubliceerde cijfers" in r.text
        r = c.get("/v1/reports/evaluation?year=2017&quarter=1")
        assert r.status_code == 400 and "per heel jaar" in r.json()["detail"]
    # with (synthetic) incidents the evaluation report carries the published section
    from geoveilig.store import Store
    when = demo_incidents["occurred_at"]
    some = demo_incidents[(when >= "2016-01-01") & (when < "2018-01-01")].iloc[::4]
    with Store.sqlite(tmp_path / "data" / "geoveilig.sqlite") as st:
        st.import_incidents(parsed(some), source_name="demo.csv", content_sha256="e" * 64,
                            synthetic=True)
    result = runner.invoke(app, ["report", "--year", "2017", "--format", "html", "--out",
                                 str(html_file)])
    assert result.exit_code == 0, result.output
    html = html_file.read_text(encoding="utf-8")
    assert "Hoe staat" in html or "Criminaliteitscijfers" in html
    assert "Ingelezen incidenten en gepubliceerde aantallen" in html
    assert "de incidenten elders in dit rapport zijn SYNTHETISCH" in html
    assert "geïmporteerd (synthetisch)" in html


def test_incident_layers_name_their_source(store, areas, demo_incidents):
    from geoveilig.layers import LayerContext, get_layer
    store.import_incidents(parsed(demo_incidents.iloc[:500]), source_name="demo.csv",
                           content_sha256="d" * 64, synthetic=True)
    ctx = LayerContext(areas=areas, store=store)
    layer = get_layer("wijken")
    frame = layer.build(ctx, layer.parse_params({"year": "2016"}), role="public")
    assert set(frame["source"]) == {"incidenten (synthetisch)"}


# --- several gemeenten: published figures per gemeente (both backends) ------------------------

BUURDORP_BUURTEN = ("BU99010101", "BU99010102", "BU99010201", "BU99010202")
BUURDORP_BASE = {"1.1.1": 7, "1.2.3": 11, "1.4.5": 4, "3.7.4": 2}


def buurdorp_value(area: str, year: int, cls: str) -> int:
    """Buurdorp's (GM9901) monthly counts: other numbers than Helmond's for every class."""
    if cls == "0.0.0":
        return sum(buurdorp_value(area, year, c) for c in BUURDORP_BASE)
    per_buurt = BUURDORP_BASE[cls] + 2 * (year - 2016)
    return per_buurt * {"GM": 4, "WK": 2, "BU": 1}[area[:2]]


def install_buurdorp(fake: FakeCbs) -> None:
    rows = fake.tables[("47022NED", "TypedDataSet")]
    for year in (2016, 2017):
        for month in range(1, 13):
            for area in ("GM9901", "WK990101", "WK990102", *BUURDORP_BUURTEN):
                for cls in ("0.0.0", *BUURDORP_BASE):
                    rows.append({"ID": len(rows), "SoortMisdrijf": cls.ljust(8),
                                 "WijkenEnBuurten": area.ljust(10),
                                 "Perioden": f"{year}MM{month:02d}",
                                 "GeregistreerdeMisdrijven_1": buurdorp_value(area, year, cls)})


@pytest.fixture(scope="module")
def two(shared_geo, tmp_path_factory):
    from geoveilig.areas import load_areas
    from tests.multi_support import two_gemeenten_dir

    folder = two_gemeenten_dir(shared_geo, tmp_path_factory.mktemp("two") / "geo")
    return load_areas(folder, gemeente="GM0794,GM9901")


def test_two_gemeenten_keep_their_own_published_counts(store, fake, tmp_path, two):
    from geoveilig.report_service import ReportRequest, evaluation_report
    from geoveilig.scope import for_gemeente
    from geoveilig.stats import Period

    install_buurdorp(fake)
    counts_only = tables.resolve_tables("47022NED")
    fetch_all(_clients(fake, tmp_path), store, counts_only, "GM0794")
    helmond = store_counts.read_counts(store)
    # a fetch of the other gemeente adds its rows and leaves Helmond's as they were
    fetch_all(_clients(fake, tmp_path), store, counts_only, "GM9901")
    both = store_counts.read_counts(store)
    assert len(both) == len(helmond) + 2 * 12 * 7 * 5
    kept = store_counts.read_counts(store, gemeenten=["GM0794"])
    pd.testing.assert_frame_equal(kept.reset_index(drop=True), helmond.reset_index(drop=True))
    buurdorp = store_counts.read_counts(store, gemeenten=["GM9901"])
    assert {c[2:6] for c in buurdorp["area_code"]} == {"9901"}
    # ... and a re-fetch of Helmond does not replace Buurdorp's
    fetch_all(_clients(fake, tmp_path), store, counts_only, "GM0794")
    pd.testing.assert_frame_equal(
        store_counts.read_counts(store, gemeenten=["GM9901"]).reset_index(drop=True),
        buurdorp.reset_index(drop=True))
    summary = store_counts.sources_summary(store)
    assert sorted(summary["gemeente"]) == ["GM0794", "GM9901"]
    assert list(store_counts.sources_summary(store, gemeenten=["GM9901"])["rows"]) == [
        2 * 12 * 7 * 5]
    # the report of each gemeente (no incidents stored: the published fallback) shows only
    # its own counts
    req = ReportRequest(target=Period.of_year(2017), fmt="json", level="wijk")
    for code, wijken, value in (
            ("GM9901", {"WK990101", "WK990102"},
             lambda a, c: 12 * buurdorp_value(a, 2017, c)),
            ("GM0794", {"WK079410", "WK079411"},
             lambda a, c: sum(count_value(a, 2017, m, c) or 0 for m in range(1, 13)))):
        areas, view = for_gemeente(two, store, code, required=True)
        made = evaluation_report(view, areas, req)
        assert made.published
        rows = json.loads(made.text)
        assert {r["area_code"] for r in rows} == wijken
        burglary = {r["area_code"]: r["count"] for r in rows if r["category"] == "woninginbraak"}
        assert burglary == {w: value(w, "1.1.1") for w in wijken}
        html = evaluation_report(view, areas, ReportRequest(target=Period.of_year(2017),
                                                            fmt="html")).text
        other = "GM9901" if code == "GM0794" else "GM0794"
        assert f">{code}<" in html and f">{other}<" not in html


def test_cli_cbs_and_report_select_the_gemeente(tmp_path, fake, shared_geo):
    from tests.multi_support import two_gemeenten_dir

    install_buurdorp(fake)
    geo = two_gemeenten_dir(shared_geo, tmp_path / "geo")
    env = {"GEOVEILIG_DATA_DIR": str(tmp_path / "data"), "GEOVEILIG_GEO_DIR": str(geo),
           "GEOVEILIG_GEMEENTE": "GM0794,GM9901", "GEOVEILIG_CBS_URL": fake.url,
           "GEOVEILIG_POLICE_URL": fake.url}
    result = runner.invoke(app, ["cbs", "fetch", "--tables", "47022NED"], env=env)
    assert result.exit_code == 0, result.output
    assert "GM0794: 720 rijen" in result.output and "GM9901: 840 rijen" in result.output
    result = runner.invoke(app, ["cbs", "show", "--gemeente", "GM9901"], env=env)
    assert result.exit_code == 0, result.output
    assert "GM9901" in result.output and "GM0794" not in result.output
    assert "840" in result.output
    result = runner.invoke(app, ["cbs", "rates", "--gemeente", "GM9901", "--year", "2017",
                                 "--crime-type", "woninginbraak", "--format", "csv"], env=env)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.output))
    assert list(frame["area_code"]) == ["GM9901"]
    assert frame["count"].iloc[0] == 12 * buurdorp_value("GM9901", 2017, "1.1.1")
    result = runner.invoke(app, ["cbs", "rates", "--year", "2017", "--format", "csv"], env=env)
    assert set(pd.read_csv(io.StringIO(result.output))["area_code"]) == {"GM0794", "GM9901"}
    result = runner.invoke(app, ["cbs", "compare"], env=env)  # one gemeente's incidents
    assert result.exit_code == 1 and "kies er een met gemeente" in " ".join(
        result.output.split())
    for code, other in (("GM9901", "GM0794"), ("GM0794", "GM9901")):
        result = runner.invoke(app, ["report", "--year", "2017", "--gemeente", code,
                                     "--format", "csv"], env=env)
        assert result.exit_code == 0, result.output
        frame = pd.read_csv(io.StringIO(result.output))
        assert set(frame["area_code"]) == {code}
        assert other not in result.output
    assert "Traceback" not in result.output


def test_a_gemeente_is_read_through_its_index(store):
    """The gemeente filter is the indexed expression (migration 0016): a gemeente's published
    rows are found without scanning every gemeente's."""
    import sqlalchemy as sa

    for table in (store_counts.published_counts, store_counts.area_figures,
                  store_counts.perception):
        stmt = sa.select(table.c.area_code).where(
            *store_counts.gemeente_filter(table, ["GM9901", "GM0794"]))
        with store.engine.connect() as conn:
            # as sent (bound values): the positions are in the SQL text, as in the index
            assert f"substr({table.name}.area_code, 3, 4) IN" in str(
                stmt.compile(dialect=conn.dialect))
            sql = str(stmt.compile(dialect=conn.dialect,
                                   compile_kwargs={"literal_binds": True}))
            if conn.dialect.name == "sqlite":
                plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql).all()
            else:  # an empty table, so its plan is a matter of default estimates: inside a
                # transaction that is rolled back, leave the gemeente index the only one and
                # forbid the sequential scan; if the filter did not match the indexed
                # expression, the plan would still be the (forbidden) sequential scan
                trans = conn.begin()
                try:
                    for (name,) in conn.exec_driver_sql(
                            "SELECT conname FROM pg_constraint WHERE conrelid = "
                            f"'{table.name}'::regclass AND contype IN ('p', 'u')").all():
                        conn.exec_driver_sql(f'ALTER TABLE {table.name} DROP CONSTRAINT "{name}"')
                    for (name,) in conn.exec_driver_sql(
                            "SELECT indexname FROM pg_indexes WHERE tablename = "
                            f"'{table.name}' AND indexname <> 'ix_{table.name}_gemeente'").all():
                        conn.exec_driver_sql(f'DROP INDEX "{name}"')
                    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
                    plan = conn.exec_driver_sql("EXPLAIN " + sql).all()
                finally:
                    trans.rollback()
        assert f"ix_{table.name}_gemeente" in str(plan), plan
