import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree

from geoveilig.demo import generate_incidents, read_seed_table, to_csv, yearly_counts
from geoveilig.demo.incidents import SEED
from geoveilig.incidents import parse_incidents


def _counts(incidents):
    year = incidents["occurred_at"].dt.year
    return incidents.groupby([year, "crime_type"]).size().unstack(0, fill_value=0)


def test_seed_table_in_code_equals_the_shared_csv(shared_geo):
    csv = shared_geo.parent / "seed" / "helmond_misdrijven_2012_2016_2017.csv"
    assert tuple(read_seed_table(csv)) == SEED


def test_demo_counts_equal_the_seed_table(demo_incidents):
    counts = _counts(demo_incidents)
    for row in SEED:
        if row.slug == "totaal":
            assert counts[2016].sum() == row.count_2016 == 5272
            assert counts[2017].sum() == row.count_2017 == 4531
            c2012 = counts[2012].sum()
        else:
            assert counts.loc[row.slug, 2016] == row.count_2016, row.slug
            assert counts.loc[row.slug, 2017] == row.count_2017, row.slug
            c2012 = counts.loc[row.slug, 2012]
        if row.change_5y is not None:
            # the printed 5-year change, as a whole percent (truncated toward zero)
            assert int((row.count_2017 / c2012 - 1) * 100) == row.change_5y, row.slug
    assert counts.loc["overig", 2016] == 1329
    assert counts.loc["overig", 2017] == 1146
    assert demo_incidents["occurred_at"].max() < pd.Timestamp("2018-04-01", tz="Europe/Amsterdam")
    assert demo_incidents["occurred_at"].min() >= pd.Timestamp("2012-01-01", tz="Europe/Amsterdam")


@pytest.mark.slow  # the whole demo through the CLI; `make test-fast` skips it
def test_demo_is_synthetic_reproducible_and_inside_buurten(areas, demo_incidents):
    assert demo_incidents["incident_id"].str.startswith("DEMO-").all()
    assert demo_incidents["incident_id"].is_unique
    assert demo_incidents["buurt_code"].notna().all()
    assert demo_incidents["address"].isna().all()
    again = generate_incidents(areas, seed=42)
    pd.testing.assert_frame_equal(
        pd.DataFrame(again.drop(columns="geometry")),
        pd.DataFrame(demo_incidents.drop(columns="geometry")))
    other = generate_incidents(areas, seed=7)
    assert not np.allclose(other["x"].to_numpy(), demo_incidents["x"].to_numpy())
    assert yearly_counts().loc["woninginbraak", 2015] == 520  # 374 is -28% on 2015


def test_demo_has_the_planted_structure(demo_incidents):
    d = demo_incidents
    burg = d[d["crime_type"] == "woninginbraak"]
    # near-repeat: pairs within 100 m and 14 days are far more frequent than when times are
    # shuffled (space-time interaction, the Knox idea)
    xy = burg[["x", "y"]].to_numpy()
    epoch = pd.Timestamp("2012-01-01", tz="Europe/Amsterdam")
    t = ((burg["occurred_at"] - epoch).dt.total_seconds() / 86400).to_numpy()
    pairs = np.array(sorted(cKDTree(xy).query_pairs(100.0)))
    close = np.abs(t[pairs[:, 0]] - t[pairs[:, 1]]) <= 14
    rng = np.random.default_rng(0)
    ts = rng.permutation(t)
    shuffled = np.abs(ts[pairs[:, 0]] - ts[pairs[:, 1]]) <= 14
    assert close.sum() > 3 * shuffled.sum()
    # bicycle theft concentrates around the station and centre
    bikes = d[d["crime_type"] == "fietsendiefstal"]
    assert bikes["buurt_code"].isin(["BU07941004", "BU07941000"]).mean() > 0.4
    # street robbery: many in 2016, few in 2017; Annabuurt burglaries up in 2017
    anna = burg[burg["buurt_code"] == "BU07941006"]["occurred_at"].dt.year.value_counts()
    assert anna[2017] > 2 * anna[2016]
    # burglaries carry a window whose midpoint is the analysis moment
    mid = burg["occurred_from"] + (burg["occurred_to"] - burg["occurred_from"]) / 2
    assert (mid - burg["occurred_at"]).abs().max() <= pd.Timedelta(seconds=1)


def test_demo_csv_goes_through_the_real_import(areas, demo_incidents, tmp_path):
    sample = demo_incidents.iloc[::50]
    path = to_csv(sample, tmp_path / "demo.csv")
    text = path.read_text(encoding="utf-8")
    assert "SYNTHETISCH" in text.splitlines()[1]
    parsed = parse_incidents(path.read_bytes(), filename=path.name, areas=areas)
    assert len(parsed.rejects) == 0
    assert list(parsed.incidents["incident_id"]) == list(sample["incident_id"])
    assert (parsed.incidents["occurred_at"].to_numpy() == sample["occurred_at"].to_numpy()).all()
    assert list(parsed.incidents["buurt_code"]) == list(sample["buurt_code"])


def test_demo_for_several_gemeenten_keeps_helmond_and_scales_the_others(shared_geo, tmp_path,
                                                                         demo_incidents):
    """``geoveilig demo`` with Helmond and Buurdorp configured: Helmond's incidents are
    exactly those of the Helmond-only demo (the seed figures); Buurdorp gets synthetic ones
    scaled by its 4 buurten, inside its own buurten, with their own ids."""
    from typer.testing import CliRunner

    from geoveilig.areas import load_areas
    from geoveilig.cli import app
    from geoveilig.demo.incidents import generic_counts
    from geoveilig.scope import GemeenteStore
    from geoveilig.store import Store
    from tests.multi_support import two_gemeenten_dir

    geo = two_gemeenten_dir(shared_geo, tmp_path / "geo")
    env = {"GEOVEILIG_DATA_DIR": str(tmp_path / "data"), "GEOVEILIG_GEO_DIR": str(geo),
           "GEOVEILIG_GEMEENTE": "GM0794,GM9901"}
    result = CliRunner().invoke(app, ["demo", "--seed", "42"], env=env)
    assert result.exit_code == 0, result.output
    expected = generic_counts(4)
    n_buurdorp = int(expected[list(YEARS_AND_Q1)].to_numpy().sum())
    text = " ".join(result.output.split())
    assert f"Helmond (GM0794) {len(demo_incidents)}, Buurdorp (GM9901) {n_buurdorp}" in text
    two = load_areas(geo, gemeente="GM0794,GM9901")
    with Store.sqlite(tmp_path / "data" / "geoveilig.sqlite") as store:
        assert store.has_synthetic_data()
        helmond = GemeenteStore(store, two.select("GM0794")).incidents()
        buurdorp = GemeenteStore(store, two.select("GM9901")).incidents()
    mine = helmond.sort_values("incident_id", ignore_index=True)
    ref = demo_incidents.sort_values("incident_id", ignore_index=True)
    assert list(mine["incident_id"]) == list(ref["incident_id"])
    assert np.allclose(mine[["x", "y"]].to_numpy(), ref[["x", "y"]].to_numpy())
    assert (mine["occurred_at"].to_numpy() == ref["occurred_at"].to_numpy()).all()
    # ... so they still meet the seed table (test_demo_counts_equal_the_seed_table)
    seed = {r.slug: r.count_2017 for r in SEED if r.slug != "totaal"}
    assert {k: int(v) for k, v in _counts(helmond)[2017].items() if k in seed} == seed
    # Buurdorp: scaled counts per year and category, its own ids, inside its buurten
    assert len(buurdorp) == n_buurdorp
    assert buurdorp["incident_id"].str.startswith("DEMO-GM9901-").all()
    assert set(buurdorp["buurt_code"].str[:6]) == {"BU9901"}
    got = _counts(buurdorp)
    for year in (2016, 2017):
        want = expected[year][expected[year] > 0]
        assert got[year][got[year] > 0].sort_index().to_dict() == want.sort_index().to_dict()
    assert 0 < len(buurdorp) < len(helmond) / 5


YEARS_AND_Q1 = (2012, 2013, 2014, 2015, 2016, 2017, "2018Q1")
