"""Screenshots of QGIS reading geoveilig, and the real output of the GDAL commands, for
``docs/api.md``. Run it again after a change to the API:

    make docs-qgis            (= .venv/bin/python docs/qgis_screenshots.py)

It needs QGIS with its Python bindings, Xvfb, ImageMagick and GDAL's command-line tools
(Debian/Ubuntu: ``apt-get install qgis python3-qgis xvfb imagemagick gdal-bin``); the tests and
CI do not. What it does, each step failing loudly (non-zero exit) when something is missing,
invalid or empty:

1. ``geoveilig demo`` into a temporary folder and ``geoveilig keys create --role analyst``;
2. ``geoveilig serve`` on a free port;
3. GDAL: ``ogrinfo``/``ogr2ogr`` against ``OAPIF:http://.../v1`` and one ``MVT:`` tile; their
   output (address written as ``http://127.0.0.1:8000``, the key as ``SLEUTEL``) replaces the
   block between ``<!-- gdal-output:start -->`` and ``<!-- gdal-output:end -->`` in api.md;
4. PyQGIS (``QT_QPA_PLATFORM=offscreen``, QGIS's own interpreter ``/usr/bin/python3`` or
   ``QGIS_PYTHON``): the OGC API - Features layers ``wijken``, ``prevention-coverage`` and
   ``hotspots`` (provider ``oapif``) and the vector tiles of ``hotspots`` for
   ``crimeType=woninginbraak`` (provider ``vectortile``), the key through a QGIS
   authentication configuration of type Basic (QGIS 3.22 cannot send a header of its own);
   checks every layer is valid and holds features, styles them and renders
   ``docs/img/qgis-*.png`` with ``QgsMapRendererParallelJob``, stamped with the attribution
   the API gives the layers ("synthetische demodata"); writes a project file;
5. the QGIS application itself under ``xvfb-run`` with that project and a saved connection:
   a screenshot of the window (layer panel and map) and of the data source manager after
   **Verbinden**, listing the service's collections (``import -window root``, cropped);
6. every PNG is reduced to a palette (Pillow) and must stay under 300 KB.

Internal modes (run by the steps above): ``render CONFIG.json`` and ``window CONFIG.json``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"
PAGE = ROOT / "docs" / "api.md"
DOC_BASE = "http://127.0.0.1:8000"
MAX_PNG_BYTES = 300_000
SIZE = (900, 640)  # rendered maps, pixels
SCREEN = (1280, 800)  # the virtual screen of the QGIS window
CRIME_TYPE = "woninginbraak"
START, END = "<!-- gdal-output:start -->", "<!-- gdal-output:end -->"


def fail(message: str) -> None:
    print(f"qgis_screenshots: MISLUKT: {message}", file=sys.stderr)
    sys.exit(1)


def say(message: str) -> None:
    print(f"qgis_screenshots: {message}", flush=True)


# --- 1-2: the demo store and the server (the project's own interpreter) ---------------------

def _geoveilig() -> str:
    exe = Path(sys.executable).with_name("geoveilig")
    if not exe.exists():
        fail(f"{exe} ontbreekt: draai dit script met .venv/bin/python (make docs-qgis)")
    return str(exe)


def demo_store(tmp: Path) -> tuple[dict[str, str], str]:
    geo = Path(os.environ.get("GEOVEILIG_GEO_DIR", "data/geo"))
    geo = geo if geo.is_absolute() else ROOT / geo
    env = {**os.environ, "GEOVEILIG_DATA_DIR": str(tmp / "data"),
           "GEOVEILIG_GEO_DIR": str(geo.resolve())}
    env.pop("GEOVEILIG_DATABASE_URL", None)
    say("geoveilig demo ...")
    subprocess.run([_geoveilig(), "demo"], env=env, check=True, cwd=tmp)
    made = subprocess.run([_geoveilig(), "keys", "create", "--role", "analyst", "--name",
                           "QGIS (documentatie)"], env=env, check=True, cwd=tmp,
                          capture_output=True, text=True)
    found = re.search(r"gv_\S+", made.stdout)
    if found is None:
        fail(f"geen sleutel in de uitvoer van 'geoveilig keys create': {made.stdout!r}")
    assert found is not None
    return env, found.group(0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def served(env: dict[str, str], tmp: Path) -> Iterator[str]:
    import httpx

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with open(tmp / "serve.log", "wb") as log:
        proc = subprocess.Popen([_geoveilig(), "serve", "--port", str(port)], env=env,
                                cwd=tmp, stdout=log, stderr=log)
        try:
            deadline = time.time() + 300
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                        break
                if proc.poll() is not None or time.time() > deadline:
                    fail("geoveilig serve start niet: "
                         + (tmp / "serve.log").read_text(errors="replace")[-2000:])
                time.sleep(0.5)
            say(f"geoveilig serve draait op {base}")
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def check_api(base: str, key: str) -> str:
    """The layers the screenshots show exist, hold features, and carry the attribution;
    returns that attribution."""
    import httpx

    headers = {"X-API-Key": key}
    credit = None
    for cid, query in (("wijken", ""), ("prevention-coverage", ""),
                       ("hotspots", f"crimeType={CRIME_TYPE}")):
        meta = httpx.get(f"{base}/v1/collections/{cid}", headers=headers, timeout=120)
        page = httpx.get(f"{base}/v1/collections/{cid}/items?limit=1&{query}",
                         headers=headers, timeout=300)
        if meta.status_code != 200 or page.status_code != 200:
            fail(f"{cid}: HTTP {meta.status_code}/{page.status_code}")
        if not page.json().get("numberMatched"):
            fail(f"{cid}: geen objecten")
        credit = meta.json().get("attribution")
        if not credit or "synthetische demodata" not in credit:
            fail(f"{cid}: geen attributie 'synthetische demodata' in de metadata: {credit!r}")
    assert credit is not None
    return credit


# --- 3: GDAL ---------------------------------------------------------------------------------

def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """(row, column) of the WebMercatorQuad tile holding a point."""
    n = 2 ** z
    col = int((lon + 180) / 360 * n)
    row = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return row, col


def gdal_commands(base: str) -> list[tuple[list[str], str]]:
    """(arguments, what to check in the output) of the commands shown on the page."""
    row, col = tile_of(5.655, 51.478, 14)  # the centre of Helmond
    oapif = f"OAPIF:{base}/v1"
    tile = (f"MVT:{base}/v1/collections/hotspots/tiles/WebMercatorQuad/14/{row}/{col}"
            f"?f=mvt&crimeType={CRIME_TYPE}")
    key = ["--config", "GDAL_HTTP_AUTH", "BASIC", "--config", "GDAL_HTTP_USERPWD",
           "qgis:SLEUTEL"]
    return [
        (["ogrinfo", "-ro", "-so", oapif], "wijken"),
        (["ogrinfo", "-ro", "-so", oapif, *key], "hotspots"),
        (["ogrinfo", "-ro", "-so", "-al", oapif, "prevention-coverage"], "Feature Count: 12"),
        # GDAL before 3.8 asks for 10 features a page: 378 requests for this layer, more
        # than the default rate limit of 100 a second; PAGE_SIZE makes it 4
        (["ogr2ogr", "-f", "GPKG", "hotspots.gpkg", oapif, "hotspots", "-oo", "PAGE_SIZE=1000",
          *key], ""),
        (["ogrinfo", "-ro", "-so", "hotspots.gpkg", "hotspots"], "Feature Count:"),
        # Z/X/Y: GDAL cannot read the tile address from a URL with a query; with them it
        # gives the features in Web Mercator metres
        (["ogrinfo", "-ro", "-so", "-al", tile, "-oo", "Z=14", "-oo", f"X={col}", "-oo",
          f"Y={row}", "--config", "GDAL_HTTP_HEADERS", "X-API-Key: SLEUTEL"], "Feature Count:"),
    ]


def run_gdal(base: str, key: str, tmp: Path) -> str:
    """Runs the commands; the markdown of their output, addresses and key as on the page."""
    for tool in ("ogrinfo", "ogr2ogr"):
        if shutil.which(tool) is None:
            fail(f"{tool} ontbreekt (apt-get install gdal-bin)")
    version = subprocess.run(["ogrinfo", "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    blocks = [f"Uitvoer van {version.split(',')[0]} tegen `geoveilig serve` op de demodata:"]
    for args, expect in gdal_commands(base):
        real = [a.replace("SLEUTEL", key) for a in args]
        say(" ".join(args[:4]) + " ...")
        done = subprocess.run(real, cwd=tmp, capture_output=True, text=True, timeout=600)
        out = (done.stdout + done.stderr).replace(key, "SLEUTEL")
        if done.returncode != 0 or expect not in out:
            fail(f"{' '.join(args)}: code {done.returncode}, verwacht {expect!r}:\n{out}")
        count = re.search(r"Feature Count: (\d+)", out)
        if count is not None and int(count.group(1)) == 0:
            fail(f"{' '.join(args)}: een lege laag")
        shown = " ".join(_quote(a) for a in args).replace(base, DOC_BASE)
        out = out.replace(base, DOC_BASE).replace(str(tmp), ".").rstrip()
        blocks.append(f"```console\n$ {shown}\n{out}\n```" if out else
                      f"```console\n$ {shown}\n```")
    return "\n\n".join(blocks)


def _quote(arg: str) -> str:
    """An argument as a shell user types it: quoted when it holds a space, or a ``?``, ``&``
    or ``:`` outside an ``OAPIF:`` address or option."""
    special = re.search(r"[\s?&:]", arg) and not arg.startswith(("OAPIF:", "-"))
    return f'"{arg}"' if special or " " in arg else arg


def write_gdal_output(markdown: str) -> None:
    text = PAGE.read_text(encoding="utf-8")
    if START not in text or END not in text:
        fail(f"{PAGE.name} mist {START} ... {END}")
    head, rest = text.split(START, 1)
    _old, tail = rest.split(END, 1)
    PAGE.write_text(f"{head}{START}\n{markdown}\n{END}{tail}", encoding="utf-8")


# --- 4-5: QGIS --------------------------------------------------------------------------------

def qgis_python() -> str:
    exe = os.environ.get("QGIS_PYTHON", "/usr/bin/python3")
    probe = subprocess.run([exe, "-c", "import qgis.core"], capture_output=True, text=True)
    if probe.returncode != 0:
        fail(f"PyQGIS ontbreekt voor {exe} (apt-get install qgis python3-qgis): "
             f"{probe.stderr.strip()[-300:]}")
    return exe


def qgis_env(tmp: Path) -> dict[str, str]:
    """QGIS's settings, authentication database and master password in ``tmp``: the
    user's own QGIS profile is never touched."""
    auth = tmp / "qgis-auth"
    auth.mkdir(exist_ok=True)
    (auth / "master.txt").write_text("alleen-voor-de-documentatie", encoding="utf-8")
    runtime = tmp / "xdg-runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return {**os.environ, "QGIS_AUTH_DB_DIR_PATH": str(auth),
            "QGIS_AUTH_PASSWORD_FILE": str(auth / "master.txt"),
            "QGIS_CUSTOM_CONFIG_PATH": str(tmp / "qgis-profile"),
            "XDG_RUNTIME_DIR": str(runtime), "QT_QPA_PLATFORM": "offscreen",
            "PYTHONPATH": ""}


def render_in_qgis(cfg: dict[str, Any], tmp: Path) -> dict[str, Any]:
    (tmp / "render.json").write_text(json.dumps(cfg), encoding="utf-8")
    env = qgis_env(tmp)
    say("PyQGIS: lagen laden, stijlen, renderen ...")
    done = subprocess.run([qgis_python(), __file__, "render", str(tmp / "render.json")],
                          env=env, cwd=tmp, timeout=900)
    if done.returncode != 0:
        fail("het renderen in QGIS is mislukt (zie hierboven)")
    result: dict[str, Any] = json.loads((tmp / "render-result.json").read_text())
    return result


def window_in_qgis(cfg: dict[str, Any], tmp: Path) -> None:
    for tool in ("xvfb-run", "qgis", "import"):
        if shutil.which(tool) is None:
            fail(f"{tool} ontbreekt (apt-get install qgis xvfb imagemagick)")
    env = {**qgis_env(tmp), "QT_QPA_PLATFORM": "xcb"}
    say("QGIS-venster onder Xvfb ...")
    done = subprocess.run(["xvfb-run", "-a", "-s", f"-screen 0 {SCREEN[0]}x{SCREEN[1]}x24",
                           qgis_python(), __file__, "window", str(tmp / "render.json")],
                          env=env, cwd=tmp, timeout=900)
    if done.returncode != 0:
        fail("de schermafdruk van QGIS is mislukt (zie hierboven)")


def optimise(src: Path, dest: Path, colours: int = 128) -> int:
    """A palette PNG of ``src`` at ``dest``; its size in bytes (at most 300 KB)."""
    from PIL import Image

    with Image.open(src) as im:
        small = im.convert("RGB").quantize(colors=colours, method=Image.Quantize.MEDIANCUT,
                                           dither=Image.Dither.NONE)
        small.save(dest, optimize=True)
    size = dest.stat().st_size
    if size > MAX_PNG_BYTES:
        fail(f"{dest.name} is {size // 1000} KB (maximaal {MAX_PNG_BYTES // 1000} KB)")
    return size


def inked_share(path: Path) -> float:
    """The share of pixels that are not (near) white: 0 means nothing was drawn."""
    from PIL import Image

    with Image.open(path) as im:
        grey = im.convert("L")
        hist = grey.histogram()
    return 1 - sum(hist[245:]) / (grey.width * grey.height)


def main() -> None:
    IMG.mkdir(parents=True, exist_ok=True)
    qgis_python()
    with tempfile.TemporaryDirectory(prefix="geoveilig-qgis-") as name:
        tmp = Path(name)
        env, key = demo_store(tmp)
        with served(env, tmp) as base:
            credit = check_api(base, key)
            gdal = run_gdal(base, key, tmp)
            cfg = {"base": f"{base}/v1", "key": key, "out": str(tmp / "shots"),
                   "tmp": str(tmp), "attribution": credit, "crime_type": CRIME_TYPE,
                   "size": SIZE, "screen": SCREEN}
            Path(cfg["out"]).mkdir()
            result = render_in_qgis(cfg, tmp)
            say(f"objecten per laag: {result['counts']}")
            if inked_share(Path(cfg["out"]) / "tiles-only.png") < 0.01:
                fail("de vectortegels van hotspots zijn leeg gerenderd")
            window_in_qgis(cfg, tmp)
        write_gdal_output(gdal)
        for shot in sorted(Path(cfg["out"]).glob("qgis-*.png")):
            size = optimise(shot, IMG / shot.name)
            say(f"docs/img/{shot.name}: {size // 1000} KB")


# --- inside QGIS (QGIS's Python) ----------------------------------------------------------------

def _qgis_app(cfg: dict[str, Any], gui: bool = False) -> Any:
    from qgis.core import QgsApplication

    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], gui)
    app.initQgis()
    return app


def _auth_config(cfg: dict[str, Any]) -> str:
    """A Basic authentication configuration with the key as password, as a user makes it in
    Settings > Options > Authentication (QGIS 3.22 can send no X-API-Key header)."""
    from qgis.core import QgsApplication, QgsAuthMethodConfig

    manager = QgsApplication.authManager()
    master = Path(os.environ["QGIS_AUTH_PASSWORD_FILE"]).read_text(encoding="utf-8")
    if not manager.setMasterPassword(master, True):
        fail("QGIS: hoofdwachtwoord niet gezet")
    config = QgsAuthMethodConfig("Basic")
    config.setName("geoveilig (analist)")
    config.setConfig("username", "qgis")
    config.setConfig("password", cfg["key"])
    ok, stored = manager.storeAuthenticationConfig(config)
    if not ok:
        fail("QGIS: authenticatieconfiguratie niet opgeslagen")
    return str(stored.id())


def _oapif(cfg: dict[str, Any], collection: str, title: str, authcfg: str | None) -> Any:
    from qgis.core import QgsVectorLayer

    uri = f"pagingEnabled='true' typename='{collection}' url='{cfg['base']}'"
    if authcfg:
        uri = f"authcfg='{authcfg}' {uri}"
    layer = QgsVectorLayer(uri, title, "oapif")
    if not layer.isValid():
        fail(f"QGIS: laag {collection} ongeldig: {layer.error().message()}")
    count = layer.featureCount()
    if count <= 0:
        fail(f"QGIS: laag {collection} is leeg ({count})")
    return layer


def _graduated(layer: Any, field: str, ramp: str, classes: int = 5, outline: str = "#555555"
               ) -> None:
    from qgis.core import (
        QgsClassificationPrettyBreaks,
        QgsFillSymbol,
        QgsGraduatedSymbolRenderer,
        QgsStyle,
    )

    renderer = QgsGraduatedSymbolRenderer(field)
    renderer.setClassificationMethod(QgsClassificationPrettyBreaks())
    renderer.setSourceSymbol(QgsFillSymbol.createSimple(
        {"outline_color": outline, "outline_width": "0.3"}))
    renderer.setSourceColorRamp(QgsStyle.defaultStyle().colorRamp(ramp))
    renderer.updateClasses(layer, classes)
    layer.setRenderer(renderer)


def _outlines(layer: Any) -> None:
    from qgis.core import QgsFillSymbol, QgsSingleSymbolRenderer

    layer.setRenderer(QgsSingleSymbolRenderer(QgsFillSymbol.createSimple(
        {"color": "0,0,0,0", "outline_color": "#333333", "outline_width": "0.4"})))


def _labels(layer: Any, field: str = "name", size: float = 8.5) -> None:
    from qgis.core import (
        QgsPalLayerSettings,
        QgsTextBufferSettings,
        QgsTextFormat,
        QgsVectorLayerSimpleLabeling,
    )
    from qgis.PyQt.QtGui import QColor, QFont

    fmt = QgsTextFormat()
    fmt.setFont(QFont("DejaVu Sans"))
    fmt.setSize(size)
    fmt.setColor(QColor("#111111"))
    buffer = QgsTextBufferSettings()
    buffer.setEnabled(True)
    buffer.setSize(1.0)
    buffer.setColor(QColor("white"))
    fmt.setBuffer(buffer)
    settings = QgsPalLayerSettings()
    settings.fieldName = field
    settings.setFormat(fmt)
    layer.setLabeling(QgsVectorLayerSimpleLabeling(settings))
    layer.setLabelsEnabled(True)


#: the classes of ``risk_class`` (1 lowest, 5 highest; 0 = no risk: not drawn)
RISK_COLOURS = {1: "#ffffb2", 2: "#fecc5c", 3: "#fd8d3c", 4: "#f03b20", 5: "#bd0026"}


def _risk_classes(layer: Any) -> None:
    from qgis.core import QgsCategorizedSymbolRenderer, QgsFillSymbol, QgsRendererCategory

    cats = [QgsRendererCategory(k, QgsFillSymbol.createSimple(
        {"color": colour, "outline_style": "no"}), f"risicoklasse {k}")
        for k, colour in RISK_COLOURS.items()]
    layer.setRenderer(QgsCategorizedSymbolRenderer("risk_class", cats))


def _tile_layer(cfg: dict[str, Any], authcfg: str) -> Any:
    from qgis.core import (
        QgsFillSymbol,
        QgsVectorTileBasicRenderer,
        QgsVectorTileBasicRendererStyle,
        QgsVectorTileLayer,
        QgsWkbTypes,
    )
    from qgis.PyQt.QtCore import QUrl

    template = (f"{cfg['base']}/collections/hotspots/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"
                f"?crimeType={cfg['crime_type']}")
    url = QUrl.toPercentEncoding(template, b"/:?=&").data().decode()
    layer = QgsVectorTileLayer(f"type=xyz&url={url}&zmin=0&zmax=20&authcfg={authcfg}",
                               f"hotspots {cfg['crime_type']} (vectortegels)")
    if not layer.isValid():
        fail(f"QGIS: vectortegellaag ongeldig: {layer.error().message()}")
    styles = []
    for k, colour in RISK_COLOURS.items():
        style = QgsVectorTileBasicRendererStyle(f"risicoklasse {k}", "hotspots",
                                                QgsWkbTypes.PolygonGeometry)
        style.setFilterExpression(f'"risk_class" = {k}')
        style.setSymbol(QgsFillSymbol.createSimple({"color": colour, "outline_style": "no"}))
        styles.append(style)
    renderer = QgsVectorTileBasicRenderer()
    renderer.setStyles(styles)
    layer.setRenderer(renderer)
    return layer


def _legend_of(layer: Any) -> list[tuple[str, str]]:
    """(label, colour) of each class of a graduated or categorized vector layer."""
    renderer = layer.renderer()
    classes = renderer.ranges() if hasattr(renderer, "ranges") else renderer.categories()
    return [(c.label().replace(" - ", " – ").replace(".", ","), c.symbol().color().name())
            for c in classes]  # decimal commas: text for people


def _render(cfg: dict[str, Any], layers: list[Any], name: str, title: str,
            stamp: bool = True, legend: tuple[str, list[tuple[str, str]]] | None = None
            ) -> None:
    """``layers`` (top first) into ``out/name``, RD New, over the extent of the gemeente, with
    a title, a legend (its title and the classes) and the layers' attribution."""
    from qgis.core import QgsCoordinateReferenceSystem, QgsMapRendererParallelJob, QgsMapSettings
    from qgis.PyQt.QtCore import QRectF, QSize, Qt
    from qgis.PyQt.QtGui import QColor, QFont, QPainter

    rd = QgsCoordinateReferenceSystem("EPSG:28992")
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(rd)
    settings.setOutputSize(QSize(*cfg["size"]))
    settings.setBackgroundColor(QColor("white"))
    settings.setFlag(settings.Antialiasing, True)
    settings.setExtent(cfg["extent"])
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    if stamp:
        painter = QPainter(image)
        painter.setRenderHint(QPainter.Antialiasing)
        w, h = image.width(), image.height()
        painter.fillRect(QRectF(0, 0, w, 34), QColor(255, 255, 255, 225))
        painter.setPen(QColor("#111111"))
        painter.setFont(QFont("DejaVu Sans", 12, QFont.Bold))
        painter.drawText(QRectF(10, 0, w - 20, 34), Qt.AlignVCenter | Qt.AlignLeft, title)
        painter.fillRect(QRectF(0, h - 26, w, 26), QColor("#fff3cd"))
        painter.setPen(QColor("#5c3200"))
        painter.setFont(QFont("DejaVu Sans", 10))
        painter.drawText(QRectF(10, h - 26, w - 20, 26), Qt.AlignVCenter | Qt.AlignLeft,
                         f"Bron: geoveilig OGC API – {cfg['attribution']}")
        if legend:
            heading, entries = legend
            box = QRectF(w - 250, h - 40 - 22 * (len(entries) + 1), 240,
                         22 * (len(entries) + 1) + 8)
            painter.fillRect(box, QColor(255, 255, 255, 230))
            painter.setPen(QColor("#111111"))
            painter.setFont(QFont("DejaVu Sans", 9, QFont.Bold))
            painter.drawText(QRectF(box.left() + 8, box.top() + 4, 230, 20),
                             Qt.AlignVCenter | Qt.AlignLeft, heading)
            painter.setFont(QFont("DejaVu Sans", 9))
            for i, (label, colour) in enumerate(entries, start=1):
                top = box.top() + 4 + 22 * i
                painter.fillRect(QRectF(box.left() + 8, top + 3, 22, 14), QColor(colour))
                painter.setPen(QColor("#555555"))
                painter.drawRect(QRectF(box.left() + 8, top + 3, 22, 14))
                painter.setPen(QColor("#111111"))
                painter.drawText(QRectF(box.left() + 38, top, 200, 20),
                                 Qt.AlignVCenter | Qt.AlignLeft, label)
        painter.end()
    if not image.save(str(Path(cfg["out"]) / name)):
        fail(f"QGIS: {name} niet opgeslagen")


def render(config: Path) -> None:
    """PyQGIS: load, check, style and render the layers; write the project for the window."""
    from qgis.core import (
        QgsCoordinateReferenceSystem,
        QgsCoordinateTransform,
        QgsDatumTransform,
        QgsProject,
        QgsReferencedRectangle,
    )

    cfg = json.loads(config.read_text(encoding="utf-8"))
    app = _qgis_app(cfg)
    authcfg = _auth_config(cfg)
    wijken = _oapif(cfg, "wijken", "wijken (misdrijven 2017)", None)
    coverage = _oapif(cfg, "prevention-coverage", "dekking preventiegroepen", None)
    hotspots = _oapif(cfg, "hotspots", "hotspots (inbraak)", authcfg)
    tiles = _tile_layer(cfg, authcfg)
    counts = {"wijken": wijken.featureCount(), "prevention-coverage": coverage.featureCount(),
              "hotspots": hotspots.featureCount()}
    drawn = hotspots.getFeatures()
    if not any(f["risk_class"] and f["risk_class"] > 0 for f in drawn):
        fail("QGIS: hotspots zonder één cel met risico")
    for layer in (wijken, coverage, hotspots, tiles):
        layer.setAttribution(cfg["attribution"])
    rd = QgsCoordinateReferenceSystem("EPSG:28992")
    box = QgsCoordinateTransform(wijken.crs(), rd, QgsProject.instance()).transformBoundingBox(
        wijken.extent())
    box.scale(1.08)
    cfg["extent"] = box
    outline = wijken.clone()
    _outlines(outline)
    _labels(outline)
    _render(cfg, [tiles], "tiles-only.png", "", stamp=False)
    _graduated(wijken, "count", "Reds")
    _labels(wijken)
    _render(cfg, [wijken], "qgis-wijken.png",
            "Wijken: geregistreerde misdrijven 2017 (OGC API - Features, laag wijken)",
            legend=("misdrijven (count)", _legend_of(wijken)))
    _graduated(coverage, "coverage_share", "Greens")
    _labels(coverage)
    _render(cfg, [coverage], "qgis-preventie.png",
            "Dekking preventiegroepen per wijk (laag prevention-coverage)",
            legend=("deel gedekt (coverage_share)", _legend_of(coverage)))
    _risk_classes(hotspots)
    risk = ("risico (risk_class)", _legend_of(hotspots))
    _render(cfg, [outline, hotspots], "qgis-hotspots.png",
            "Hotspots inbraak, risicoklassen (laag hotspots, met sleutel)", legend=risk)
    _render(cfg, [outline, tiles], "qgis-tegels.png",
            f"Hotspots {cfg['crime_type']} als vectortegels (WebMercatorQuad, met sleutel)",
            legend=risk)
    project = QgsProject.instance()
    project.setCrs(rd)
    project.viewSettings().setDefaultViewExtent(QgsReferencedRectangle(box, rd))
    context = project.transformContext()  # no question which transformation to use
    for source in (wijken.crs(), tiles.crs()):
        operations = QgsDatumTransform.operations(source, rd)
        if operations:
            context.addCoordinateOperation(source, rd, operations[0].proj)
    project.setTransformContext(context)
    project.setTitle("geoveilig (demo)")
    for layer in (wijken, coverage, hotspots, tiles):
        project.addMapLayer(layer)
    hotspots_node = project.layerTreeRoot().findLayer(hotspots.id())
    project.layerTreeRoot().findLayer(coverage.id()).setItemVisibilityChecked(False)
    project.layerTreeRoot().findLayer(tiles.id()).setItemVisibilityChecked(False)
    assert hotspots_node is not None
    if not project.write(str(Path(cfg["tmp"]) / "geoveilig.qgs")):
        fail("QGIS: projectbestand niet geschreven")
    Path(cfg["tmp"], "render-result.json").write_text(json.dumps(
        {"counts": counts, "authcfg": authcfg}), encoding="utf-8")
    project.clear()
    del app
    # QGIS 3.22's teardown of a standalone application can crash after all is written
    # (exitQgis with layers of remote providers): leave without it
    sys.stdout.flush()
    os._exit(0)


#: run inside the QGIS application (``qgis --code``): shows the window, marks when it is ready
#: for a screenshot, then opens the data source manager on "WFS / OGC API - Features" and
#: clicks "Verbinden"; the window mode takes the screenshots at the marks
STARTUP = r'''
import os, traceback
from qgis.core import QgsProject
from qgis.utils import iface
from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtWidgets import QAction, QApplication, QListWidget, QPushButton

D = os.environ["GV_SHOTS"]
SCREEN = tuple(int(v) for v in os.environ["GV_SCREEN"].split("x"))

def mark(name, text=""):
    with open(os.path.join(D, name), "w") as f:
        f.write(text)

def guarded(step):
    def run():
        try:
            step()
        except Exception:
            mark("error", traceback.format_exc())
    return run

def wait_for(name, then):
    if os.path.exists(os.path.join(D, name)):
        guarded(then)()
    else:
        QTimer.singleShot(300, lambda: wait_for(name, then))

def main_window():
    iface.mainWindow().setGeometry(0, 0, *SCREEN)  # Xvfb has no window manager to maximise
    iface.layerTreeView().collapseAllNodes()
    canvas = iface.mapCanvas()
    canvas.setExtent(QgsProject.instance().viewSettings().defaultViewExtent())
    canvas.refreshAllLayers()
    QTimer.singleShot(15000, lambda: (mark("main"), wait_for("main.done", source_manager)))

def source_manager():
    QTimer.singleShot(3000, guarded(wfs_page))  # before: the dialog may be modal
    if hasattr(iface, "openDataSourceManagerPage"):
        iface.openDataSourceManagerPage("WFS")
    else:
        iface.mainWindow().findChild(QAction, "mActionDataSourceManager").trigger()

def wfs_page():
    """Select the page "WFS / OGC API - Features" in the dialog's list of pages."""
    for widget in QApplication.topLevelWidgets():
        if widget.isVisible() and widget is not iface.mainWindow():
            widget.setGeometry(40, 30, SCREEN[0] - 80, SCREEN[1] - 60)
            for pages in widget.findChildren(QListWidget):
                for row in range(pages.count()):
                    if "OGC API" in pages.item(row).text():
                        pages.setCurrentRow(row)
    QTimer.singleShot(2000, guarded(connect))

def connect():
    clicked = 0
    for widget in QApplication.topLevelWidgets():
        for button in widget.findChildren(QPushButton, "btnConnect"):
            if button.isVisible():
                button.click()
                clicked += 1
    if not clicked:
        names = [(w.metaObject().className(), w.windowTitle(), b.objectName(), b.text(),
                  b.isVisible()) for w in QApplication.topLevelWidgets()
                 for b in w.findChildren(QPushButton) if "erbind" in b.text()]
        names += [(w.metaObject().className(), w.windowTitle()) for w in
                  QApplication.topLevelWidgets() if w.isVisible()]
        mark("error", f"geen zichtbare knop btnConnect (Verbinden): {names}")
        return
    QTimer.singleShot(12000, lambda: mark("dialog"))

QTimer.singleShot(5000, guarded(main_window))
'''


def _profile(cfg: dict[str, Any], authcfg: str) -> Path:
    """A fresh QGIS profile with the saved connection "geoveilig" (as Laag > Data Source
    Manager > WFS / OGC API - Features > Nieuw makes it) and Dutch as the interface
    language when QGIS has it."""
    profile = Path(os.environ["QGIS_CUSTOM_CONFIG_PATH"]) / "profiles" / "default"
    (profile / "QGIS").mkdir(parents=True, exist_ok=True)
    (profile / "QGIS" / "QGIS3.ini").write_text("\n".join([
        "[locale]", "overrideFlag=true", "userLocale=nl", "",
        "[qgis]", "checkVersion=false", "showTips=false",
        f"connections-wfs\\geoveilig\\url={cfg['base']}",
        "connections-wfs\\geoveilig\\version=OGC_API_FEATURES",
        "connections-wfs\\geoveilig\\pagingenabled=true",
        "connections-wfs\\selected=geoveilig",
        f"WFS\\geoveilig\\authcfg={authcfg}",
        "", "[app]", "projections\\promptWhenMultipleTransformsExist=false",
        "", "[core]", "NewsFeed\\httpsfeedqgisorg\\disabled=true", ""]), encoding="utf-8")
    return profile


def _shoot(name: str, shots: Path, crop: tuple[int, int, int, int] | None = None) -> None:
    raw = shots / f"raw-{name}"
    subprocess.run(["import", "-window", "root", str(raw)], check=True, timeout=60)
    args = ["convert", str(raw)]
    if crop:
        w, h, x, y = crop
        args += ["-crop", f"{w}x{h}+{x}+{y}", "+repage"]
    subprocess.run([*args, str(shots / name)], check=True, timeout=60)


def window(config: Path) -> None:
    """Under Xvfb: the QGIS application with the project, screenshots at the startup code's
    marks."""
    cfg = json.loads(config.read_text(encoding="utf-8"))
    tmp, shots = Path(cfg["tmp"]), Path(cfg["out"])
    authcfg = json.loads((tmp / "render-result.json").read_text())["authcfg"]
    _profile(cfg, authcfg)
    (tmp / "startup.py").write_text(STARTUP, encoding="utf-8")
    env = {**os.environ, "GV_SHOTS": str(tmp), "GV_SCREEN": "{}x{}".format(*cfg["screen"])}
    with open(tmp / "qgis.log", "wb") as log:
        proc = subprocess.Popen(
            ["qgis", "--nologo", "--noversioncheck", "--profiles-path",
             os.environ["QGIS_CUSTOM_CONFIG_PATH"], "--code", str(tmp / "startup.py"),
             "--project", str(tmp / "geoveilig.qgs")], env=env, stdout=log, stderr=log)
        try:
            w, h = cfg["screen"]
            dialog = (w - 80, h - 60, 40, 30)  # where the startup code puts the dialog
            for mark, name, crop in (("main", "qgis-venster.png", None),
                                     ("dialog", "qgis-verbinden.png", dialog)):
                deadline = time.time() + float(os.environ.get("GV_QGIS_WAIT", "300"))
                while not (tmp / mark).exists():
                    if (tmp / "error").exists():
                        fail("QGIS: " + (tmp / "error").read_text())
                    if proc.poll() is not None or time.time() > deadline:
                        fail(f"QGIS bereikte '{mark}' niet: "
                             + (tmp / "qgis.log").read_text(errors="replace")[-2000:])
                    time.sleep(0.5)
                _shoot(name, shots, crop)
                (tmp / f"{mark}.done").touch()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "render":
        render(Path(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "window":
        window(Path(sys.argv[2]))
    else:
        main()
