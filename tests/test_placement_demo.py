"""Placement on the demo data: the interim demand, the policies and the effect evaluation of
the demo deployments hang together."""

from __future__ import annotations

import pytest

from geoveilig.crimetypes import GROUPS
from geoveilig.demo.deployments import demo_deployments
from geoveilig.placement import (
    Labels,
    Schedule,
    SiteRules,
    evaluate_deployment,
    recommend_alarms,
    recommend_cameras,
)
from geoveilig.placement.interim import interim_demand

BURGLARY = ("woninginbraak", "inbraak-schuur-garage")


def test_alarms_on_demo_data_with_demo_units(areas, demo_incidents):
    demand = interim_demand(demo_incidents, areas, origin="2018-04-01", window_days=28,
                            crime_types=BURGLARY)
    assert demand["risk"].sum() > 0
    units = demo_deployments(areas)
    alarms = units.loc[units["kind"] == "alarm"].assign(unit_id=lambda f: f["label"])
    rec = recommend_alarms(demand, 5, existing=alarms, labels=Labels(names=areas.names()),
                           schedule=Schedule(origin="2018-04-01"))
    assert rec.sites["expected_covered"].sum() == pytest.approx(rec.objective)
    assert rec.proven
    assert set(rec.rotation["unit_id"]) == set(alarms["unit_id"])
    assert rec.sites["buurt_name"].notna().all()


def test_cameras_on_demo_data(areas, demo_incidents):
    demand = interim_demand(demo_incidents, areas, origin="2018-04-01", window_days=28,
                            crime_types=GROUPS["straat"])
    units = demo_deployments(areas)
    cam = units.loc[units["kind"] == "camera"]
    rec = recommend_cameras(demand, 3, existing=cam, keep_existing=True,
                            rules=SiteRules(min_spacing=150))
    assert rec.sites["expected_covered"].sum() == pytest.approx(rec.objective)
    assert (rec.sites["status"] == "bestaand").sum() == 1


def test_annabuurt_alarms_effect_is_not_yet_known(areas, demo_incidents):
    # the source (spring 2018): "Het is nu nog te vroeg om aan te geven wat het effect is"
    area = areas.buurten.set_index("code").geometry["BU07941006"]
    r = evaluate_deployment(demo_incidents, start="2017-11-01", area=area,
                            crime_types=["woninginbraak"])
    assert r.label in ("te vroeg om te zeggen", "geen aantoonbaar effect")
    assert r.ci_low <= 1 <= r.ci_high
    assert "loopt nog" in r.verdict
