"""Self-contained HTML maps with folium (the static export, ``geoveilig map --out kaart.html``).

Leaflet's JS and CSS are inlined from the copy bundled in ``web/static/vendor/leaflet`` (with
its images as data URIs), so the file opens without a server and without internet. An
OpenStreetMap base layer is offered when online; when its tiles fail to load, the map falls
back to a blank base with the gemeente and wijk outlines, which are always drawn. Layers are
plain GeoDataFrames in EPSG:28992; they are converted to WGS84 here, at the edge.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Literal

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import Figure

from .. import WGS84
from ..areas import Areas

Kind = Literal["choropleth", "areas", "points", "outline"]

#: ColorBrewer schemes (5 classes) used for choropleths.
SCHEMES = {
    "YlOrRd": ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"],
    "Blues": ["#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"],
    "Greens": ["#edf8e9", "#bae4b3", "#74c476", "#31a354", "#006d2c"],
    "RdBu_r": ["#2166ac", "#92c5de", "#f7f7f7", "#f4a582", "#b2182b"],  # falls ... rises
}
NO_DATA = "#d9d9d9"


@dataclass(frozen=True)
class MapLayer:
    """One overlay: ``kind`` says how to draw it. ``column`` feeds choropleth colours,
    ``fields`` are (column, Dutch label) pairs for the popup, ``color`` the stroke or point
    colour."""

    name: str
    data: gpd.GeoDataFrame
    kind: Kind = "choropleth"
    column: str | None = None
    legend: str = ""
    fields: Sequence[tuple[str, str]] = field(default=())
    scheme: str = "YlOrRd"
    color: str = "#3366cc"
    show: bool = True
    diverging: bool = False


def _asset(name: str) -> str:
    return (files("geoveilig.web") / "static" / "vendor" / "leaflet" / name).read_text(
        encoding="utf-8")


def _leaflet_inline() -> str:
    css = _asset("leaflet.css")
    images = files("geoveilig.web") / "static" / "vendor" / "leaflet" / "images"
    for png in ("layers.png", "layers-2x.png", "marker-icon.png", "marker-icon-2x.png",
                "marker-shadow.png"):
        data = base64.b64encode((images / png).read_bytes()).decode()
        css = css.replace(f"url(images/{png})", f"url(data:image/png;base64,{data})")
    return f"<style>{css}</style>\n<script>{_asset('leaflet.js')}</script>"


def class_breaks(values: pd.Series, k: int = 5, diverging: bool = False) -> np.ndarray:
    """Class edges for a choropleth: quantiles (k classes), or for a diverging variable
    symmetric edges around zero."""
    v = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    if len(v) == 0:
        return np.array([0.0, 1.0])
    if diverging:
        m = float(np.nanmax(np.abs(v))) or 1.0
        return np.array([-m, -0.6 * m, -0.2 * m, 0.2 * m, 0.6 * m, m])
    edges = np.unique(np.quantile(v, np.linspace(0, 1, k + 1)))
    return edges if len(edges) > 1 else np.array([edges[0], edges[0] + 1])


def _colours(values: pd.Series, edges: np.ndarray, scheme: str) -> list[str]:
    palette = SCHEMES[scheme]
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    idx = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, len(edges) - 2)
    # spread the classes over the palette when there are fewer than 5
    pal_idx = np.round(idx * (len(palette) - 1) / max(len(edges) - 2, 1)).astype(int)
    return [NO_DATA if np.isnan(x) else palette[i] for x, i in zip(v, pal_idx, strict=True)]


def _fmt(x: float) -> str:
    return f"{x:,.0f}".replace(",", ".") if abs(x) >= 100 else f"{x:.2g}".replace(".", ",")


def _legend_html(layer: MapLayer, edges: np.ndarray | None) -> str:
    title = html.escape(layer.legend or layer.name)
    rows = []
    if layer.kind == "choropleth" and edges is not None:
        palette = SCHEMES["RdBu_r" if layer.diverging else layer.scheme]
        n = len(edges) - 1
        for i in range(n):
            colour = palette[round(i * (len(palette) - 1) / max(n - 1, 1))]
            rows.append(f'<div><i style="background:{colour}"></i>{_fmt(edges[i])} – '
                        f"{_fmt(edges[i + 1])}</div>")
        rows.append(f'<div><i style="background:{NO_DATA}"></i>geen gegevens</div>')
    else:
        shape = "border-radius:50%" if layer.kind == "points" else ""
        fill = layer.color if layer.kind != "outline" else "transparent"
        rows.append(f'<div><i style="background:{fill};border:2px solid {layer.color};'
                    f'{shape}"></i>{html.escape(layer.name)}</div>')
    hidden = "" if layer.show else ' style="display:none"'
    return (f'<div class="gv-legend-item" data-layer="{html.escape(layer.name)}"{hidden}>'
            f"<b>{title}</b>{''.join(rows)}</div>")


def _popup_fields(layer: MapLayer, gdf: gpd.GeoDataFrame) -> tuple[list[str], list[str]]:
    present = [(c, lbl) for c, lbl in layer.fields if c in gdf.columns]
    return [c for c, _ in present], [lbl for _, lbl in present]


def _jsonable(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = gdf.copy()
    for c in out.columns:
        if c == out.geometry.name:
            continue
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].astype(str)
        elif out[c].dtype == object:
            out[c] = out[c].map(lambda v: v if v is None or isinstance(v, str | int | float |
                                                                           bool) else str(v))
    return out


def add_layer(fmap: folium.Map, layer: MapLayer) -> str:
    """Draw one layer on ``fmap``; returns its legend HTML."""
    gdf = _jsonable(layer.data.to_crs(WGS84))
    edges = None
    if layer.kind == "choropleth" and layer.column:
        edges = class_breaks(gdf[layer.column], diverging=layer.diverging)
        gdf["_fill"] = _colours(gdf[layer.column], edges,
                                "RdBu_r" if layer.diverging else layer.scheme)
    fields, aliases = _popup_fields(layer, gdf)
    group = folium.FeatureGroup(name=layer.name, show=layer.show)
    if layer.kind == "points":
        keep = [*fields, "geometry"]
        data = json.loads(gdf[keep].to_json(drop_id=True))
        folium.GeoJson(
            data,
            marker=folium.CircleMarker(radius=6, fill=True, fill_opacity=0.85, weight=1,
                                       color="#222", fill_color=layer.color),
            popup=folium.GeoJsonPopup(fields=fields, aliases=aliases) if fields else None,
        ).add_to(group)
    else:
        keep = [*fields, *(["_fill"] if "_fill" in gdf else []), "geometry"]
        data = json.loads(gdf[keep].to_json(drop_id=True))
        kind, colour = layer.kind, layer.color

        def style(feature: dict) -> dict:
            if kind == "choropleth":
                return {"fillColor": feature["properties"].get("_fill", NO_DATA),
                        "color": "#555", "weight": 1, "fillOpacity": 0.7}
            if kind == "outline":
                return {"fill": False, "color": colour, "weight": 2}
            return {"fillColor": colour, "color": colour, "weight": 1, "fillOpacity": 0.3}

        folium.GeoJson(
            data, style_function=style,
            highlight_function=lambda _f: {"weight": 3},
            popup=folium.GeoJsonPopup(fields=fields, aliases=aliases) if fields else None,
            tooltip=folium.GeoJsonTooltip(fields=fields[:1], aliases=aliases[:1])
            if fields else None,
        ).add_to(group)
    group.add_to(fmap)
    return _legend_html(layer, edges)


_SCRIPT = """
<script>
document.addEventListener("DOMContentLoaded", function () {
  var map = window[%(map)s];
  function toggle(name, on) {
    document.querySelectorAll(".gv-legend-item").forEach(function (el) {
      if (el.getAttribute("data-layer") === name) el.style.display = on ? "block" : "none";
    });
  }
  map.on("overlayadd", function (e) { toggle(e.name, true); });
  map.on("overlayremove", function (e) { toggle(e.name, false); });
  var osm = window.gvOsm;
  if (osm) {
    var failed = 0;
    osm.on("tileerror", function () {
      failed += 1;
      if (failed === 3 && map.hasLayer(osm)) {
        map.removeLayer(osm);
        document.getElementById("gv-offline").style.display = "block";
      }
    });
  }
});
</script>
"""

_STYLE = """
<style>
.gv-legend{position:absolute;bottom:24px;right:10px;z-index:1000;background:#fff;
  padding:8px 10px;font:12px/1.4 sans-serif;border-radius:4px;box-shadow:0 1px 4px #0004;
  max-height:60%;overflow:auto}
.gv-legend i{display:inline-block;width:14px;height:14px;margin-right:6px;vertical-align:-2px}
.gv-legend-item{margin-bottom:6px}
.gv-title{position:absolute;top:10px;left:54px;z-index:1000;background:#fffe;padding:6px 10px;
  font:bold 15px sans-serif;border-radius:4px;box-shadow:0 1px 4px #0004}
.gv-note{font:11px sans-serif;color:#444;font-weight:normal}
#gv-offline{display:none;position:absolute;bottom:24px;left:10px;z-index:1000;background:#fff;
  padding:4px 8px;font:12px sans-serif;border-radius:4px}
</style>
"""


def static_map(areas: Areas, layers: Sequence[MapLayer], *, title: str,
               note: str = "", online_base: bool = True) -> str:
    """A self-contained HTML document with the gemeente/wijk outlines and ``layers``."""
    outline = areas.gemeente.to_crs(WGS84)
    minx, miny, maxx, maxy = outline.total_bounds
    fmap = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=13,
                      tiles=None, control_scale=True, prefer_canvas=False)
    fmap.default_js = []
    fmap.default_css = []
    root = fmap.get_root()
    assert isinstance(root, Figure)  # folium.Map puts itself in a Figure
    root.header.add_child(folium.Element(_leaflet_inline()))
    root.header.add_child(folium.Element(_STYLE))
    folium.FeatureGroup(name="Geen achtergrond (grenzen)", overlay=False,
                        control=True).add_to(fmap)
    if online_base:
        from ..settings import BASEMAP_ATTRIBUTION, BASEMAP_URL

        osm = folium.TileLayer(  # PDOK BRT-Achtergrondkaart grijs, as Dutch government maps
            BASEMAP_URL, attr=BASEMAP_ATTRIBUTION, max_zoom=19,
            name="Achtergrondkaart BRT grijs (PDOK, online)", overlay=False, control=True)
        osm.add_to(fmap)
    outlines = [
        MapLayer("Gemeentegrens", areas.gemeente[["code", "name", "geometry"]], kind="outline",
                 color="#000000", fields=(("name", "Gemeente"),)),
        MapLayer("Wijkgrenzen", areas.wijken[["code", "name", "geometry"]], kind="outline",
                 color="#666666", fields=(("name", "Wijk"), ("code", "Code"))),
    ]
    legends = [add_layer(fmap, lay) for lay in (*outlines, *layers)]
    folium.LayerControl(collapsed=False).add_to(fmap)
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    legend = f'<div class="gv-legend">{"".join(legends)}</div>'
    heading = (f'<div class="gv-title">{html.escape(title)}'
               + (f'<div class="gv-note">{html.escape(note)}</div>' if note else "") + "</div>")
    offline = ('<div id="gv-offline">Geen internet: achtergrondkaart uit, alleen grenzen.'
               "</div>")
    root.html.add_child(folium.Element(legend + heading + offline))
    osm_js = f"window.gvOsm = {osm.get_name()};" if online_base else ""
    script = _SCRIPT % {"map": json.dumps(fmap.get_name())}
    root.script.add_child(folium.Element(osm_js))
    root.html.add_child(folium.Element(script))
    return _accessible(root.render(), title)


def _accessible(page: str, title: str) -> str:
    """WCAG 2.1 AA basics folium leaves out: the page's language, a title, and zooming
    allowed on phones (folium's viewport forbids it)."""
    page = page.replace("<html>", '<html lang="nl">', 1)
    page = re.sub(r'<meta name="viewport"[^>]*>',
                  '<meta name="viewport" content="width=device-width, initial-scale=1">', page)
    head = f"<title>{html.escape(title)} – geoveilig</title>"
    return page.replace("<head>", "<head>\n    " + head, 1)
