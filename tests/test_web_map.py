"""The planning map in a real browser: Debian's Chromium driven by Playwright, against the
service started in its own process on 127.0.0.1. Screenshots go to ``artifacts/`` (not
committed; ``GEOVEILIG_DOCS_IMG=docs/img`` writes the documentation's screenshots instead, see
``docs/screenshots.py``). The base map is the configured PDOK one, and every request to another
host is refused (no internet in CI): the page must fall back to the outlines and load with no
other console error."""

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
    with running_server(tmp, shared_geo) as base:  # the default base map: PDOK (blocked)
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
    """A fresh browser context and page that records console errors and requests, and refuses
    every request to another host (as without internet)."""

    def __init__(self, browser, base: str) -> None:  # type: ignore[no-untyped-def]
        self.context = browser.new_context(viewport={"width": 1280, "height": 860},
                                           accept_downloads=True)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.outside: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.route("**/*", self._route)
        self.base = base

    def _route(self, r) -> None:  # type: ignore[no-untyped-def]
        if r.request.url.startswith((self.base, "file:")):
            r.continue_()
        else:
            self.outside.append(r.request.url)
            r.abort()

    def _console(self, m) -> None:  # type: ignore[no-untyped-def]
        if m.type != "error":
            return
        url = (m.location or {}).get("url", "")
        if url and not url.startswith(self.base) and "ERR_FAILED" in m.text:
            return  # a refused request to another host (the base map): expected offline
        self.errors.append(m.text)

    def open(self) -> None:
        self.page.goto(f"{self.base}/kaart")
        self.page.wait_for_selector("body[data-loaded-wijken]", timeout=30_000)

    def overlays(self) -> list[str]:
        """The layer choices offered (colour maps and overlays)."""
        return [t.strip() for t in self.page.locator(
            "#choropleths label, #overlays label").all_inner_texts()]

    def toggle(self, name: str) -> None:
        self.page.locator("#layer-choice label", has_text=name).locator("input").click()

    def login(self, key: str) -> None:
        self.page.fill("#api-key", key)
        self.page.click("#login-form button[type=submit]")

    def shot(self, name: str, docs: bool = False, **kw: object) -> None:
        """A screenshot in ``artifacts/``; ``docs``: also in the documentation's images when
        ``GEOVEILIG_DOCS_IMG`` names their folder (``docs/screenshots.py``)."""
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"kaart-{name}.png"), **kw)  # type: ignore[arg-type]
        target = os.environ.get("GEOVEILIG_DOCS_IMG")
        if docs and target:
            Path(target).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(target) / f"kaart-{name}.png"), **kw)  # type: ignore[arg-type]

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
        assert "Misdrijven per wijk: High Impact Crimes, 2017" in legend.inner_text()
        # the colour maps are exclusive: choosing one switches the other off; off: no legend
        p.toggle("Dekking preventiegroepen")
        p.page.wait_for_selector("body[data-loaded-prevention-coverage]", timeout=30_000)
        p.page.wait_for_selector('[data-legend="prevention-coverage"]')
        p.page.wait_for_selector('[data-legend="wijken"]', state="detached")
        assert "%" in p.page.locator('[data-legend="prevention-coverage"]').inner_text()
        p.toggle("geen kleurkaart")
        p.page.wait_for_selector('[data-legend="prevention-coverage"]', state="detached")
        assert p.page.locator("#choropleths input:checked").count() == 1
        p.toggle("Misdrijven per wijk")
        p.page.wait_for_selector('[data-legend="wijken"]')
        assert p.page.locator("#planning").is_hidden()
        assert "SYNTHETISCHE" in p.page.locator("#source-note").inner_text()
        # offline: the PDOK base map was asked for, refused, and the outlines stand alone,
        # with the wijk names as labels
        p.page.wait_for_selector("body[data-basemap='grenzen']", timeout=30_000)
        assert any("service.pdok.nl/brt/achtergrondkaart" in u for u in p.outside)
        assert "alleen de grenzen" in p.page.locator("#message").inner_text()
        assert p.page.locator(".wijk-name").count() == 12
        assert "Binnenstad" in p.page.locator(".wijk-name").all_inner_texts()
        p.shot("publiek", docs=True)
        assert p.errors == []  # no console error while loading and toggling
        # the page asked for no incident points, and the API refuses them to this caller
        assert not any("/collections/incidents" in u for u in p.requests)
        assert all(u.startswith("https://service.pdok.nl/") for u in p.outside)
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
        # a site's popup, opened with the keyboard, speaks Dutch too
        p.page.locator(".site-marker").first.focus()
        p.page.keyboard.press("Enter")
        p.page.wait_for_selector(".leaflet-popup-content", timeout=10_000)
        _scan(p.page.locator(".leaflet-popup-content").inner_text(), "plan site popup")
        assert p.page.get_attribute("body", "data-unlabelled") is None
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


# --- issue 20/22: a map a planner reads at a glance ----------------------------------------------

#: what must never reach a user's eyes: internal identifiers (any snake_case name such as
#: cell_id, gi_p, period_start, crime_type_label, area_km2), English classes, JavaScript and
#: JSON leftovers
INTERNAL = re.compile(r"\b[a-z]+_[a-z0-9_]+\b|\b(undefined|NaN|null|true|false|"
                      r"not-significant|hot|cold)\b|Gi\* not")


def _slugs() -> list[str]:
    from geoveilig import crimetypes

    return [s for s in crimetypes.SLUGS if "-" in s] + ["hic", "woninginbraak"]


def _scan(text: str, where: str) -> None:
    bad = INTERNAL.findall(text)
    assert not bad, f"{where}: internal names {bad} in {text!r}"
    for slug in _slugs():
        assert not re.search(rf"(?<![\w-]){re.escape(slug)}(?![\w-])", text), \
            f"{where}: slug {slug} in {text!r}"


def _open_popup(p: Page, layer_id: str, tiles: bool) -> str:
    """Open one feature's popup: drawn features with the keyboard (focus, Enter), vector
    tile features with a click. Returns the popup's text."""
    page = p.page
    page.evaluate("document.querySelectorAll('.leaflet-popup-close-button')"
                  ".forEach(b => b.click())")
    page.wait_for_selector(".leaflet-popup", state="detached", timeout=10_000)  # fades out
    pane = ".leaflet-choropleth-pane" if layer_id in (
        "wijken", "buurten", "hotspots", "prevention-coverage") else ".leaflet-points-pane"
    if tiles:
        target = page.locator(f"{pane} path.leaflet-interactive:not([fill='none'])").first
        target.dispatch_event("click", {"clientX": 640, "clientY": 430})
    else:
        target = page.locator(f"{pane} path[role=button]").first
        target.focus()
        page.keyboard.press("Enter")
    page.wait_for_selector(".leaflet-popup-content", timeout=15_000)
    return page.locator(".leaflet-popup-content").inner_text()


def test_popups_and_legends_speak_dutch(server, browser) -> None:  # type: ignore[no-untyped-def]
    """Every layer the police may see, one at a time: its legend has the crime type and
    period in the title, its popup Dutch labels, units and decimal commas, and neither shows
    an internal name, a slug, undefined, NaN or an English class."""
    base, keys = server
    p = Page(browser, base)
    try:
        p.open()
        p.login(keys["police"])
        p.page.wait_for_selector("body[data-role='Politie']", timeout=30_000)
        ids = p.page.get_attribute("body", "data-layers").split(",")
        tiled = {"hotspots", "incidents"}
        seen = {}
        for layer_id in ids:
            if layer_id == "recommendations":
                continue  # no stored plan yet: an empty layer (the planning tests open it)
            box = p.page.locator(f"#layer-choice label[data-layer='{layer_id}'] input")
            if not box.is_checked():
                box.check()
            p.page.wait_for_selector(f"body[data-loaded-{layer_id}]", timeout=90_000)
            assert int(p.page.get_attribute("body", f"data-loaded-{layer_id}")) > 0, layer_id
            legend = p.page.locator(f'[data-legend="{layer_id}"]').inner_text()
            text = _open_popup(p, layer_id, layer_id in tiled)
            _scan(legend, f"legend {layer_id}")
            _scan(text, f"popup {layer_id}")
            seen[layer_id] = (legend, text)
            if layer_id in ("deployments", "prevention-groups", "incidents"):
                box.uncheck()  # keep the map readable for the next layer
        assert set(seen) >= {"wijken", "buurten", "hotspots", "prevention-coverage",
                             "prevention-groups", "deployments", "incidents"}
        legend, popup = seen["wijken"]
        assert "Misdrijven per wijk: High Impact Crimes, 2017" in legend
        assert "Aantal misdrijven" in popup and "Oppervlakte" in popup and "km²" in popup
        assert re.search(r"\d,\d+ km²", popup)  # decimal comma with the unit
        legend, popup = seen["hotspots"]
        assert "Hotspots: High Impact Crimes, " in legend and " tot " in legend
        assert "Risico (relatief)" in popup and "Gi*-klasse" in popup
        assert "Percentiel" in popup and re.search(r"\d,\d", popup)  # decimal comma
        legend, popup = seen["prevention-coverage"]
        assert "%" in legend and "Gedekt door preventiegroepen" in popup
        assert re.search(r"\d+(,\d)?%", popup) and "Wijkdekkend" in popup
        assert re.search(r"Wijkdekkend\s+(ja|nee)", popup)
        legend, popup = seen["deployments"]
        assert "Soort inzet" in popup and "undefined" not in legend
        assert "Registratienummer" in seen["incidents"][1]
        assert p.page.get_attribute("body", "data-unlabelled") is None
        assert p.errors == []
    finally:
        p.close()


def test_hotspots_come_as_vector_tiles_with_classes_over_cells_at_risk(server, browser
                                                                        ) -> None:  # type: ignore[no-untyped-def]
    base, keys = server
    p = Page(browser, base)
    try:
        p.open()
        p.login(keys["analyst"])
        p.page.wait_for_selector("body[data-role='Gemeente (analist)']", timeout=30_000)
        p.toggle("Hotspots")
        p.page.wait_for_selector("body[data-loaded-hotspots]", timeout=90_000)
        tiles = [u for u in p.requests if "/v1/collections/hotspots/tiles/WebMercatorQuad/" in u]
        assert tiles, "the hotspot layer must come as vector tiles"
        assert not any("/collections/hotspots/items?" in u and "limit=1&" not in u
                       for u in p.requests)  # only the one-feature metadata request
        assert int(p.page.get_attribute("body", "data-loaded-hotspots")) > 1000
        # several classes on the demo (not just the top two), zero risk transparent
        legend = p.page.locator('[data-legend="hotspots"]')
        assert legend.locator("[data-class]").count() >= 4
        assert "geen risico (doorzichtig)" in legend.inner_text()
        fills = p.page.evaluate(
            "Array.from(document.querySelectorAll('.leaflet-choropleth-pane path'))"
            ".map(e => e.getAttribute('fill'))")
        painted = {f for f in fills if f and f != "none"}
        assert len(painted) >= 4 and fills.count("none") > len(fills) // 2
        # the wijken layer went off (one colour map at a time)
        assert p.page.locator('[data-legend="wijken"]').count() == 0
        p.shot("hotspots", docs=True)
        p.page.locator(".legend").screenshot(path=str(ARTIFACTS / "kaart-legenda.png"))
        target = os.environ.get("GEOVEILIG_DOCS_IMG")
        if target:
            p.page.locator(".legend").screenshot(path=str(Path(target) / "kaart-legenda.png"))
        assert p.errors == []
    finally:
        p.close()


def test_map_works_with_the_keyboard(server, browser) -> None:  # type: ignore[no-untyped-def]
    """Layer choices with arrow keys and space, areas reachable with Tab, popups with Enter."""
    base, _keys = server
    p = Page(browser, base)
    try:
        p.open()
        page = p.page
        page.focus("#crime-type")
        for _ in range(30):  # Tab from the filters to the layer choices
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.name") == "choropleth":
                break
        assert page.evaluate("document.activeElement.value") == "wijken"
        page.keyboard.press("ArrowDown")  # the next colour map: buurten
        page.wait_for_selector("body[data-loaded-buurten]", timeout=30_000)
        assert page.locator("#choropleths input[value=buurten]").is_checked()
        page.wait_for_selector('[data-legend="wijken"]', state="detached")
        for _ in range(10):  # on to the wijk names: Space switches them off
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "wijk-names":
                break
        assert page.evaluate("document.activeElement.id") == "wijk-names"
        assert page.locator(".wijk-name").count() == 12
        page.keyboard.press("Space")
        page.wait_for_selector(".wijk-name", state="detached", timeout=5_000)  # fades out
        page.keyboard.press("Space")
        page.wait_for_selector(".wijk-name", timeout=5_000)
        assert page.locator(".wijk-name").count() == 12
        # the areas of the colour map are in the tab order, named with their value; Enter
        # opens the popup
        area = page.locator(".leaflet-choropleth-pane path[role=button]").first
        assert area.get_attribute("tabindex") == "0"
        assert re.search(r"^.+: (\d+|niet getoond)$", area.get_attribute("aria-label") or "")
        area.focus()
        page.keyboard.press("Enter")
        page.wait_for_selector(".leaflet-popup-content", timeout=10_000)
        assert "Aantal misdrijven" in page.locator(".leaflet-popup-content").inner_text()
        close = page.locator(".leaflet-popup-close-button")
        assert close.get_attribute("aria-label") == "Sluiten"
        close.focus()
        page.keyboard.press("Enter")
        page.wait_for_selector(".leaflet-popup-content", state="detached", timeout=10_000)
        assert page.locator(".leaflet-control-zoom-in").get_attribute("title") == "Inzoomen"
        assert p.errors == []
    finally:
        p.close()


def test_print_view_for_a_briefing(server, browser, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """"Afdrukken / PDF": the map with its legend, the layers and date in a header and the
    synthetic banner, without the side panel; Chromium makes a PDF of it."""
    base, _keys = server
    p = Page(browser, base)
    try:
        p.open()
        page = p.page
        page.evaluate("window.print = () => document.body.setAttribute('data-printed', '1')")
        page.click("#print")
        page.wait_for_selector("body[data-printed]")
        page.emulate_media(media="print")
        assert page.locator("#panel").is_hidden()
        assert page.locator("#print-header").is_visible()
        banner = page.locator("#print-banner")
        assert banner.is_visible() and "SYNTHETISCHE GEGEVENS" in banner.inner_text()
        assert "Misdrijven per wijk: High Impact Crimes, 2017" in \
            page.locator("#print-layers").inner_text()
        assert page.locator(".legend").is_visible()
        assert re.search(r"\d{1,2}-\d{1,2}-\d{4}", page.locator("#print-date").inner_text())
        pdf = page.pdf(landscape=True, print_background=True)
        assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
        (ARTIFACTS / "kaart-afdruk.pdf").write_bytes(pdf)
        p.shot("afdruk", docs=True)
        page.emulate_media(media="screen")
        assert page.locator("#panel").is_visible()
        assert p.errors == []
    finally:
        p.close()


def test_pdok_base_map_is_configured_with_attribution(server, browser) -> None:  # type: ignore[no-untyped-def]
    from geoveilig.settings import Settings

    s = Settings()
    assert s.basemap_url == ("https://service.pdok.nl/brt/achtergrondkaart/wmts/v2_0/grijs/"
                             "EPSG:3857/{z}/{x}/{y}.png")
    assert "Kadaster" in s.basemap_attribution and "PDOK" in s.basemap_attribution
    base, _keys = server
    p = Page(browser, base)
    try:
        p.open()
        asked = [u for u in p.outside if "service.pdok.nl" in u]
        assert asked and all(re.search(r"/grijs/EPSG:3857/\d+/\d+/\d+\.png$", u) for u in asked)
        # offline it fell back to the outlines; chosen again, it shows its attribution
        p.page.wait_for_selector("body[data-basemap='grenzen']", timeout=30_000)
        p.page.check("#bases input[value=pdok]")
        assert p.page.get_attribute("body", "data-basemap") == "pdok"
        assert "Kadaster" in p.page.locator(".leaflet-control-attribution").inner_text()
        assert "Achtergrondkaart (BRT grijs, PDOK, online)" in \
            p.page.locator("#bases").inner_text()
    finally:
        p.close()


def _axe(page) -> list[str]:  # type: ignore[no-untyped-def]
    from axe_playwright_python.sync_playwright import Axe

    tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
    result = Axe().run(page, options={"runOnly": {"type": "tag", "values": tags}})
    return [f"{v['id']} ({v['impact']}): {v['nodes'][0]['target']}"
            for v in result.response["violations"] if v["impact"] in ("serious", "critical")]


def test_wcag_aa_no_serious_violations(server, browser, tmp_path, areas, demo_incidents
                                       ) -> None:  # type: ignore[no-untyped-def]
    """axe-core (WCAG 2.1 A and AA rules) on the planning map (public, and for the police
    with a popup open), the public council map and the HTML report: nothing serious or
    critical."""
    from geoveilig import report, stats
    from geoveilig.web.export import export_layers
    from geoveilig.web.folium_map import static_map

    base, keys = server
    p = Page(browser, base)
    try:
        p.open()
        assert _axe(p.page) == []
        p.login(keys["police"])
        p.page.wait_for_selector("body[data-role='Politie']", timeout=30_000)
        p.page.locator(".leaflet-choropleth-pane path[role=button]").first.focus()
        p.page.keyboard.press("Enter")
        p.page.wait_for_selector(".leaflet-popup-content", timeout=10_000)
        p.page.wait_for_function(  # faded in: contrast is measured on the final colours
            "getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'")
        assert _axe(p.page) == []
        council = tmp_path / "raad.html"
        council.write_text(static_map(areas, export_layers(
            areas, demo_incidents, None, year=2017, crime_type="hic"), title="Helmond 2017",
            online_base=False), encoding="utf-8")
        rapport = tmp_path / "rapport.html"
        rapport.write_text(report.render_html(stats.evaluation(demo_incidents, areas, "2017"),
                                              synthetic=True), encoding="utf-8")
        for path in (council, rapport):
            p.page.goto(path.as_uri())
            p.page.wait_for_load_state("load")
            assert _axe(p.page) == [], path.name
    finally:
        p.close()
