"""The planning map in a real browser: Debian's Chromium driven by Playwright, against the
service started in its own process on 127.0.0.1. Screenshots go to ``artifacts/`` (not
committed). The base map is switched off (no internet here): the page must then load with no
console error at all."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api_support import build_store, running_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def _chromium() -> str:
    path = os.environ.get("GEOVEILIG_CHROMIUM") or shutil.which("chromium") or \
        shutil.which("chromium-browser")
    if not path:
        pytest.fail("Chromium not found: install the Debian package 'chromium' (.ci/run does)")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory, shared_geo, areas, demo_incidents) -> Iterator[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("webmap")
    _settings, keys = build_store(tmp, shared_geo, areas, demo_incidents)
    with running_server(tmp, shared_geo, GEOVEILIG_BASEMAP_URL="") as base:
        yield base, keys


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Page:
    """A fresh browser context and page that records console errors and requests."""

    def __init__(self, browser, base: str) -> None:  # type: ignore[no-untyped-def]
        self.context = browser.new_context(viewport={"width": 1280, "height": 860},
                                           accept_downloads=True)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.base = base

    def open(self) -> None:
        self.page.goto(f"{self.base}/kaart")
        self.page.wait_for_selector("body[data-loaded-wijken]", timeout=30_000)

    def overlays(self) -> list[str]:
        return [t.strip() for t in self.page.locator(
            ".leaflet-control-layers-overlays label").all_inner_texts()]

    def toggle(self, name: str) -> None:
        self.page.locator(".leaflet-control-layers-overlays label", has_text=name) \
            .locator("input").click()

    def login(self, key: str) -> None:
        self.page.fill("#api-key", key)
        self.page.click("#login-form button[type=submit]")

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"kaart-{name}.png"))

    def close(self) -> None:
        self.context.close()


def test_public_page_loads_layers_toggle_and_legend(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, _keys = server
    p = Page(browser, base)
    try:
        p.open()
        assert p.page.title() == "geoveilig – planningskaart"
        assert p.page.locator("#role-label").inner_text() == "Publiek"
        overlays = p.overlays()
        assert "Misdrijven per wijk" in overlays and "Dekking preventiegroepen" in overlays
        assert not any("Incidenten" in o or o == "Preventiegroepen" for o in overlays)
        # wijken are drawn (12 polygons as SVG paths) and the legend shows their classes
        assert int(p.page.get_attribute("body", "data-loaded-wijken")) == 12
        legend = p.page.locator(".legend")
        assert "Misdrijven per wijk" in legend.inner_text()
        # toggle a layer on: it loads and gets a legend; off: the legend goes
        p.toggle("Dekking preventiegroepen")
        p.page.wait_for_selector("body[data-loaded-prevention-coverage]", timeout=30_000)
        p.page.wait_for_selector('[data-legend="prevention-coverage"]')
        p.toggle("Dekking preventiegroepen")
        p.page.wait_for_selector('[data-legend="prevention-coverage"]', state="detached")
        assert p.page.locator("#planning").is_hidden()
        assert "SYNTHETISCHE" in p.page.locator("#source-note").inner_text()
        p.shot("publiek")
        assert p.errors == []  # no console error while loading and toggling
        # the page asked for no incident points, and the API refuses them to this caller
        assert not any("/collections/incidents" in u for u in p.requests)
        assert not any(u.startswith(("http://tile", "https://")) for u in p.requests)
        status = p.page.evaluate(
            "fetch('/v1/collections/incidents/items').then(r => r.status)")
        assert status == 404
    finally:
        p.close()


def test_analyst_logs_in_and_plans_alarms(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, keys = server
    p = Page(browser, base)
    try:
        p.open()
        p.login(keys["analyst"])
        p.page.wait_for_selector("body[data-role='Gemeente (analist)']", timeout=30_000)
        assert keys["analyst"] not in p.page.url
        assert p.page.evaluate("sessionStorage.getItem('geoveilig.apiKey')") == keys["analyst"]
        assert "Preventiegroepen" in p.overlays()
        assert "Incidenten (politie)" not in p.overlays()
        # request a plan for 3 alarm systems: progress, then sites on the map and in the list
        p.page.select_option("#plan-kind", "alarms")
        p.page.fill("#plan-count", "3")
        p.page.click("#plan-submit")
        p.page.wait_for_selector("body[data-plan-sites]", timeout=120_000)
        n = int(p.page.get_attribute("body", "data-plan-sites"))
        assert n >= 3
        assert p.page.locator(".site-marker").count() == n
        assert p.page.locator("#plan-sites li").count() == n
        summary = p.page.locator("#plan-summary").inner_text()
        assert "3 nieuwe plaatsen" in summary
        assert "verwacht aantal inbraken binnen 150 m in de komende 4 weken" in summary
        assert p.page.locator("#plan-keep").is_checked()  # the one default (KEEP_EXISTING)
        with p.page.expect_download() as dl:
            p.page.click("#download-geojson")
        data = json.loads(Path(dl.value.path()).read_text(encoding="utf-8"))
        assert data["type"] == "FeatureCollection" and len(data["features"]) == n
        with p.page.expect_download() as dl:
            p.page.click("#download-csv")
        lines = Path(dl.value.path()).read_text(encoding="utf-8").strip().splitlines()
        assert len(lines) == n + 1 and "rank" in lines[0]
        p.shot("analist-alarmen")
        # a bad request shows a clear message instead of failing silently
        p.page.fill("#plan-count", "0")
        p.page.evaluate("document.getElementById('plan-count').removeAttribute('min')")
        p.page.click("#plan-submit")
        p.page.wait_for_selector("#message:not([hidden])", timeout=30_000)
        assert "Advies niet gelukt" in p.page.locator("#message").inner_text()
        console = [e for e in p.errors if "400" not in e]  # the refused request itself
        assert console == []
    finally:
        p.close()


def test_police_sees_incidents_and_wrong_key_is_refused(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, keys = server
    p = Page(browser, base)
    try:
        p.open()
        p.login("geen-geldige-sleutel")
        p.page.wait_for_selector("#message:not([hidden])", timeout=30_000)
        assert "Onbekende of ingetrokken API-sleutel" in p.page.locator("#message").inner_text()
        assert p.page.locator("#role-label").inner_text() == "Publiek"
        p.login(keys["police"])
        p.page.wait_for_selector("body[data-role='Politie']", timeout=30_000)
        assert "Incidenten (politie)" in p.overlays()
        p.toggle("Incidenten (politie)")
        p.page.wait_for_selector("body[data-loaded-incidents]", timeout=30_000)
        assert int(p.page.get_attribute("body", "data-loaded-incidents")) > 0
        p.shot("politie-incidenten")
        p.page.click("#logout")
        p.page.wait_for_selector("body[data-role='Publiek']", timeout=30_000)
        assert "Incidenten (politie)" not in p.overlays()
    finally:
        p.close()


def test_api_html_renders_offline_from_vendored_assets(server, browser) -> None:  # type: ignore[no-untyped-def]
    """/v1/api.html works offline: Swagger UI is vendored in the package, so the page renders
    the OpenAPI document with every request to another host refused."""
    base, _keys = server
    context = browser.new_context()
    page = context.new_page()
    requests: list[str] = []
    outside: list[str] = []

    def route(r):  # type: ignore[no-untyped-def]
        url = r.request.url
        requests.append(url)
        if url.startswith(base):
            r.continue_()
        else:
            outside.append(url)
            r.abort()

    try:
        page.route("**/*", route)
        page.goto(f"{base}/v1/api.html")
        page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
        assert "geoveilig" in page.locator(".swagger-ui .info .title").inner_text()
        # the operations of the document are listed (OGC landing page, collections)
        page.wait_for_selector(".opblock", timeout=30_000)
        assert page.locator(".opblock").count() > 5
        assert outside == []
        assert any(re.search(r"/static/vendor/swagger-ui/swagger-ui-bundle\.js$", u)
                   for u in requests)
    finally:
        context.close()


def test_cycle_plan_save_place_end_evaluate(server, browser) -> None:  # type: ignore[no-untyped-def]
    """The whole cycle on the map: plan, save the chosen sites as planned deployments, mark one
    as placed on a date, end it, and open its effect evaluation."""
    base, keys = server
    p = Page(browser, base)
    try:
        p.open()
        p.login(keys["analyst"])
        p.page.wait_for_selector("body[data-role='Gemeente (analist)']", timeout=30_000)
        p.page.select_option("#plan-kind", "cameras")
        p.page.fill("#plan-count", "2")
        p.page.click("#plan-submit")
        p.page.wait_for_selector("body[data-plan-id]", timeout=120_000)
        plan_id = p.page.get_attribute("body", "data-plan-id")
        assert p.page.locator("#plan-sites input.site-select").count() == 2
        p.page.locator("#plan-sites input.site-select").nth(1).uncheck()  # choose one site
        p.page.click("#plan-save")
        item = p.page.locator("#deployment-list li[data-status='gepland']")
        item.first.wait_for(timeout=30_000)
        assert item.count() == 1
        assert f"plan {plan_id}, rang 1" in item.first.inner_text()
        assert f"Plan {plan_id} opgeslagen: 1 geplande inzet" in \
            p.page.locator("#message").inner_text()
        # placed on a date (in the past, so the data reach far enough to evaluate)
        item.first.locator("input.dep-date").fill("2017-06-01")
        item.first.locator("[data-dep-action=place]").click()
        placed = p.page.locator("#deployment-list li[data-status='geplaatst']")
        placed.first.wait_for(timeout=30_000)
        assert "sinds 2017-06-01" in placed.first.inner_text()
        placed.first.locator("input.dep-date").fill("2017-10-01")
        placed.first.locator("[data-dep-action=end]").click()
        ended = p.page.locator("#deployment-list li[data-status='beëindigd']")
        ended.first.wait_for(timeout=30_000)
        assert "tot 2017-10-01" in ended.first.inner_text()
        # the evaluation link appears once enough data follow the start
        ended.first.locator("[data-dep-action=effect]").click()
        p.page.wait_for_selector("body[data-effect]", timeout=120_000)
        effect = p.page.locator("#effect-result").inner_text()
        assert p.page.get_attribute("body", "data-effect") != "fout", effect
        assert "95%-interval" in effect and "controlecellen" in effect
        # the map layer shows the same registry, coloured by status
        p.toggle("Inzet (gepland, geplaatst, beëindigd)")
        p.page.wait_for_selector('[data-legend="deployments"]')
        assert "beëindigd" in p.page.locator('[data-legend="deployments"]').inner_text()
        p.shot("inzetcyclus")
        assert p.errors == []
    finally:
        p.close()
