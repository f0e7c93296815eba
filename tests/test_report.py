"""Tests of geoveilig.report (text, CSV, JSON, HTML) and the ``geoveilig report`` command."""

from __future__ import annotations

import io
import json
import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from geoveilig import report, stats
from geoveilig.cli import app
from geoveilig.incidents import ParseResult, content_hash
from geoveilig.safecsv import restore_frame
from geoveilig.store import Store

from .stats_data import make_incidents, seed_counts, seed_table


@pytest.fixture(scope="module")
def incidents(areas):
    counts = seed_counts()
    # a first quarter of 2018 so the quarter comparison has data
    counts["woninginbraak"][("2018-01-01", "2018-04-01")] = 90
    counts["overig"][("2018-01-01", "2018-04-01")] = 700
    return make_incidents(counts, areas, seed=5)


@pytest.fixture(scope="module")
def evaluation(incidents, areas):
    return stats.evaluation(incidents, areas, "2017", rule=stats.LowCountRule.seed(),
                            rounding=stats.SEED_ROUNDING, extra_periods=("2018-Q1",))


def test_text_table_has_seed_figures(evaluation):
    text = report.text_table(evaluation.gemeente)
    line = next(ln for ln in text.splitlines() if ln.startswith("Totaal aantal misdrijven"))
    assert re.search(r"5\.272\s+4\.531\s+-14% ▼ sign\.\s+-30% ▼ sign\.", line)
    ov = next(ln for ln in text.splitlines() if ln.startswith("Openlijk geweld"))
    assert re.search(r"26\s+39\s+50% toeval", ov)
    assert "binomiaaltoets" in text and "Mann-Kendall" in text
    plain = report.text_table(evaluation.gemeente, signals=False)
    assert "toeval" not in plain.split("\n\n")[0]


def test_csv_matches_seed_layout(evaluation):
    text = report.to_csv(evaluation.gemeente, signals=False)
    assert ",'-*," in text  # written through geoveilig.safecsv (OWASP: "-" starts a formula)
    got = restore_frame(pd.read_csv(io.StringIO(text), dtype=str))
    pd.testing.assert_frame_equal(got, seed_table())
    with_sig = pd.read_csv(io.StringIO(report.to_csv(evaluation.gemeente)), dtype=str)
    assert "binomiaaltoets_2017_vs_2016" in with_sig.columns
    assert "mann_kendall_trend_2012_2017" in with_sig.columns


def test_json(evaluation):
    data = json.loads(report.to_json(evaluation.gemeente))
    assert data["period"]["key"] == "2017"
    assert [r["key"] for r in data["references"]] == ["2016", "2012"]
    assert "binomiaaltoets" in data["methods"]["verschil"]
    assert data["low_count_rule"]["suppress"] == [["winkeldiefstal", 1]]
    rows = {r["crime_type"]: r for r in data["rows"]}
    assert rows["totaal"]["count"] == 4531 and rows["totaal"]["count_1y"] == 5272
    assert rows["overval"]["change_1y_text"] == "-*"


def test_json_missing_reference_is_null(incidents, areas):
    c = stats.compare(incidents, "2016", areas=areas)
    rows = json.loads(report.to_json(c))["rows"]
    assert all(r["count_5y"] is None and r["change_5y_text"] == "geen gegevens" for r in rows)


def test_html_report(evaluation):
    html = report.render_html(evaluation)
    assert html.startswith("<!DOCTYPE html>") and 'lang="nl"' in html
    assert "Criminaliteitscijfers Helmond 2017" in html
    for fig in ("5.272", "4.531", "-14%", "-30%", "Woninginbraken", "Overvallen", "-*"):
        assert fig in html
    assert html.count("<table") >= 1 + len(evaluation.wijken.frame["area_code"].unique())
    assert "1e kwartaal 2018" in html
    assert html.count("<svg") >= 1 + len(evaluation.yearly)  # choropleth + small multiples
    assert "binnen het toeval" in html and "binomiaaltoets" in html
    # self-contained: no external scripts, styles or images
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="https?:', html)
    assert "cdn" not in html.lower()


# --- CLI -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cli_env(incidents, tmp_path_factory, shared_geo):
    folder = tmp_path_factory.mktemp("store")
    frame = incidents.copy()
    frame["row"] = range(2, len(frame) + 2)
    frame["content_hash"] = content_hash(frame[["incident_id", "crime_type", "occurred_at",
                                                "x", "y"]])
    rejects = pd.DataFrame(columns=["row", "column", "value", "reason"])
    with Store.sqlite(folder / "geoveilig.sqlite") as store:
        store.import_incidents(ParseResult(frame, rejects, len(frame), "rd"),
                               source_name="synthetisch", content_sha256="0" * 64)
    return {"GEOVEILIG_DATA_DIR": str(folder), "GEOVEILIG_GEO_DIR": str(shared_geo)}


def test_cli_table_reproduces_seed(cli_env):
    res = CliRunner().invoke(app, ["report", "--year", "2017", "--preset", "seed",
                                   "--format", "csv", "--no-signals"], env=cli_env)
    assert res.exit_code == 0, res.output
    got = restore_frame(pd.read_csv(io.StringIO(res.stdout), dtype=str))
    pd.testing.assert_frame_equal(got, seed_table())
    res = CliRunner().invoke(app, ["report", "--year", "2017", "--suppress", "winkeldiefstal:1"],
                             env=cli_env)
    assert res.exit_code == 0, res.output
    assert re.search(r"Winkeldiefstallen\s+280\s+282\s+-\*", res.stdout)


def test_cli_wijk_quarter_and_html(cli_env, tmp_path):
    res = CliRunner().invoke(app, ["report", "--year", "2018", "--quarter", "1", "--level",
                                   "wijk", "--format", "json"], env=cli_env)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["period"]["key"] == "2018-Q1" and data["level"] == "wijk"
    inbraak = [r for r in data["rows"] if r["crime_type"] == "woninginbraak"]
    assert sum(r["count"] for r in inbraak) == 90
    out = tmp_path / "rapport.html"
    res = CliRunner().invoke(app, ["report", "--year", "2017", "--format", "html", "--out",
                                   str(out), "--extra-period", "2018-Q1"], env=cli_env)
    assert res.exit_code == 0, res.output
    assert "<table" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize(("args", "message"), [
    (["--year", "2030"], "geen gegevens voor 2030"),
    (["--year", "2018"], "valt maar voor"),
    (["--year", "2017", "--crime-type", "kattenkwaad"], "onbekend misdrijftype"),
    (["--year", "2017", "--format", "pdf"], "onbekend formaat"),
    (["--period", "2017-06-30/2017-01-01"], "omgekeerde periode"),
    (["--year", "2017", "--quarter", "5"], "kwartaal"),
    (["--year", "2017", "--rounding", "afronden"], "onbekende afronding"),
    (["--year", "2017", "--suppress", "kattenkwaad:1"], "onbekend misdrijftype"),
    ([], "--year"),
])
def test_cli_bad_input(cli_env, args, message):
    res = CliRunner().invoke(app, ["report", *args], env=cli_env)
    assert res.exit_code == 1
    assert message in res.output
    assert "Traceback" not in res.output


# --- issue 15: multiple comparisons, effect size beside p, no zeros outside the data ------------
def test_report_counts_comparisons_and_gives_effect_size(areas):
    inc = make_incidents({"overig": {2016: 5000, 2017: 5300}, "overval": {2016: 30, 2017: 31}},
                         areas, seed=5)
    c = stats.compare(inc, "2017", areas=areas, rows=("totaal", "overval"), years_back=(1,))
    text = report.text_table(c)
    assert "2 vergelijkingen getoetst (2 verschillen en 0 trends)" in text
    assert "door toeval alleen al ongeveer 0.1" in text
    lines = report.explain(c)
    total = next(s for s in lines if s.startswith("Totaal"))
    assert "verschil +301 misdrijven, +6%" in total and "Het verschil is klein" in total
    html = report.render_html(stats.evaluation(inc, areas, "2017", rows=("totaal", "overval"),
                                               years_back=(1,)))
    assert "vergelijkingen getoetst" in html
    assert "2 vergelijkingen getoetst" in json.loads(report.to_json(c))["multiple_comparisons"]


def test_bars_without_data_say_so():
    svg = report.bars_svg([float("nan"), 3.0], ["12-Q1", "13-Q1"])
    assert "12-Q1: geen gegevens" in svg and "12-Q1: 0<" not in svg
