"""The layer catalogue: parameters, periods, suppression, roles, registration hook."""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient

from geoveilig import RD_NEW
from geoveilig.api import create_app
from geoveilig.errors import InvalidInput, UnknownCrimeType
from geoveilig.layers import (
    Layer,
    Param,
    Suppression,
    allows,
    get_layer,
    parse_date,
    parse_period,
    register_layer,
    unregister_layer,
    visible_layers,
)
from geoveilig.settings import Settings


@pytest.mark.parametrize(("text", "start", "end"), [
    ("2017", date(2017, 1, 1), date(2018, 1, 1)),
    ("2017-Q1", date(2017, 1, 1), date(2017, 4, 1)),
    ("2017q4", date(2017, 10, 1), date(2018, 1, 1)),
    ("2017-02", date(2017, 2, 1), date(2017, 3, 1)),
    ("2017-12", date(2017, 12, 1), date(2018, 1, 1)),
    ("2017-01-01/2017-06-30", date(2017, 1, 1), date(2017, 7, 1)),
])
def test_parse_period(text: str, start: date, end: date) -> None:
    p = parse_period(text)
    assert (p.start, p.end) == (start, end)
    assert p.last_day < p.end


@pytest.mark.parametrize("text", ["17", "2017-Q5", "2017-13", "2017-06-30/2017-01-01",
                                  "morgen", "3000", "2016-02-30/2016-03-01"])
def test_parse_period_rejects(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_period(text)


def test_parse_date() -> None:
    assert parse_date("2018-04-20") == date(2018, 4, 20)
    with pytest.raises(InvalidInput):
        parse_date("20-04-2018")


def test_suppression_hides_small_counts_and_perturbs_the_rest() -> None:
    from geoveilig.disclosure import Policy

    frame = gpd.GeoDataFrame({"code": list("abcde"), "count": [0, 1, 4, 5, 100],
                              "crime_type": "totaal", "period": "2017"},
                             geometry=[shapely.Point(0, 0)] * 5, crs=RD_NEW)
    policy = Policy(b"test-secret-of-sixteen-bytes")
    out = Suppression(("count",), threshold=5).apply(frame, policy)
    assert out["count"].tolist()[:3] == [0, None, None]
    assert 5 <= out["count"].iloc[3] <= 5 + 3 and abs(out["count"].iloc[4] - 100) <= 3
    assert out["count_suppressed"].tolist() == [False, True, True, False, False]
    assert frame["count"].tolist() == [0, 1, 4, 5, 100]  # input untouched
    again = Suppression(("count",), threshold=5).apply(frame, policy)
    assert again["count"].tolist() == out["count"].tolist()  # the same cell, the same answer
    out3 = Suppression(("count",), threshold=2).apply(frame, policy)
    assert out3["count"].tolist()[:2] == [0, None] and out3["count"].iloc[2] >= 2


def test_roles_are_ordered() -> None:
    assert allows("police", "analyst") and allows("analyst", "public")
    assert not allows("public", "analyst") and not allows("analyst", "police")
    assert not allows("nobody", "public")
    public = {layer.id for layer in visible_layers("public")}
    assert "incidents" not in public and "prevention-groups" not in public
    assert {"incidents", "prevention-groups"} <= {x.id for x in visible_layers("police")}


def test_layer_params_validate_and_name_the_parameter() -> None:
    wijken = get_layer("wijken")
    params = wijken.parse_params({"crimeType": "inbraak", "year": "2017"})
    assert params["crimeType"] == ("woninginbraak", "inbraak-schuur-garage")
    assert params["period"] is None and params["year"].start == date(2017, 1, 1)
    with pytest.raises(UnknownCrimeType) as err:
        wijken.parse_params({"crimeType": "ruzie"})
    assert err.value.where == "crimeType"


def test_register_layer_is_one_call_and_the_api_serves_it(shared_geo, tmp_path) -> None:  # type: ignore[no-untyped-def]
    def build(_ctx, params):  # type: ignore[no-untyped-def]
        n = params["n"]
        return gpd.GeoDataFrame({"cell_id": [f"c{i}" for i in range(n)], "risk": range(n)},
                                geometry=[shapely.box(172000 + 100 * i, 387000,
                                                      172100 + 100 * i, 387100)
                                          for i in range(n)], crs=RD_NEW)

    register_layer(Layer(
        id="test-grid", title="Testraster", description="alleen voor de test",
        builder=build, role="analyst", id_column="cell_id",
        params=(Param("n", "aantal cellen", int, default="3",
                      schema={"type": "integer"}),)))
    try:
        from geoveilig.store import Store
        from geoveilig.store.keys import create_key

        store = Store.sqlite(tmp_path / "geoveilig.sqlite")
        _, key = create_key(store, "t", "analyst")
        store.close()
        with TestClient(create_app(Settings(data_dir=tmp_path, geo_dir=shared_geo))) as c:
            h = {"X-API-Key": key}
            body = c.get("/v1/collections/test-grid/items?n=5", headers=h).json()
            assert body["numberMatched"] == 5
            assert body["features"][4]["properties"]["risk"] == 4
            assert c.get("/v1/collections/test-grid/items").status_code == 404  # public
            assert "/v1/collections/test-grid/items" in c.get("/v1/api", headers=h).json()[
                "paths"]
            # the public OpenAPI document does not list what the public may not call
            assert "/v1/collections/test-grid/items" not in c.get("/v1/api").json()["paths"]
    finally:
        unregister_layer("test-grid")


def test_significant_digits() -> None:
    import numpy as np

    from geoveilig.layers import _significant

    got = _significant(np.array([0.0, 123456789.0, 0.000123456789, -2.5e-9 / 3, np.nan]), 6)
    np.testing.assert_array_equal(got[:3], [0.0, 123457000.0, 0.000123457])
    assert got[3] == pytest.approx(-8.33333e-10, rel=1e-9) and np.isnan(got[4])


def test_risk_classes_are_quantiles_over_cells_at_risk() -> None:
    """Zero-risk cells are class 0 (transparent on the map) and do not pull the class edges
    down: the cells at risk fill five classes of about a fifth each."""
    import numpy as np

    from geoveilig.layers import risk_classes

    risk = np.concatenate([np.zeros(800), np.linspace(0.01, 1.0, 100)])
    classes, edges = risk_classes(risk)
    assert (classes[:800] == 0).all()
    assert len(edges) == 6 and edges[0] == 0.01 and edges[-1] == 1.0
    assert sorted(set(classes[800:])) == [1, 2, 3, 4, 5]
    assert all(18 <= (classes == c).sum() <= 22 for c in range(1, 6))
    assert list(risk_classes(np.zeros(5))[0]) == [0] * 5 and risk_classes(np.zeros(5))[1] == []
    tied, tied_edges = risk_classes(np.array([0.0, 2.0, 2.0, 2.0]))  # one value: one class
    assert list(tied) == [0, 1, 1, 1] and tied_edges == [2.0, 2.0]
    assert list(risk_classes(np.array([np.nan, -1.0, 0.5]))[0]) == [0, 0, 1]


def test_field_catalogue_labels_in_dutch() -> None:
    """What the map shows for a property: a Dutch label (never the property's name), units and
    formats; internal ids and p-values are hidden."""
    from geoveilig.layers import FIELDS, field_catalogue

    cat = field_catalogue()
    for name in ("cell_id", "gi_p", "gi_q", "gi_empty", "period_start", "crime_type"):
        assert cat[name]["hidden"] is True
    assert cat["area_km2"] == {"label": "Oppervlakte", "kind": "number", "unit": "km²"}
    assert cat["coverage_share"]["kind"] == "share" and cat["fully_covered"]["kind"] == "bool"
    assert cat["kind"]["values"]["alarm"] == "mobiel alarmsysteem"
    assert all("_" not in f.label and f.label != name for name, f in FIELDS.items())
