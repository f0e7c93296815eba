"""Tests of geoveilig.stats on synthetic incident frames with exact, known counts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from geoveilig import crimetypes as ct
from geoveilig import stats
from geoveilig.errors import InvalidInput, UnknownCrimeType
from geoveilig.stats import LowCountRule, Period

from .stats_data import COUNTS_2012, make_incidents, seed_counts, seed_table


@pytest.fixture(scope="module")
def seed_incidents(areas):
    return make_incidents(seed_counts(), areas, seed=7, unknown_share=0.01)


@pytest.fixture(scope="module")
def seed_comparison(seed_incidents, areas):
    return stats.compare(seed_incidents, "2017", areas=areas, rule=LowCountRule.seed(),
                         rounding=stats.SEED_ROUNDING)


# --- the seed table -------------------------------------------------------------------------
def test_seed_table_reproduced(seed_comparison):
    got = seed_comparison.seed_layout(with_signals=False).astype(str)
    want = seed_table()
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(got, want)  # every printed figure


def test_seed_table_with_default_rounding(seed_incidents, areas):
    """Default rounding (half away from zero everywhere) differs from the source in exactly
    one cell: Zedenmisdrijven 66 vs 56 in 2012 = +17.9%, printed 17% (truncated)."""
    got = stats.compare(seed_incidents, "2017", areas=areas, rule=LowCountRule.seed()) \
        .seed_layout(with_signals=False).astype(str)
    want = seed_table()
    diff = (got != want).any(axis=1)
    assert list(got.loc[diff, "categorie"]) == ["Zedenmisdrijven"]
    assert got.loc[diff, "verschil_2017_vs_2012"].item() == "18%"


def test_seed_table_total_includes_overig(seed_comparison, seed_incidents):
    f = seed_comparison.frame
    total = f.loc[f["crime_type"] == "totaal", "count"].iloc[0]
    in_2017 = seed_incidents["occurred_at"].dt.year == 2017
    assert total == int(in_2017.sum()) == 4531
    printed = f.loc[f["crime_type"] != "totaal", "count"].sum()
    assert printed < total  # the selection does not add up to the total


def test_default_rule_differs_from_seed_only_in_winkeldiefstal(seed_incidents, areas):
    default = stats.compare(seed_incidents, "2017", areas=areas).frame.set_index("crime_type")
    assert default.loc["winkeldiefstal", "change_1y_text"] == "1%"
    assert default.loc["overval", "change_1y_text"] == "-*"
    assert default.loc["overval", "change_5y_text"] == "-*"
    assert default.loc["straatroof", "change_1y_text"] == "-83%"
    seed = stats.compare(seed_incidents, "2017", areas=areas,
                         rule=LowCountRule.seed()).frame.set_index("crime_type")
    diff = default["change_1y_text"] != seed["change_1y_text"]
    assert list(default.index[diff]) == ["winkeldiefstal"]


# --- rounding and the low-count rule ----------------------------------------------------------
def test_rounding_half_away_from_zero():
    assert list(stats.round_half_away([2.5, -2.5, 0.49, -0.5, 9.86, -14.06])) == \
        [3, -3, 0, -1, 10, -14]
    assert stats.format_percent(-14.055) == "-14%"
    assert stats.format_percent(6.42) == "6%"
    assert stats.format_percent(-0.4) == "0%"
    assert stats.format_percent(17.86, "truncate") == "17%"
    assert stats.format_percent(-9.9, "truncate") == "-9%"
    assert stats.format_percent(9.86, "truncate") == "9%"
    assert stats.parse_rounding("1:half-away,5:truncate") == {0: "half-away", 1: "half-away",
                                                              5: "truncate"}
    assert stats.parse_rounding("truncate") == {0: "truncate"}
    for bad in ("afronden", "x:truncate"):
        with pytest.raises(InvalidInput):
            stats.parse_rounding(bad)
    pc = stats.percent_change(np.array([142, 0, 26]), np.array([156, 5, 39]))
    assert pc[0] == pytest.approx(9.859, abs=1e-3)
    assert np.isnan(pc[1])
    assert pc[2] == pytest.approx(50.0)


def test_low_count_rule_modes_and_overrides():
    rows = np.array(["overval", "straatroof", "winkeldiefstal", "openlijk-geweld"], dtype=object)
    a = np.array([5, 24, 280, 26])
    b = np.array([11, 4, 282, 39])
    assert list(LowCountRule().apply(rows, 1, a, b)) == [True, False, False, False]
    assert list(LowCountRule(mode="either").apply(rows, 1, a, b)) == [True, True, False, False]
    assert list(LowCountRule(threshold=30).apply(rows, 1, a, b)) == [True, True, False, False]
    assert not LowCountRule(mode="off").apply(rows, 1, a, b).any()
    seed = LowCountRule.seed()
    assert list(seed.apply(rows, 1, a, b)) == [True, False, True, False]
    assert list(seed.apply(rows, 5, a, b)) == [True, False, False, False]
    shown = LowCountRule(show=frozenset({("overval", 0)}))
    assert list(shown.apply(rows, 5, a, b)) == [False, False, False, False]
    assert LowCountRule.parse_override("Winkeldiefstallen:1") == ("winkeldiefstal", 1)
    assert LowCountRule.parse_override("overval") == ("overval", 0)
    with pytest.raises(InvalidInput):
        LowCountRule.parse_override("overval:x")
    with pytest.raises(UnknownCrimeType):
        LowCountRule(suppress=frozenset({("kattenkwaad", 1)}))
    with pytest.raises(InvalidInput):
        LowCountRule(mode="soms")  # type: ignore[arg-type]
    assert "kleiner zijn dan 20" in LowCountRule().describe()


def test_rule_symbol_in_table_and_zero_reference(areas):
    counts = {"overval": {2016: 0, 2017: 3}, "straatroof": {2016: 0, 2017: 30},
              "overig": {2016: 50, 2017: 50}}
    inc = make_incidents(counts, areas)
    f = stats.compare(inc, "2017", areas=areas, years_back=(1,),
                      coverage=(Period.of_year(2016).start, Period.of_year(2017).end)) \
        .frame.set_index("crime_type")
    assert f.loc["overval", "change_1y_text"] == "-*"
    assert f.loc["straatroof", "change_1y_text"] == "n.v.t."  # 0 -> 30: no percentage
    assert f.loc["woninginbraak", "count"] == 0 and f.loc["woninginbraak", "count_1y"] == 0


# --- areas -----------------------------------------------------------------------------------
def test_wijk_sums_equal_gemeente_total(seed_incidents, areas):
    gem = stats.compare(seed_incidents, "2017", areas=areas, rows=stats.ALL_ROWS).frame
    wijk = stats.compare(seed_incidents, "2017", areas=areas, level="wijk",
                         rows=stats.ALL_ROWS).frame
    buurt = stats.compare(seed_incidents, "2017", areas=areas, level="buurt",
                          rows=stats.ALL_ROWS).frame
    assert set(areas.wijken["code"]) <= set(wijk["area_code"])
    assert stats.UNKNOWN_AREA_CODE in set(wijk["area_code"])  # 1% without a buurt
    for col in ("count", "count_1y", "count_5y"):
        g = gem.set_index("crime_type")[col].astype(int)
        w = wijk.groupby("crime_type")[col].sum().astype(int).reindex(g.index)
        b = buurt.groupby("crime_type")[col].sum().astype(int).reindex(g.index)
        pd.testing.assert_series_equal(g, w, check_names=False)
        pd.testing.assert_series_equal(g, b, check_names=False)


def test_all_wijken_listed_with_zero(areas):
    one = areas.wijken["code"].iloc[0]
    inc = make_incidents({"woninginbraak": {2016: 10, 2017: 12}}, areas,
                         wijk_weights={one: 1.0})
    f = stats.count_incidents(inc, "2017", areas=areas, level="wijk",
                              rows=("woninginbraak", "hic"))
    assert len(f) == 2 * len(areas.wijken)
    assert f.loc[f["area_code"] == one, "count"].tolist() == [12, 12]
    assert (f.loc[f["area_code"] != one, "count"] == 0).all()


# --- periods ---------------------------------------------------------------------------------
def test_quarter_comparison(areas):
    counts = {"woninginbraak": {("2017-01-01", "2017-04-01"): 40,
                                ("2017-04-01", "2018-01-01"): 500,
                                ("2018-01-01", "2018-04-01"): 30},
              "overig": {("2013-01-01", "2018-04-01"): 3000}}
    inc = make_incidents(counts, areas, seed=3)
    c = stats.compare(inc, "2018-Q1", areas=areas, rows=("woninginbraak",))
    rec = c.frame.iloc[0]
    assert c.period.label == "1e kwartaal 2018"
    assert [p.key for _k, p in c.references] == ["2017-Q1", "2013-Q1"]
    assert (rec["count"], rec["count_1y"], rec["count_5y"]) == (30, 40, 0)
    assert rec["change_1y_text"] == "-25%"
    assert rec["change_5y_text"] == "n.v.t."  # reference 0, and 30 is not a low count
    assert c.seed_layout().columns[:4].tolist() == [
        "categorie", "aantal_2017-Q1", "aantal_2018-Q1", "verschil_2018-Q1_vs_2017-Q1"]


def test_period_parsing_and_shift():
    assert Period.parse("2017").key == "2017"
    q = Period.parse("2018-Q1")
    assert (q.start, q.end) == (pd.Timestamp("2018-01-01", tz="Europe/Amsterdam"),
                                pd.Timestamp("2018-04-01", tz="Europe/Amsterdam"))
    assert q.shift(-1).key == "2017-Q1"
    assert Period.parse("2017-03").label == "maart 2017"
    w = Period.parse("2017-W10")
    assert w.start.date().isoformat() == "2017-03-06" and w.days == 7
    assert w.shift(-1).key == "2016-W10"
    with pytest.raises(InvalidInput, match="week 53"):
        Period.parse("2015-W53").shift(1)
    r = Period.parse("2017-01-01/2017-06-30")
    assert r.end == pd.Timestamp("2017-07-01", tz="Europe/Amsterdam")
    assert r.shift(-1).key == "2016-01-01..2016-07-01"
    assert len(Period.of_year(2017).split("month")) == 12
    assert len(Period.of_year(2017).split("quarter")) == 4
    assert len(Period.of_year(2017).split("week")) == 52
    for bad in ("2017-13", "2017-Q5", "gisteren", "2017-06-30/2017-01-01"):
        with pytest.raises(InvalidInput):
            Period.parse(bad)


def test_months_and_weeks_add_up(seed_incidents):
    year = Period.of_year(2017)
    months = stats.count_incidents(seed_incidents, year.split("month"), rows=("totaal", "hic"))
    total = stats.count_incidents(seed_incidents, year, rows=("totaal", "hic"))
    assert months.groupby("crime_type")["count"].sum().to_dict() == \
        total.set_index("crime_type")["count"].to_dict()
    assert total.set_index("crime_type").loc["totaal", "count"] == 4531


# --- rates -----------------------------------------------------------------------------------
def test_rates_absent_without_attributes(seed_incidents, areas):
    f = stats.count_incidents(seed_incidents, "2017", areas=areas, level="wijk")
    assert not any(c.startswith("per_1000") for c in f.columns)


def test_rates_with_attributes(seed_incidents, areas):
    wijken = areas.wijken.copy()
    wijken["inhabitants"] = np.arange(len(wijken)) * 1000 + 2000
    wijken.loc[wijken.index[0], "inhabitants"] = -99997  # CBS: secret
    a2 = dataclasses.replace(areas, wijken=wijken)
    f = stats.count_incidents(seed_incidents, "2017", areas=a2, level="wijk", rows=("totaal",))
    assert "per_1000_inhabitants" in f.columns and "per_1000_dwellings" not in f.columns
    known = f[f["area_code"].isin(wijken["code"].iloc[1:])]
    inh = known["area_code"].map(dict(zip(wijken["code"], wijken["inhabitants"], strict=True)))
    np.testing.assert_allclose(known["per_1000_inhabitants"],
                               (known["count"] / inh * 1000).round(2))
    assert f.loc[f["area_code"] == wijken["code"].iloc[0], "per_1000_inhabitants"].isna().all()
    c = stats.compare(seed_incidents, "2017", areas=a2, level="wijk")
    assert "per_1000_inhabitants" in c.frame.columns


# --- significance ----------------------------------------------------------------------------
def test_binomial_test_matches_scipy_and_flags_noise_correctly():
    p = stats.binomial_test(np.array([26, 1030, 0, 374]), np.array([39, 576, 0, 398]))
    assert p[0] == pytest.approx(sps.binomtest(39, 65, 0.5).pvalue, rel=1e-9)
    assert 0.1 < p[0] < 0.2  # 26 -> 39 (+50%) is within chance
    assert p[1] < 1e-6
    assert p[2] == 1.0
    assert p[3] > 0.05


def test_mann_kendall_exact():
    s, p = stats.mann_kendall(np.array([[100, 104, 109, 113, 118, 123],
                                        [5, 3, 6, 4, 5, 4],
                                        [6, 5, 4, 3, 2, 1]]))
    assert s[0] == 15 and p[0] == pytest.approx(2 / 720)
    assert p[1] > 0.5
    assert s[2] == -15 and p[2] == pytest.approx(2 / 720)
    # exact distribution agrees with scipy's exact Kendall tau test (no ties)
    x = np.array([[3, 1, 4, 8, 5, 9, 2]])
    _s, pm = stats.mann_kendall(x)
    assert pm[0] == pytest.approx(sps.kendalltau(np.arange(7), x[0], method="exact").pvalue)


def test_steady_rise_flagged_and_jump_not(areas):
    counts = {"bedreiging": {2012: 100, 2013: 104, 2014: 109, 2015: 113, 2016: 118, 2017: 123},
              "openlijk-geweld": {2012: 30, 2013: 28, 2014: 33, 2015: 25, 2016: 26, 2017: 39}}
    inc = make_incidents(counts, areas, seed=11)
    f = stats.compare(inc, "2017", areas=areas, rows=("bedreiging", "openlijk-geweld")) \
        .frame.set_index("crime_type")
    assert f.loc["bedreiging", "signal_1y"] == "binnen toeval"
    assert f.loc["bedreiging", "trend_signal"] == "stijgende trend"
    assert f.loc["openlijk-geweld", "change_1y_text"] == "50%"
    assert f.loc["openlijk-geweld", "signal_1y"] == "binnen toeval"
    assert f.loc["openlijk-geweld", "trend_signal"] == "geen trend"
    assert (f["trend_points"] == 6).all()


# --- bad input -------------------------------------------------------------------------------
def test_bad_input(seed_incidents, areas):
    with pytest.raises(UnknownCrimeType, match="kattenkwaad"):
        stats.compare(seed_incidents, "2017", rows="kattenkwaad")
    with pytest.raises(InvalidInput, match="omgekeerde"):
        Period.between("2017-06-01", "2017-01-01")
    with pytest.raises(InvalidInput, match="omgekeerde"):
        Period.between("2017-06-01", "2017-06-01")
    with pytest.raises(InvalidInput, match="geen gegevens voor 2020"):
        stats.compare(seed_incidents, "2020", areas=areas)
    with pytest.raises(InvalidInput, match="geen incidenten"):
        stats.compare(seed_incidents.iloc[:0], "2017", areas=areas)
    with pytest.raises(InvalidInput, match="niveau"):
        stats.count_incidents(seed_incidents, "2017", level="provincie")  # type: ignore[arg-type]
    partial = stats.compare(seed_incidents, "2016", areas=areas)  # 2011 is outside the data
    f = partial.frame
    assert f["count_5y"].isna().all()
    assert (f["change_5y_text"] == "geen gegevens").all()
    assert any("2011" in n and "buiten de gegevens" in n for n in partial.notes)
    assert f["count_1y"].notna().all()


def test_target_partly_outside_data(areas):
    inc = make_incidents({"overig": {("2017-01-01", "2017-07-01"): 100}}, areas)
    with pytest.raises(InvalidInput, match="maar voor"):
        stats.compare(inc, "2017", areas=areas)
    with pytest.raises(InvalidInput, match="2016"):
        stats.compare(inc, "2016")


# --- map-ready data --------------------------------------------------------------------------
def test_area_layer(seed_comparison, seed_incidents, areas):
    layers = stats.map_layers(seed_incidents, areas, "2017", row="hic")
    wijk = layers["wijk"]
    assert wijk.crs == areas.wijken.crs and len(wijk) == len(areas.wijken)
    assert {"count", "count_1y", "change_1y", "change_1y_text", "signal_1y",
            "trend_signal", "geometry"} <= set(wijk.columns)
    assert len(layers["buurt"]) == len(areas.buurten)
    with pytest.raises(InvalidInput):
        stats.area_layer(seed_comparison, areas, "hic")  # not a row of the seed table


def test_counts_2012_consistent_with_seed():
    table = seed_table().set_index("categorie")
    lab = {s: ct.BY_SLUG[s].label for s in ct.SLUGS} | {"totaal": ct.TOTAL_LABEL}
    for slug, n2012 in COUNTS_2012.items():
        printed = table.loc[lab[slug], "verschil_2017_vs_2012"]
        if printed == "-*":
            continue
        n2017 = int(table.loc[lab[slug], "aantal_2017"])
        change = 100 * (n2017 - n2012) / n2012
        assert stats.format_percent(change, "truncate") == printed, slug
        if slug != "zedenmisdrijf":
            assert stats.format_percent(change) == printed, slug


# --- the demo data (geoveilig.demo, calibrated to the seed table) ----------------------------
@pytest.fixture(scope="module")
def demo_2017(demo_incidents, areas):
    return stats.evaluation(demo_incidents, areas, "2017", rule=LowCountRule.seed(),
                            rounding=stats.SEED_ROUNDING, extra_periods=("2018-Q1",))


def test_demo_reproduces_seed_table(demo_2017):
    got = demo_2017.gemeente.seed_layout(with_signals=False).astype(str)
    pd.testing.assert_frame_equal(got, seed_table())


def test_demo_wijken_add_up_and_quarter(demo_2017, demo_incidents):
    g = demo_2017.gemeente.frame.set_index("crime_type")
    w = demo_2017.wijken.frame
    sums = w.groupby("crime_type")[["count", "count_1y", "count_5y"]].sum()
    for col in ("count", "count_1y", "count_5y"):
        assert (sums.loc[g.index, col].astype(int) == g[col].astype(int)).all()
    q = demo_2017.extra[0].frame.set_index("crime_type")
    t = demo_incidents["occurred_at"]
    in_q1 = (t >= "2018-01-01") & (t < "2018-04-01")
    assert q.loc["totaal", "count"] == int(in_q1.sum())
    in_q1_2017 = (t >= "2017-01-01") & (t < "2017-04-01")
    assert q.loc["totaal", "count_1y"] == int(in_q1_2017.sum())


def test_period_series(demo_incidents):
    s = stats.period_series(demo_incidents, "2018-Q1", rows=("totaal", "woninginbraak"))
    assert list(s.columns) == [f"{y}-Q1" for y in range(2012, 2019)]
    t = demo_incidents["occurred_at"]
    assert s.loc["totaal", "2013-Q1"] == int(((t >= "2013-01-01") & (t < "2013-04-01")).sum())
    y = stats.period_series(demo_incidents, "2017")
    assert list(y.columns) == [str(v) for v in range(2012, 2018)]
    assert y.loc["totaal", "2012"] == 6473 and y.loc["totaal", "2016"] == 5272


# --- issue 15: trend test with ties, at least five years, one time rule ----------------------
def test_mann_kendall_tie_corrected_matches_scipy():
    rows = np.array([[5, 5, 6, 6, 7, 7, 8],
                     [3, 3, 3, 4, 4, 5, 9],
                     [2, 0, 2, 0, 2, 3, 3],
                     [10, 12, 12, 15, 15, 15, 19]])
    _s, p = stats.mann_kendall(rows)
    for r in range(len(rows)):
        want = sps.kendalltau(np.arange(rows.shape[1]), rows[r]).pvalue
        assert p[r] == pytest.approx(want, rel=1e-9)


def test_trend_needs_five_years(areas):
    four = {"bedreiging": {2014: 100, 2015: 130, 2016: 170, 2017: 220}}
    f = stats.compare(make_incidents(four, areas, seed=3), "2017", areas=areas,
                      rows=("bedreiging",))
    assert (f.frame["trend_signal"] == "te weinig jaren").all()
    assert f.frame["trend_p"].isna().all()
    assert any("te weinig jaren" in n for n in f.notes)


def test_ambiguous_autumn_hour_counted_as_the_importer_reads_it(areas):
    """A naive time in the hour that occurs twice (last Sunday of October) is winter time, as
    the importer reads it; stats used to turn it into NaT and refuse the whole frame."""
    inc = make_incidents({"overig": {2017: 5}}, areas, seed=1)
    inc = inc.copy()
    inc["occurred_at"] = pd.to_datetime(["2017-10-29 02:30", "2017-03-26 02:30",
                                         "2017-05-01 10:00", "2017-07-01 00:00",
                                         "2017-12-31 23:59"])
    c = stats.count_incidents(inc, "2017")
    assert int(c["count"].sum()) >= 5
    assert stats.data_range(inc)[0] == pd.Timestamp("2017-03-26", tz="Europe/Amsterdam")
