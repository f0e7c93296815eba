"""The deployment cycle on both store backends: plans stored and read back, deployments
recorded, placed, ended, cancelled and deleted (and refused when the status does not allow
it), files in and out, the CLI and the HTTP API, restarts and two app instances on one store.
"""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from geoveilig import RD_NEW
from geoveilig.api import create_app
from geoveilig.cli import app as cli
from geoveilig.deployment_files import export_deployments, import_deployments, parse_deployments
from geoveilig.errors import Conflict, ImportRejected, InvalidInput, NotFound
from geoveilig.placement import service
from geoveilig.settings import Settings
from geoveilig.store import Store, audit_log
from geoveilig.store.deployments import (
    add_deployments,
    cancel_deployment,
    end_deployment,
    list_deployments,
    place_deployment,
    remove_deployment,
)
from geoveilig.store.keys import create_key
from geoveilig.store.plans import Requester, get_plan, list_plans, plan_sites, save_plan

from .storehelp import parsed

ANNA = (173650.0, 388300.0)  # a point in buurt BU07941006 (Annabuurt), RD


def _sites(n: int = 3) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "rank": [0, *range(1, n + 1)], "status": ["bestaand", *["nieuw"] * n],
        "expected_covered": [0.5, *[1.0 / k for k in range(1, n + 1)]],
        "buurt_code": ["BU07941006"] * (n + 1), "buurt_name": ["Annabuurt"] * (n + 1),
        "radius_m": 150.0, "start": "2018-03-01", "until": "2018-04-12",
        "backtest_score": float("nan")},
        geometry=[shapely.Point(ANNA[0] + 50 * k, ANNA[1]) for k in range(n + 1)], crs=RD_NEW)


def _save(store: Store, kind: str = "alarms") -> int:
    return save_plan(
        store, kind=kind, sites=_sites(), params={"count": 3, "radius": 150.0},
        objective=1.83, objective_unit="verwacht aantal inbraken binnen 150 m in de "
        "komende 4 weken", bound=1.9, gap=0.04, proven=False, solver="greedy", status="ok",
        total_risk=20.0, summary="3 nieuwe plaatsen", notes=["let op"],
        requester=Requester("analyst", "key:abc (test)", "abc"), data_version="v1")


# --- store -----------------------------------------------------------------------------------

def test_plan_round_trip_and_survives_reopening(store) -> None:  # type: ignore[no-untyped-def]
    first, second = _save(store), _save(store, "cameras")
    plan = get_plan(store, first)
    assert plan["kind"] == "alarms" and plan["key_id"] == "abc" and plan["role"] == "analyst"
    assert plan["params"] == {"count": 3, "radius": 150.0} and plan["notes"] == ["let op"]
    assert plan["data_version"] == "v1" and plan["gap"] == pytest.approx(0.04)
    assert "inbraken binnen 150 m" in plan["objective_unit"]
    sites = store.plan_sites(first)
    assert list(sites["rank"]) == [0, 1, 2, 3]
    assert list(sites["status"]) == ["bestaand", "nieuw", "nieuw", "nieuw"]
    assert sites.crs.to_epsg() == 28992 and sites.geometry.x.iloc[1] == ANNA[0] + 50
    assert sites["buurt_name"].iloc[0] == "Annabuurt" and sites["backtest_score"].isna().all()
    listed = list_plans(store)
    assert list(listed["id"]) == [second, first] and listed["n_nieuw"].tolist() == [3, 3]
    assert list(list_plans(store, kind="cameras")["id"]) == [second]
    with Store(store.url) as other:  # another process / a restart reads the same
        pd.testing.assert_frame_equal(plan_sites(other, first), sites)
    with pytest.raises(NotFound):
        get_plan(store, 999)
    with pytest.raises(NotFound):
        plan_sites(store, 999)


def test_state_machine(store) -> None:  # type: ignore[no-untyped-def]
    plan_id = _save(store)
    ids = service.deployments_from_plan(store, plan_id, [2, 1])
    deps = list_deployments(store).set_index("id")
    assert list(deps.loc[ids, "status"]) == ["gepland", "gepland"]
    assert list(deps.loc[ids, "plan_rank"]) == [2, 1]
    assert (deps.loc[ids, "plan_id"] == plan_id).all() and deps.loc[ids, "start"].isna().all()
    assert str(deps.loc[ids[0], "planned_start"].date()) == "2018-03-01"
    assert str(deps.loc[ids[0], "planned_end"].date()) == "2018-04-12"
    with pytest.raises(Conflict):  # rank 1 is already recorded
        service.deployments_from_plan(store, plan_id, [1])
    with pytest.raises(InvalidInput):  # rank 0 (a unit in place) cannot be deployed
        service.deployments_from_plan(store, plan_id, [0])
    with pytest.raises(Conflict):
        end_deployment(store, ids[0], "2018-03-10")  # not placed yet
    place_deployment(store, ids[0], "2018-03-02")
    with pytest.raises(Conflict):
        place_deployment(store, ids[0], "2018-03-03")  # twice
    with pytest.raises(Conflict):
        cancel_deployment(store, ids[0])
    with pytest.raises(Conflict):
        remove_deployment(store, ids[0])
    with pytest.raises(InvalidInput):
        end_deployment(store, ids[0], "2018-03-01")  # before the start
    end_deployment(store, ids[0], "2018-04-01")
    cancel_deployment(store, ids[1])
    with pytest.raises(NotFound):
        place_deployment(store, 999, "2018-03-02")
    deps = list_deployments(store).set_index("id")
    assert deps.loc[ids[0], "status"] == "beëindigd" and deps.loc[ids[1], "status"] == \
        "geannuleerd"
    assert str(deps.loc[ids[0], "start"].date()) == "2018-03-02"
    # placed on 2 March: active then, not before; the cancelled one never
    assert list(list_deployments(store, active_at="2018-03-15")["id"]) == [ids[0]]
    assert list_deployments(store, active_at="2018-03-01").empty
    # a cancelled rank may be planned again; a planned deployment may be deleted
    again = service.deployments_from_plan(store, plan_id, [1])
    remove_deployment(store, again[0])
    assert again[0] not in set(list_deployments(store)["id"])


def test_files_round_trip_both_crs(store, areas, tmp_path) -> None:  # type: ignore[no-untyped-def]
    plan_id = _save(store)
    ids = service.deployments_from_plan(store, plan_id, [1, 2, 3])
    place_deployment(store, ids[0], "2018-03-02")
    add_deployments(store, gpd.GeoDataFrame(
        {"kind": ["camera"], "start": ["2017-07-01"], "label": ["=HYPERLINK(\"x\")"],
         "buurt_code": ["BU07941006"]}, geometry=[shapely.Point(*ANNA)], crs=RD_NEW))
    frame = list_deployments(store)
    for fmt in ("csv", "geojson"):
        for crs in ("rd", "wgs84"):
            data = export_deployments(frame, fmt, crs)  # type: ignore[arg-type]
            if fmt == "csv":
                assert b"'=HYPERLINK" in data  # neutralised for spreadsheets
            got = parse_deployments(data, f"inzet.{fmt}", areas=areas)
            assert got.rejects.empty and len(got.frame) == len(frame)
            assert set(got.frame["label"]) == set(frame["label"])  # the formula restored
            # re-importing into the same store adds nothing
            res = import_deployments(store, got, source_name=f"inzet.{fmt}")
            assert res.ids == [] and res.already_present == len(frame)
    assert len(list_deployments(store)) == len(frame)
    bad = (b"kind;x;y;status;start\nalarm;173650;388300;geplaatst;2018-01-01\n"
           b"drone;173650;388300;geplaatst;2018-01-01\nalarm;51.47;5.66;geplaatst;2018-01-01\n"
           b"camera;173650;388300;geplaatst;\n")
    got = parse_deployments(bad, "fout.csv", areas=areas)
    assert list(got.rejects["row"]) == [3, 4, 5] and len(got.frame) == 1
    with pytest.raises(ImportRejected):
        import_deployments(store, got, source_name="fout.csv")
    assert len(list_deployments(store)) == len(frame)  # nothing stored
    res = import_deployments(store, got, source_name="fout.csv", partial=True)
    assert len(res.ids) == 1 and res.rejected == 3


def test_plans_are_saved_by_the_planning_run(store, areas, demo_incidents) -> None:  # type: ignore[no-untyped-def]
    store.import_incidents(parsed(demo_incidents.iloc[::20]), source_name="s.csv",
                           content_sha256="s" * 64)
    plan = service.plan_cameras(store, areas, count=3, window="28d", method="naive",
                                requester=Requester("analyst", "cli:test"))
    assert plan.plan_id is not None and plan.counts() == {"new": 3, "moved": 0, "kept": 0}
    stored = get_plan(store, plan.plan_id)
    assert stored["actor"] == "cli:test" and stored["params"]["window"] == "28d"
    assert stored["objective_unit"] == ("verwacht aantal incidenten op straat binnen 75 m in "
                                        "de komende 4 weken")
    assert stored["objective"] == pytest.approx(plan.recommendation.objective)
    sites = store.plan_sites(plan.plan_id)
    assert list(sites["rank"]) == [1, 2, 3]
    assert sites["expected_covered"].sum() == pytest.approx(plan.recommendation.objective)
    assert "4 weken" in plan.summary() and "3 nieuwe plaatsen" in plan.summary()


def test_count_is_new_sites_and_moves_are_listed_apart(store, areas, demo_incidents) -> None:  # type: ignore[no-untyped-def]
    """Asking for 2 alarms gives 2 new sites; units in place stay by default (the one
    default), and only when asked to move are cooled ones listed as moves."""
    from geoveilig.demo.deployments import demo_deployments

    store.import_incidents(parsed(demo_incidents.iloc[::20]), source_name="s.csv",
                           content_sha256="s" * 64)
    add_deployments(store, demo_deployments(areas))
    kept = service.plan_alarms(store, areas, count=2, origin="2018-03-01", duration_days=42,
                               method="kde")
    c = kept.counts()
    assert c["new"] == 2 and c["moved"] == 0 and c["kept"] == 8
    moved = service.plan_alarms(store, areas, count=2, origin="2018-03-01", duration_days=42,
                                method="kde", keep_existing=False)
    m = moved.counts()
    assert m["new"] == 2 and m["moved"] + m["kept"] == 8
    assert set(moved.recommendation.sites["status"]) <= {"nieuw", "verplaatst", "bestaand"}
    assert "2 nieuwe plaatsen" in moved.summary() and "verplaatsing" in moved.summary()
    assert service.KEEP_EXISTING is True


# --- CLI -------------------------------------------------------------------------------------

def test_cli_cycle(store, shared_geo, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"GEOVEILIG_DATA_DIR": str(tmp_path), "GEOVEILIG_GEO_DIR": str(shared_geo),
           "GEOVEILIG_DATABASE_URL": store.url}
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        res = runner.invoke(cli, list(args), env=env)
        assert res.exit_code == code, res.output
        assert "Traceback" not in res.output
        return res.output

    plan_id = _save(store)
    assert f"{plan_id}" in run("plans", "list") and "alarms" in run("plans", "list")
    shown = run("plans", "show", str(plan_id))
    assert "inbraken binnen 150 m" in shown and "Annabuurt" in shown
    run("plans", "export", str(plan_id), "--out", str(tmp_path / "plan.geojson"))
    doc = json.loads((tmp_path / "plan.geojson").read_text())
    assert len(doc["features"]) == 4 and doc["plan"]["id"] == plan_id
    run("plans", "export", str(plan_id), "--out", str(tmp_path / "plan.csv"), "--crs", "rd")
    assert (tmp_path / "plan.csv").read_text().startswith("seq;") or "rank" in \
        (tmp_path / "plan.csv").read_text().splitlines()[0]
    assert "Fout" in run("plans", "show", "999", code=1)

    assert "Vastgelegd" in run("deployments", "add", "--plan", str(plan_id), "--ranks", "1,2")
    run("deployments", "add", "--kind", "camera", "--lon", "5.6615", "--lat", "51.4786",
        "--planned-start", "2018-05-01")
    assert "buiten de gemeente" in run("deployments", "add", "--kind", "camera", "--x", "100000",
                                       "--y", "400000", "--planned-start", "2018-05-01",
                                       code=1)
    ids = list(list_deployments(store)["id"])
    assert len(ids) == 3
    run("deployments", "place", str(ids[0]), "--at", "2018-03-02")
    assert "409" not in run("deployments", "place", str(ids[0]), "--at", "2018-03-02", code=1)
    run("deployments", "end", str(ids[0]), "--at", "2018-04-02")
    run("deployments", "cancel", str(ids[1]))
    assert "alleen geplande" in run("deployments", "delete", str(ids[0]), code=1)
    run("deployments", "delete", str(ids[2]))
    listed = run("deployments", "list")
    assert "beëindigd" in listed and "geannuleerd" in listed
    assert "geannuleerd" in run("deployments", "list", "--status", "geannuleerd")
    out_csv = tmp_path / "inzet.csv"
    run("deployments", "export", "--out", str(out_csv), "--crs", "wgs84")
    assert "lon" in out_csv.read_text().splitlines()[0]
    assert "0 inzet(ten) ingelezen" in run("deployments", "import", str(out_csv))
    bad = tmp_path / "fout.csv"
    bad.write_text("kind;x;y;start\ndrone;173650;388300;2018-01-01\n")
    assert "Import geweigerd" in run("deployments", "import", str(bad), "--rejects",
                                     str(tmp_path / "rej.csv"), code=2)
    assert "onbekend soort" in (tmp_path / "rej.csv").read_text()


# --- API -------------------------------------------------------------------------------------

@pytest.fixture
def api(store, shared_geo, areas, demo_incidents, tmp_path):  # type: ignore[no-untyped-def]
    store.import_incidents(parsed(demo_incidents.iloc[::20]), source_name="s.csv",
                           content_sha256="s" * 64)
    keys = {role: create_key(store, f"t-{role}", role)[1] for role in ("analyst", "police")}
    settings = Settings(data_dir=tmp_path, geo_dir=shared_geo, database_url=store.url,
                        basemap_url="")
    return settings, keys


def _h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_api_cycle_two_instances_and_restart(api, store) -> None:  # type: ignore[no-untyped-def]
    settings, keys = api
    h = _h(keys["analyst"])
    with TestClient(create_app(settings)) as one, TestClient(create_app(settings)) as two:
        r = one.post("/v1/recommendations/cameras",
                     json={"count": 3, "method": "naive", "origin": "2018-01-01"}, headers=h)
        assert r.status_code == 200, r.text
        summary = r.json()["summary"]
        plan_id = summary["planId"]
        assert summary["newSites"] == 3 and summary["moves"] == 0
        assert "binnen 75 m in de komende 4 weken" in summary["objectiveUnit"]
        assert get_plan(store, plan_id)["key_id"] is not None
        # the recommendations collection reads the stored plan: the same in both instances
        url = f"/v1/collections/recommendations/items?planId={plan_id}"
        a, b = one.get(url, headers=h).json(), two.get(url, headers=h).json()
        assert a["features"] == b["features"] and len(a["features"]) == 3
        assert {f["properties"]["plan_id"] for f in a["features"]} == {plan_id}
        latest = two.get("/v1/collections/recommendations/items?kind=cameras", headers=h)
        assert [f["id"] for f in latest.json()["features"]] == [f["id"] for f in a["features"]]
        assert one.get("/v1/collections/recommendations/items?planId=999",
                       headers=h).status_code == 404
        assert one.get("/v1/collections/recommendations/items?planId=x",
                       headers=h).status_code == 400

        # deployments from the plan (instance one), changed through instance two
        r = one.post("/v1/deployments", json={"planId": plan_id, "ranks": [1, 2],
                                              "plannedStart": "2018-01-08"}, headers=h)
        assert r.status_code == 201, r.text
        deps = r.json()["deployments"]
        assert [d["status"] for d in deps] == ["gepland", "gepland"]
        assert [d["planRank"] for d in deps] == [1, 2]
        d1, d2 = deps[0]["id"], deps[1]["id"]
        assert one.post("/v1/deployments", json={"planId": plan_id, "ranks": [1]},
                        headers=h).status_code == 409
        r = two.patch(f"/v1/deployments/{d1}", json={"status": "geplaatst", "at": "2018-01-09"},
                      headers=h)
        assert r.status_code == 200 and r.json()["status"] == "geplaatst"
        assert r.json()["start"].startswith("2018-01-09")
        again = one.patch(f"/v1/deployments/{d1}", json={"status": "geplaatst",
                                                          "at": "2018-01-10"}, headers=h)
        assert again.status_code == 409
        assert again.headers["content-type"].startswith("application/problem+json")
        assert one.delete(f"/v1/deployments/{d1}", headers=h).status_code == 409
        assert one.patch(f"/v1/deployments/{d1}", json={"status": "beëindigd"},
                         headers=h).status_code == 400  # no date
        assert one.patch(f"/v1/deployments/{d1}", json={"status": "beëindigd",
                                                         "at": "2018-01-01"},
                         headers=h).status_code == 400  # before the start
        r = one.patch(f"/v1/deployments/{d1}", json={"status": "beëindigd", "at": "2018-02-09"},
                      headers=h)
        assert r.status_code == 200 and r.json()["status"] == "beëindigd"
        assert one.delete(f"/v1/deployments/{d2}", headers=h).status_code == 204
        assert one.delete(f"/v1/deployments/{d2}", headers=h).status_code == 404
        # one deployment by its place, then cancelled
        r = two.post("/v1/deployments", json={"kind": "alarm", "lon": 5.6615, "lat": 51.4786,
                                              "plannedStart": "2018-03-01"}, headers=h)
        assert r.status_code == 201 and "Location" in r.headers
        d3 = r.json()["deployments"][0]["id"]
        assert two.patch(f"/v1/deployments/{d3}", json={"status": "geannuleerd"},
                         headers=h).json()["status"] == "geannuleerd"
        # the layer shows the registry as it is now, in both instances
        layer = two.get("/v1/collections/deployments/items?status=beëindigd", headers=h).json()
        assert [f["id"] for f in layer["features"]] == [str(d1)]
        assert layer["features"][0]["properties"]["plan_id"] == plan_id
        # bad input and roles
        for body in ({"kind": "drone", "lon": 5.66, "lat": 51.47, "plannedStart": "2018-01-01"},
                     {"kind": "alarm", "plannedStart": "2018-01-01"},
                     {"kind": "alarm", "x": 100000, "y": 400000, "plannedStart": "2018-01-01"},
                     {"planId": plan_id, "ranks": [99]}, {"planId": plan_id},
                     {"kind": "alarm", "lon": 5.66, "lat": 51.47, "extra": 1}):
            bad = one.post("/v1/deployments", json=body, headers=h)
            assert bad.status_code == 400, (body, bad.text)
            assert bad.headers["content-type"].startswith("application/problem+json")
        assert one.post("/v1/deployments", content=b"{", headers=h).status_code == 400
        assert one.post("/v1/deployments", json={"planId": 999, "ranks": [1]},
                        headers=h).status_code == 404
        assert one.patch(f"/v1/deployments/{d1}", json={"status": "gepland"},
                         headers=h).status_code == 400
        assert one.post("/v1/deployments", json={"planId": plan_id, "ranks": [3]}
                        ).status_code == 404  # public: as if the path did not exist
        assert one.patch("/v1/deployments/12345", json={"status": "geannuleerd"},
                         headers=h).status_code == 404
    with store.engine.connect() as conn:
        actions = [r[0] for r in conn.execute(sa.select(audit_log.c.action).where(
            audit_log.c.action.like("deployment-%")).order_by(audit_log.c.id))]
    assert actions == ["deployment-create", "deployment-geplaatst", "deployment-beëindigd",
                       "deployment-delete", "deployment-create", "deployment-geannuleerd"]
    # a restart: a new app on the same store reads the same plan and deployments
    with TestClient(create_app(settings)) as three:
        again = three.get(f"/v1/collections/recommendations/items?planId={plan_id}", headers=h)
        assert again.json()["features"] == a["features"]
        layer = three.get("/v1/collections/deployments/items?status=beëindigd", headers=h)
        assert [f["id"] for f in layer.json()["features"]] == [str(d1)]


def test_effect_needs_a_placed_deployment(api, store) -> None:  # type: ignore[no-untyped-def]
    settings, keys = api
    plan_id = _save(store)
    (dep,) = service.deployments_from_plan(store, plan_id, [1])
    with TestClient(create_app(settings)) as c:
        r = c.get(f"/v1/deployments/{dep}/effect", headers=_h(keys["analyst"]))
        assert r.status_code == 409 and "pas te meten na plaatsing" in r.json()["detail"]
    place_deployment(store, dep, "2017-06-01")
    frame = list_deployments(store)
    ready = service.effect_ready(frame, pd.Timestamp("2017-06-20", tz="Europe/Amsterdam"))
    assert not ready.any()
    ready = service.effect_ready(frame, pd.Timestamp("2017-07-01", tz="Europe/Amsterdam"))
    assert ready.all()


def test_backup_keeps_plans_and_deployments(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from geoveilig.store.backup import backup, restore

    plan_id = _save(store)
    ids = service.deployments_from_plan(store, plan_id, [1, 2])
    place_deployment(store, ids[0], "2018-03-02")
    out = tmp_path / ("b.sqlite" if store.engine.dialect.name == "sqlite" else "b.zip")
    backup(store, out)
    with Store.sqlite(tmp_path / "restored.sqlite") as target:
        restore(target, out)
        assert get_plan(target, plan_id)["objective"] == pytest.approx(1.83)
        assert len(plan_sites(target, plan_id)) == 4
        got = list_deployments(target).set_index("id")
        assert got.loc[ids[0], "status"] == "geplaatst" and got.loc[ids[1], "plan_rank"] == 2
        # the sequences moved past the restored ids
        more = service.deployments_from_plan(target, plan_id, [3])
        assert more[0] > max(ids)


def test_effect_of_a_plan_deployment_is_judged_against_the_sites_ranked_below(api, store) -> None:  # type: ignore[no-untyped-def]
    """A deployment made from a stored plan is placed by the tool: its controls are the sites
    ranked just below it in that run, without the other sites of the run that were deployed."""
    sites = _sites(5)
    sites = sites.set_geometry([shapely.Point(ANNA[0] + 800 * k, ANNA[1]) for k in range(6)])
    plan_id = save_plan(
        store, kind="alarms", sites=sites, params={"count": 5, "radius": 150.0},
        objective=1.0, objective_unit="verwacht aantal inbraken", bound=1.0, gap=0.0,
        proven=True, solver="greedy", status="ok", total_risk=5.0, summary="5",
        notes=[], requester=Requester("analyst", "key:abc (test)", "abc"), data_version="v1")
    first, second = service.deployments_from_plan(store, plan_id, [1, 2])
    place_deployment(store, first, "2017-06-01")
    est = service.deployment_effect(store, first)
    assert est.placed_by_tool and est.n_control_cells == 3  # ranks 3-5; rank 2 is deployed
    cancel_deployment(store, second)
    assert service.deployment_effect(store, first).n_control_cells == 4  # ranks 2-5
