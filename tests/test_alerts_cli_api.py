"""Alerts and witte-voetenacties at the edges: ``geoveilig import`` writes and delivers alerts
(to a local receiver that fails first), ``geoveilig alerts list|show|resend``, ``geoveilig
recommend witte-voeten`` (saved as deployments), and the API: the witte-voeten planner and the
``alerts`` (analyst) / ``alerts-buurten`` (public) collections."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from geoveilig.api import create_app
from geoveilig.cli import app
from geoveilig.demo import to_csv
from geoveilig.demo.prevention import demo_prevention_groups
from geoveilig.settings import Settings
from geoveilig.store import Store
from geoveilig.store.alerts import list_alerts
from geoveilig.store.deployments import list_deployments
from geoveilig.store.keys import create_key
from geoveilig.store.prevention import load_demo_registry
from tests.storehelp import parsed
from tests.test_alerts import SECRET, _Receiver

CUT = pd.Timestamp("2018-03-10", tz="Europe/Amsterdam")


@pytest.fixture(scope="module")
def env(tmp_path_factory, shared_geo, areas, demo_incidents):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("alerts")
    inc = demo_incidents.loc[
        demo_incidents["crime_type"].isin(["woninginbraak", "inbraak-schuur-garage"])
        & (demo_incidents["occurred_at"] >= pd.Timestamp("2016-01-01", tz="Europe/Amsterdam"))]
    store = Store.sqlite(tmp / "geoveilig.sqlite")
    try:
        store.import_incidents(parsed(inc.loc[inc["occurred_at"] < CUT]),
                               source_name="oud.csv", content_sha256="a", synthetic=True)
        load_demo_registry(store, demo_prevention_groups(areas, seed=42,
                                                         incidents=demo_incidents),
                           source_name="demo", known_buurten=list(areas.buurten["code"]))
        keys = {role: create_key(store, f"t-{role}", role)[1] for role in ("analyst",)}
    finally:
        store.close()
    csv = to_csv(inc.loc[inc["occurred_at"] >= CUT], tmp / "nieuw.csv")
    return {"tmp": tmp, "csv": csv, "keys": keys, "geo": shared_geo,
            "env": {"GEOVEILIG_DATA_DIR": str(tmp), "GEOVEILIG_GEO_DIR": str(shared_geo)}}


@pytest.fixture(scope="module")
def imported(env):  # type: ignore[no-untyped-def]
    """``geoveilig import`` of the new burglaries with a webhook that fails twice."""
    runner = CliRunner()
    with _Receiver([503, 502]) as rx:
        res = runner.invoke(app, ["import", str(env["csv"])], env={
            **env["env"], "GEOVEILIG_ALERTS_WEBHOOKS": rx.url, "GEOVEILIG_ALERTS_SECRET": SECRET,
            "GEOVEILIG_ALERTS_BACKOFF_S": "0.01"})
        requests = list(rx.requests)
    assert res.exit_code == 0, res.output
    return runner, res.output, requests


def _store(env) -> Store:  # type: ignore[no-untyped-def]
    return Store.sqlite(env["tmp"] / "geoveilig.sqlite")


def test_import_writes_and_delivers_alerts(env, imported) -> None:
    _, output, requests = imported
    store = _store(env)
    try:
        alerts = list_alerts(store)
    finally:
        store.close()
    assert len(alerts) > 0
    assert f"{len(alerts)} nieuwe melding(en)" in output
    assert f"{len(alerts)} melding(en) afgeleverd, 0 mislukt ({len(alerts) + 2} pogingen)" \
        in output
    assert len(requests) == len(alerts) + 2
    assert (alerts["status"] == "delivered").all()


def test_alerts_list_show_resend(env, imported) -> None:
    runner = imported[0]
    res = runner.invoke(app, ["alerts", "list"], env=env["env"])
    assert res.exit_code == 0, res.output
    assert "Woninginbraken" in res.output and "verstuurd" in res.output  # Dutch (cli.tables)
    store = _store(env)
    try:
        aid = int(list_alerts(store)["id"].iloc[0])
    finally:
        store.close()
    res = runner.invoke(app, ["alerts", "show", str(aid)], env=env["env"])
    assert res.exit_code == 0, res.output
    assert "In uw buurt is het risico op" in res.output
    assert "poging 1: mislukt (HTTP 50" in res.output or "poging 1: ok" in res.output
    with _Receiver([]) as rx:
        res = runner.invoke(app, ["alerts", "resend", str(aid)], env={
            **env["env"], "GEOVEILIG_ALERTS_WEBHOOKS": rx.url, "GEOVEILIG_ALERTS_SECRET": SECRET})
        assert res.exit_code == 0, res.output
        assert "1 melding(en) afgeleverd" in res.output and len(rx.requests) == 1
    res = runner.invoke(app, ["alerts", "show", "99999"], env=env["env"])
    assert res.exit_code == 1 and "bestaat niet" in res.output and "Traceback" not in res.output


def test_recommend_witte_voeten_cli_saves_deployments(env, imported) -> None:
    runner = imported[0]
    out = env["tmp"] / "wv.geojson"
    store = _store(env)
    try:
        before = len(list_deployments(store, kinds=["witte-voeten"]))
    finally:
        store.close()
    res = runner.invoke(app, ["recommend", "witte-voeten", "--count", "3", "--save",
                              "--out", str(out)], env=env["env"])
    assert res.exit_code == 0, res.output
    assert "Witte-voetenacties op" in res.output and "peildatum" in res.output
    fc = json.loads(out.read_text())
    props = [f["properties"] for f in fc["features"]]
    assert 1 <= len(props) <= 3
    assert [p["rank"] for p in props] == list(range(1, len(props) + 1))
    prevented = [p["expected_prevented"] for p in props]
    assert prevented == sorted(prevented, reverse=True) and prevented[0] > 0
    assert all(p["team_ids"].startswith("DEMO-BPT") for p in props)
    store = _store(env)
    try:
        saved = list_deployments(store, kinds=["witte-voeten"])
    finally:
        store.close()
    assert len(saved) == before + len(props)
    assert (saved["end"] > saved["start"]).all()
    res = runner.invoke(app, ["recommend", "witte-voeten", "--count", "0"], env=env["env"])
    assert res.exit_code == 1 and "count" in res.output


@pytest.fixture(scope="module")
def client(env, imported):  # type: ignore[no-untyped-def]
    with TestClient(create_app(Settings(data_dir=env["tmp"], geo_dir=env["geo"]))) as c:
        yield c


def test_api_witte_voeten_planner(client, env) -> None:
    h = {"Authorization": f"Bearer {env['keys']['analyst']}"}
    r = client.post("/v1/recommendations/witte-voeten", json={"count": 2, "date": "2018-03-25"},
                    headers=h)
    assert r.status_code == 200, r.text
    fc = r.json()
    assert fc["summary"]["date"] == "2018-03-25" and fc["summary"]["deploymentIds"] == []
    assert 1 <= len(fc["features"]) <= 2
    lon, lat = fc["features"][0]["geometry"]["coordinates"][0][0]
    assert 5.5 < lon < 5.8 and 51.4 < lat < 51.55
    assert client.post("/v1/recommendations/witte-voeten", json={"count": 2}).status_code == 404
    saved = client.post("/v1/recommendations/witte-voeten",
                        json={"count": 1, "date": "2018-03-26", "save": True}, headers=h)
    assert saved.status_code == 200, saved.text
    ids = saved.json()["summary"]["deploymentIds"]
    assert len(ids) == 1
    store = _store(env)
    try:
        dep = list_deployments(store, kinds=["witte-voeten"])
    finally:
        store.close()
    row = dep.loc[dep["id"] == ids[0]].iloc[0]
    assert row["start"].date().isoformat() == "2018-03-26" and row["source"].startswith("melding")
    bad = client.post("/v1/recommendations/witte-voeten", json={"count": 0}, headers=h)
    assert bad.status_code == 400 and bad.headers["content-type"].startswith(
        "application/problem+json")


def test_api_alert_collections_by_role(client, env) -> None:
    h = {"Authorization": f"Bearer {env['keys']['analyst']}"}
    r = client.get("/v1/collections/alerts/items", headers=h)
    assert r.status_code == 200, r.text
    props = [f["properties"] for f in r.json()["features"]]
    assert props and all(p["group_ids"] or p["buurten"] for p in props)
    assert client.get("/v1/collections/alerts/items").status_code == 404  # public: missing
    pub = client.get("/v1/collections/alerts-buurten/items", params={"limit": 100})
    assert pub.status_code == 200, pub.text
    rows = [f["properties"] for f in pub.json()["features"]]
    assert any(p["verhoogd_risico"] for p in rows)
    assert set(rows[0]) >= {"code", "verhoogd_risico", "valid_through", "crime_types"}
    # no counts for the public: a count per buurt and day is not a fixed period of the
    # disclosure control (docs/privacy.md); no zone, group or message either
    assert not {"incidents", "group_ids", "message"} & set(rows[0])


def test_alerts_backtest_cli(env, imported) -> None:
    runner = imported[0]
    res = runner.invoke(app, ["alerts", "backtest"], env=env["env"])
    assert res.exit_code == 0, res.output
    # both rules, the PAI, and the load on the prevention groups, in Dutch (cli.tables)
    assert "Knox" in res.output and "vast (200 m / 14 dagen)" in res.output
    assert "PAI" in res.output and "groepsmaanden" in res.output
    res = runner.invoke(app, ["alerts", "list", "--status", "onbekend"], env=env["env"])
    assert res.exit_code == 1 and "onbekende status" in res.output
