"""Near-repeat alerts (``geoveilig.alerts``): zones, the outbox written by the import on both
backends, delivery to a real local HTTP receiver that fails first and a real SMTP server, no
personal data in any alert, and the backtest on simulated processes."""

from __future__ import annotations

import json
import re
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from geoveilig.alerts.backtest import alert_backtest
from geoveilig.alerts.delivery import DeliveryConfig, deliver, payload, verify
from geoveilig.alerts.service import grid_of, import_with_alerts, prepare
from geoveilig.alerts.zones import MIN_CELLS, build_zones, estimate_extents, incident_cells
from geoveilig.demo.prevention import demo_prevention_groups
from geoveilig.errors import InvalidInput
from geoveilig.hotspots.simulate import poisson_incidents, self_exciting_incidents
from geoveilig.store.alerts import alerts as alerts_table
from geoveilig.store.alerts import deliveries, list_alerts
from geoveilig.store.prevention import load_demo_registry
from tests.storehelp import parsed

CUT = pd.Timestamp("2018-03-01", tz="Europe/Amsterdam")
SECRET = "test-geheim"


@pytest.fixture(scope="module")
def burglaries(demo_incidents):  # type: ignore[no-untyped-def]
    """Demo woninginbraken with a (fake) address on every row."""
    b = demo_incidents.loc[demo_incidents["crime_type"] == "woninginbraak"].copy()
    b = b.loc[b["occurred_at"] >= pd.Timestamp("2016-01-01", tz="Europe/Amsterdam")]
    b["address"] = [f"Kerkstraat {i % 97 + 1}" for i in range(len(b))]
    return b.reset_index(drop=True)


@pytest.fixture
def loaded(store, areas, burglaries, demo_incidents):  # type: ignore[no-untyped-def]
    """A store with the burglaries before CUT and the demo prevention registry."""
    store.import_incidents(parsed(burglaries.loc[burglaries["occurred_at"] < CUT]),
                           source_name="oud.csv", content_sha256="a")
    load_demo_registry(store, demo_prevention_groups(areas, seed=42, incidents=demo_incidents),
                       source_name="demo", known_buurten=list(areas.buurten["code"]))
    return store


def _new(burglaries):  # type: ignore[no-untyped-def]
    return burglaries.loc[burglaries["occurred_at"] >= CUT].reset_index(drop=True)


# --- zones ------------------------------------------------------------------------------------

def test_zone_is_a_function_of_the_cell_and_never_smaller_than_the_minimum(areas) -> None:
    grid = grid_of(areas)
    i = grid.n_cells // 2
    cx, cy = float(grid.cx[i]), float(grid.cy[i])
    a = incident_cells(grid, cx - 60, cy - 60, 100.0)
    b = incident_cells(grid, cx + 60, cy + 55, 100.0)
    assert np.array_equal(a, b)  # two points in one cell: the same zone
    assert a.size >= MIN_CELLS and i in a
    wide = incident_cells(grid, cx, cy, 300.0)
    assert wide.size > a.size and set(a) <= set(wide)
    assert incident_cells(grid, 0.0, 0.0, 100.0).size == 0  # off the grid


def test_overlapping_zones_merge_and_expired_ones_are_not_news(areas) -> None:
    from geoveilig.alerts.zones import Extent

    grid = grid_of(areas)
    i = grid.n_cells // 2
    x, y = float(grid.cx[i]), float(grid.cy[i])
    t = pd.Timestamp("2018-03-20 14:00", tz="Europe/Amsterdam")
    frame = pd.DataFrame({"crime_type": "woninginbraak", "x": [x, x + 150, x + 3000, x],
                          "y": [y, y, y, y],
                          "occurred_at": [t, t + pd.Timedelta(days=1), t,
                                          t - pd.Timedelta(days=40)]})
    ext = {"woninginbraak": Extent("woninginbraak", 200.0, 14.0, "knox", 100, 2.0)}
    zones = build_zones(frame, ext, grid, as_of=t + pd.Timedelta(days=1))
    assert sorted(z.n_incidents for z in zones) == [1, 2]  # near pair merged; old one dropped
    merged = next(z for z in zones if z.n_incidents == 2)
    assert merged.valid_from == pd.Timestamp("2018-03-20", tz="Europe/Amsterdam")
    # last day 14 days after the later incident (21 March), midnight after it
    assert merged.valid_until == pd.Timestamp("2018-04-05", tz="Europe/Amsterdam")
    assert merged.geometry.area == pytest.approx(len(merged.cells) * 125.0**2)
    # without as_of the newest incident is the moment (here the same as above)
    default = build_zones(frame, ext, grid)
    assert [(z.n_incidents, z.valid_from, z.valid_until) for z in default] == \
        [(z.n_incidents, z.valid_from, z.valid_until) for z in zones]


def test_zone_geometry_is_the_union_of_its_cells(areas) -> None:
    """The coverage union of the cell squares equals the general union on the 1 m grid, for
    a disc, a ring (a hole) and two separate blobs."""
    from geoveilig.alerts.zones import _cell_union

    grid = grid_of(areas)
    geoms = grid.geometries()
    i = grid.n_cells // 2
    cx, cy = float(grid.cx[i]), float(grid.cy[i])
    disc = incident_cells(grid, cx, cy, 300.0)
    ring = np.setdiff1d(incident_cells(grid, cx, cy, 500.0), incident_cells(grid, cx, cy, 150.0))
    blobs = np.union1d(disc, incident_cells(grid, cx + 3000, cy, 200.0))
    for cells in (disc, ring, blobs):
        ours = _cell_union(geoms[cells])
        reference = shapely.union_all(geoms[cells], grid_size=1.0)
        assert shapely.equals_exact(shapely.normalize(ours), shapely.normalize(reference), 0)
        assert ours.area == pytest.approx(len(cells) * 125.0**2)
    assert len(_cell_union(geoms[ring]).interiors) == 1
    assert _cell_union(geoms[blobs]).geom_type == "MultiPolygon"


def test_extent_is_measured_on_a_near_repeat_process_and_falls_back_without_one(areas) -> None:
    poly = shapely.union_all(np.asarray(areas.buurten.geometry.values))
    contagious = self_exciting_incidents(poly, 500, days=730, offspring_mean=0.6, sigma_m=60,
                                         decay_days=5, hotspots=0, hotspot_share=0.0, seed=3)
    flat = poisson_incidents(poly, 800, days=730, seed=3)
    end = pd.Timestamp("2018-01-01", tz="Europe/Amsterdam")
    found = estimate_extents(contagious, end)["woninginbraak"]
    assert found.source == "knox" and found.knox_ratio > 1.5 and found.distance_m <= 300
    none = estimate_extents(flat, end)["woninginbraak"]
    assert (none.source, none.distance_m, none.days) == ("standaard", 200.0, 14.0)
    other = estimate_extents(flat.assign(crime_type="inbraak-bedrijf"), end,
                             crime_types=("inbraak-bedrijf",))
    assert other == {}  # no pattern, not always alerted: no alerts for that type


# --- the outbox in the import transaction -----------------------------------------------------

def test_import_writes_alerts_in_its_transaction(loaded, areas, burglaries) -> None:
    store = loaded
    before = store.time_range()
    summary, hook = import_with_alerts(store, areas, parsed(_new(burglaries)),
                                       source_name="nieuw.csv", content_sha256="b")
    # prepare ran beside the import's writes and saw the store as it was before the import
    assert before is not None and hook.stored_until == before[1] < store.time_range()[1]
    assert summary.accepted == len(_new(burglaries))
    stored = list_alerts(store)
    assert len(stored) == len(hook.alert_ids) > 0
    assert set(stored["batch_id"]) == {summary.batch_id}
    assert (stored["status"] == "pending").all()
    assert stored["group_ids"].map(len).sum() > 0  # groups whose area meets a zone
    assert all(len(c) >= MIN_CELLS for c in stored["cells"])
    first = stored.iloc[-1]
    assert first["message"].startswith("In uw buurt is het risico op woninginbraak de komende")
    assert "witte-voetenactie" in first["action"]
    # re-importing the same file adds nothing and no alert
    again, hook2 = import_with_alerts(store, areas, parsed(_new(burglaries)),
                                      source_name="nieuw.csv", content_sha256="b")
    assert again.accepted == 0 and hook2.alert_ids == [] and len(list_alerts(store)) == len(stored)
    # the summary says what the near-repeat check covered
    assert (hook.news_rows, hook.history_rows) == (len(_new(burglaries)), 0)
    assert hook.checked().startswith(f"Near-repeatcontrole: {len(_new(burglaries))} recente "
                                     "incident(en) vanaf ")
    assert "meldingen voor: woninginbraak" in hook.checked()
    assert hook2.checked() == "Near-repeatcontrole: geen nieuwe incidenten."


def test_a_failing_outbox_rolls_the_import_back(loaded, areas, burglaries) -> None:
    store = loaded
    before = store.count_incidents()
    new = parsed(_new(burglaries))
    hook = prepare(store, areas, new.frame)

    def broken(conn, rows, batch_id):  # type: ignore[no-untyped-def]
        hook(conn, rows, batch_id)  # the alerts are written ...
        assert hook.alert_ids
        raise InvalidInput("bezorgwachtrij vol")  # ... and then the transaction fails

    with pytest.raises(InvalidInput):
        store.import_incidents(new, source_name="nieuw.csv", content_sha256="b",
                               on_import=broken)
    assert store.count_incidents() == before
    assert list_alerts(store).empty


# --- delivery ----------------------------------------------------------------------------------

class _Receiver:
    """A real HTTP server on 127.0.0.1 answering with scripted status codes."""

    def __init__(self, script: list[int]) -> None:
        self.script = list(script)
        self.requests: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((dict(self.headers), body))
                code = outer.script.pop(0) if outer.script else 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_delivery_retries_with_backoff_signs_and_logs(loaded, areas, burglaries) -> None:
    store = loaded
    _, hook = import_with_alerts(store, areas, parsed(_new(burglaries)),
                                 source_name="nieuw.csv", content_sha256="b")
    n = len(hook.alert_ids)
    slept: list[float] = []
    with _Receiver([503, 500]) as rx:  # the first two attempts fail
        config = DeliveryConfig(webhooks=(rx.url,), secret=SECRET, max_attempts=4,
                                backoff_s=0.5)
        report = deliver(store, config, sleep=slept.append)
        assert sorted(report.delivered) == sorted(hook.alert_ids) and not report.failed
        assert report.attempts == n + 2
        assert slept == [0.5, 1.0]  # exponential backoff between the attempts
        first_key = rx.requests[0][0]["Idempotency-Key"]
        assert [h["Idempotency-Key"] for h, _ in rx.requests[:3]] == [first_key] * 3
        for headers, body in rx.requests:
            assert verify(body, SECRET, headers["X-Geoveilig-Signature"])
            assert not verify(body, "ander-geheim", headers["X-Geoveilig-Signature"])
            data = json.loads(body)
            assert data["zone"]["type"] in ("Polygon", "MultiPolygon")
        log = deliveries(store)
        assert len(log) == n + 2 and log["ok"].sum() == n
        assert list(log.loc[log["idempotency_key"] == first_key, "attempt"]) == [1, 2, 3]
        assert (list_alerts(store)["status"] == "delivered").all()
        # nothing is sent twice; a resend (force) sends again with the same key
        assert deliver(store, config, sleep=slept.append).attempts == 0
        aid = hook.alert_ids[0]
        again = deliver(store, config, ids=[aid], force=True, sleep=slept.append)
        assert again.delivered == [aid]
        assert rx.requests[-1][0]["Idempotency-Key"] == list_alerts(
            store, ids=[aid])["alert_key"].iloc[0]
    with _Receiver([400]) as bad:  # a final 4xx: no retry, status failed
        config = DeliveryConfig(webhooks=(bad.url,), secret=SECRET, backoff_s=0.01)
        report = deliver(store, config, ids=[aid], sleep=slept.append)
        assert report.failed == [aid] and len(bad.requests) == 1
        assert list_alerts(store, ids=[aid])["status"].iloc[0] == "failed"


def test_webhooks_need_a_secret() -> None:
    with pytest.raises(InvalidInput, match="geheim"):
        DeliveryConfig(webhooks=("http://127.0.0.1:9/x",))


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) for smtplib: EHLO/HELO, MAIL, RCPT, DATA, QUIT."""

    def handle(self) -> None:
        self.wfile.write(b"220 test ESMTP\r\n")
        data: list[bytes] = []
        reading = False
        for line in self.rfile:
            if reading:
                if line in (b".\r\n", b".\n"):
                    reading = False
                    self.server.messages.append(b"".join(data))  # type: ignore[attr-defined]
                    self.wfile.write(b"250 OK\r\n")
                else:
                    data.append(line)
                continue
            cmd = line[:4].upper()
            if cmd == b"DATA":
                reading, data = True, []
                self.wfile.write(b"354 go ahead\r\n")
            elif cmd == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 OK\r\n")


@pytest.fixture
def smtp_server() -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.messages = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_email_through_smtp(loaded, areas, burglaries, smtp_server) -> None:
    store = loaded
    _, hook = import_with_alerts(store, areas, parsed(_new(burglaries)),
                                 source_name="nieuw.csv", content_sha256="b")
    config = DeliveryConfig(smtp_host="127.0.0.1", smtp_port=smtp_server.server_address[1],
                            mail_to=("preventie@example.org",))
    report = deliver(store, config)
    assert sorted(report.delivered) == sorted(hook.alert_ids)
    mails = smtp_server.messages  # type: ignore[attr-defined]
    assert len(mails) == len(hook.alert_ids)
    text = mails[0].decode()
    assert "Subject: Verhoogd risico: woninginbraken tot en met" in text
    assert "Kerkstraat" not in text


# --- privacy ------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["sqlite"])
def test_no_alert_contains_an_address_or_an_exact_point(loaded, areas, burglaries) -> None:
    store = loaded
    new = _new(burglaries)
    import_with_alerts(store, areas, parsed(new), source_name="nieuw.csv", content_sha256="b")
    with store.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(alerts_table)).all()]
    assert rows
    stored = list_alerts(store)
    texts = [json.dumps(payload(a), ensure_ascii=False) for _, a in stored.iterrows()]
    texts += [json.dumps(r, default=str, ensure_ascii=False) for r in rows]
    blob = "\n".join(texts)
    assert "Kerkstraat" not in blob and "straat" not in blob.lower()
    for inc_id in new["incident_id"]:
        assert str(inc_id) not in blob
    numbers = {float(v) for v in re.findall(r"\d+\.\d+|\d{5,}", blob)}
    for x, y in zip(new["x"], new["y"], strict=True):  # no coordinate of an incident
        assert round(x, 1) not in numbers and round(y, 1) not in numbers
    grid = grid_of(areas)
    edges = set(np.round(grid.cx - 62.5)) | set(np.round(grid.cy - 62.5)) | \
        set(np.round(grid.cx + 62.5)) | set(np.round(grid.cy + 62.5))
    for geom in stored.geometry:  # zone vertices are cell corners only
        xy = shapely.get_coordinates(geom)
        assert set(np.round(xy[:, 0])) <= edges and set(np.round(xy[:, 1])) <= edges
    for text in stored["message"]:
        assert not re.search(r"\d{1,2}:\d{2}", text)  # no time of day


# --- backtest ------------------------------------------------------------------------------------

def test_alert_backtest_beats_chance_only_with_near_repeat(areas) -> None:
    poly = shapely.union_all(np.asarray(areas.buurten.geometry.values))
    grid = grid_of(areas)
    contagious = self_exciting_incidents(poly, 450, start="2014-01-01", days=3 * 365,
                                         offspring_mean=0.6, sigma_m=60, decay_days=5,
                                         hotspots=0, hotspot_share=0.0, seed=11)
    flat = poisson_incidents(poly, 3000, start="2014-01-01", days=3 * 365, seed=11)
    near = alert_backtest(contagious, grid, years=[2016], permutations=39)
    rand = alert_backtest(flat, grid, years=[2016], permutations=39)
    k = near.per_year.set_index("rule")
    assert k.loc["knox", "source"] == "knox"
    assert k.loc["knox", "pai"] > 3 and k.loc["naive", "pai"] > 3
    r = rand.per_year.set_index("rule")
    assert r.loc["knox", "source"] == "standaard"
    assert 0.75 < r.loc["naive", "pai"] < 1.3  # no near-repeat: alerts are no better than chance
    assert (near.per_year["area_time_share"] > 0).all()


def test_a_load_of_old_history_raises_no_alerts_and_measures_nothing(loaded, areas,  # type: ignore[no-untyped-def]
                                                                     burglaries) -> None:
    """Incidents long before the newest stored one are history, not news: a bulk load of
    earlier years writes no alerts and runs no Knox test on them (bounded time and memory)."""
    old = burglaries.loc[burglaries["occurred_at"] < pd.Timestamp(
        "2016-07-01", tz="Europe/Amsterdam")].copy()
    old["incident_id"] = "OUD-" + old["incident_id"].astype(str)
    hook = prepare(loaded, areas, parsed(old).frame)
    assert hook.extents == {}
    summary, hook = import_with_alerts(loaded, areas, parsed(old), source_name="archief.csv",
                                       content_sha256="c")
    assert summary.accepted == len(old) and hook.alert_ids == []
    assert list_alerts(loaded).empty
    # not skipped silently: the summary counts them as history
    assert (hook.news_rows, hook.history_rows) == (0, len(old))
    assert hook.checked() == (f"Near-repeatcontrole: geen recente incidenten; {len(old)} oudere "
                              "incident(en) (meer dan 90 dagen voor het nieuwste) alleen "
                              "opgeslagen als geschiedenis.")


def test_an_in_memory_store_prepares_the_alerts_before_the_import(areas, burglaries,  # type: ignore[no-untyped-def]
                                                                 tmp_path) -> None:
    """SQLite in memory has one connection per thread (each its own empty database): the
    alerts are prepared on the import's thread there, with the same result as in a file,
    where they are prepared beside the import and their zones computed while the rows are
    written (``on_rows``)."""
    from geoveilig.store import Store

    results = []
    for url in ("sqlite://", f"sqlite:///{tmp_path / 'bestand.sqlite'}"):
        store = Store(url)
        try:
            store.import_incidents(parsed(burglaries.loc[burglaries["occurred_at"] < CUT]),
                                   source_name="oud.csv", content_sha256="a")
            summary, hook = import_with_alerts(store, areas, parsed(_new(burglaries)),
                                               source_name="nieuw.csv", content_sha256="b")
            assert summary.accepted == len(_new(burglaries))
            assert len(hook.alert_ids) > 0 and len(list_alerts(store)) == len(hook.alert_ids)
            assert hook.news_rows == len(_new(burglaries))
            results.append(([a.record() for a in hook.alerts], hook.checked()))
        finally:
            store.close()
    assert results[0] == results[1]
