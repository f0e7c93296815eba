"""Deployments registry in the store and the demo deployments."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geoveilig.demo.deployments import demo_deployments
from geoveilig.errors import Conflict, CrsError, InvalidInput, NotFound
from geoveilig.store.deployments import add_deployments, list_deployments, remove_deployment


@pytest.fixture
def helmond(areas):
    return areas


@pytest.fixture
def deploy_store(store):
    return store


def test_demo_deployments_match_the_source(helmond):
    d = demo_deployments(helmond)
    assert d.crs.to_epsg() == 28992
    assert d["synthetic"].all()
    alarms = d.loc[d["kind"] == "alarm"]
    assert (alarms["buurt_code"] == "BU07941006").all()
    assert (alarms["start"] == pd.Timestamp("2017-11-01")).all()
    annabuurt = helmond.buurten.set_index("code").geometry["BU07941006"]
    assert alarms.geometry.within(annabuurt).all()
    cam = d.loc[d["kind"] == "camera"]
    assert len(cam) == 1 and cam["approximate"].all()
    assert cam["start"].iloc[0] == pd.Timestamp("2017-07-01")
    assert "Haaglaan" in cam["label"].iloc[0]
    tent = d.loc[d["kind"] == "buurttent"]
    assert len(tent) == 19
    assert (pd.DatetimeIndex(tent["start"]).year == 2017).all()
    # deterministic
    assert demo_deployments(helmond).geometry.equals(d.geometry)


def test_registry_round_trip(helmond, deploy_store):
    d = demo_deployments(helmond)
    ids = add_deployments(deploy_store, d)
    assert len(ids) == len(d)
    all_ = list_deployments(deploy_store)
    assert len(all_) == len(d) and all_.crs.to_epsg() == 28992
    assert all_["synthetic"].all()
    active = list_deployments(deploy_store, kinds=["alarm"], active_at="2018-01-15")
    assert len(active) == 8
    assert len(list_deployments(deploy_store, kinds=["alarm"], active_at="2017-10-01")) == 0
    summer = list_deployments(deploy_store, start="2017-06-01", end="2017-08-01")
    assert set(summer["kind"]) == {"camera", "buurttent"}
    with pytest.raises(Conflict):  # placed: only a planned deployment may be deleted
        remove_deployment(deploy_store, ids[0])
    remove_deployment(deploy_store, ids[0], any_status=True)
    assert len(list_deployments(deploy_store)) == len(d) - 1
    with pytest.raises(NotFound):
        remove_deployment(deploy_store, ids[0])


def test_registry_area_and_bad_input(deploy_store):
    area = shapely.Point(174000, 387000).buffer(200)
    ok = gpd.GeoDataFrame({"kind": ["alarm"], "start": ["2018-01-01"]}, geometry=[area],
                          crs="EPSG:28992")
    (i,) = add_deployments(deploy_store, ok)
    row = list_deployments(deploy_store).set_index("id").loc[i]
    assert row["area_wkt"].startswith("POLYGON")
    assert row.geometry.distance(shapely.Point(174000, 387000)) < 1
    with pytest.raises(InvalidInput, match="onbekend soort"):
        add_deployments(deploy_store, ok.assign(kind="drone"))
    with pytest.raises(InvalidInput, match="eindigt voor"):
        add_deployments(deploy_store, ok.assign(end="2017-01-01"))
    with pytest.raises(CrsError):
        add_deployments(deploy_store, ok.to_crs("EPSG:4326"))


def test_migration_0003_down_and_up(deploy_store):
    from alembic import command

    from geoveilig.store import Store, _alembic_config

    head = Store.head_revision()  # later migrations (0004 postgis, 0005 api keys) follow 0003
    assert deploy_store.schema_revision() == head
    with deploy_store.engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0002")
    with deploy_store.engine.connect() as conn:
        assert "deployments" not in set(conn.dialect.get_table_names(conn))
    deploy_store.migrate()
    assert deploy_store.schema_revision() == head
    assert len(list_deployments(deploy_store)) == 0
