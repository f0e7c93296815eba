import time

import pytest
from fastapi.testclient import TestClient

from geoveilig.api import create_app
from tests.api_support import build_store


@pytest.fixture(scope="module")
def client(tmp_path_factory, shared_geo, areas, demo_incidents):  # type: ignore[no-untyped-def]
    settings, keys = build_store(tmp_path_factory.mktemp("analysis"), shared_geo, areas,
                                 demo_incidents)
    with TestClient(create_app(settings)) as c:
        yield c, {"Authorization": f"Bearer {keys['analyst']}"}


def _result(c, response, headers):  # type: ignore[no-untyped-def]
    """The job's result: directly (200) or after polling its status URL (202)."""
    deadline = time.time() + 120
    while response.status_code == 202:
        assert time.time() < deadline
        time.sleep(0.5)
        status = c.get(response.headers["location"], headers=headers).json()
        if status["status"] in ("successful", "failed"):
            response = c.get(response.headers["location"] + "/results", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_backtest_scores(client) -> None:  # type: ignore[no-untyped-def]
    c, h = client
    r = c.get("/v1/backtest?crimeType=woninginbraak&methods=naive,kde&origins=4", headers=h)
    body = _result(c, r, h)
    assert {row["method"] for row in body["summary"]} == {"naive", "kde"}
    assert len(body["origins"]) == 4 and body["verdict"]
    assert {"pai_5", "hit_5", "meets_criterion"} <= set(body["summary"][0])


def test_deployment_effect(client) -> None:  # type: ignore[no-untyped-def]
    c, h = client
    deps = c.get("/v1/collections/deployments/items?limit=100", headers=h).json()["features"]
    alarm = next(f for f in deps if f["properties"]["kind"] == "alarm")
    r = c.get(f"/v1/deployments/{alarm['id']}/effect", headers=h)
    body = _result(c, r, h)
    assert body["label"] in ("daling", "stijging", "geen aantoonbaar effect",
                             "te vroeg om te zeggen", "geen vergelijkingsgebied",
                             "onvoldoende gegevens")
    assert body["verdict"] and "ci_low" in body
    # the design is stated: its controls, its power, and whether the tool placed it
    assert body["placed_by_tool"] is False and "hetzelfde risico" in body["control_rule"]
    assert "mde" in body and "p_value" in body and "selection" in body["periods"]
    assert c.get("/v1/deployments/999999/effect", headers=h).status_code == 404


def test_analysis_is_hidden_from_the_public(client) -> None:  # type: ignore[no-untyped-def]
    c, h = client
    assert c.get("/v1/backtest?crimeType=woninginbraak").status_code == 404
    assert c.get("/v1/deployments/1/effect").status_code == 404
    bad = c.get("/v1/backtest?crimeType=fraude", headers=h)
    assert bad.status_code == 400 and bad.headers["content-type"].startswith(
        "application/problem+json")
    assert c.get("/v1/backtest", headers=h).json()["parameter"] == "crimeType"


def test_deployment_effect_from_a_stored_plan(client) -> None:  # type: ignore[no-untyped-def]
    """The interface for stored plans (issue 19): the plan's sites and the deployed rank give
    the controls (the sites ranked below it) and flag the deployment as placed by the tool."""
    import geopandas as gpd
    import numpy as np

    from geoveilig.placement.service import deployment_effect
    from geoveilig.store.deployments import list_deployments

    c, _h = client
    store = c.app.state.services.store
    units = list_deployments(store)
    alarm = units.loc[units["kind"] == "alarm"].iloc[0]
    x0, y0 = alarm.geometry.x, alarm.geometry.y
    xs = x0 + np.r_[0.0, 1200, -1200, 0, 0, 1200, -1200]
    ys = y0 + np.r_[0.0, 0, 0, 1200, -1200, 1200, -1200]
    plan = gpd.GeoDataFrame({"rank": np.arange(1, 8), "radius_m": 150.0},
                            geometry=gpd.points_from_xy(xs, ys), crs="EPSG:28992")
    est = deployment_effect(store, int(alarm["id"]), plan_sites=plan, deployed_rank=1)
    assert est.placed_by_tool and est.n_control_cells == 6
    assert "dezelfde planning" in est.control_rule
    assert est.as_dict()["placed_by_tool"] is True
