"""The planning map page (``/kaart``) and its static files (bundled Leaflet, JS, CSS).

The page is a small template that fetches every layer from the OGC API with the caller's key
(kept in the browser's sessionStorage, never in a URL), so it shows exactly what the caller's
role may see."""

from __future__ import annotations

import json
from importlib.resources import files

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from pyproj import Transformer

from .. import crimetypes
from ..layers import field_catalogue
from ..placement.service import KEEP_EXISTING
from .ogc import api_base
from .services import services

_ENV = Environment(loader=PackageLoader("geoveilig.web", "templates"),
                   autoescape=select_autoescape(["html"]))
_TO_WGS84 = Transformer.from_crs("EPSG:28992", "EPSG:4326", always_xy=True)


def page_config(request: Request) -> dict[str, object]:
    """What the page needs to start: API base, crime types, years with data, centre, base
    map, whether the data are synthetic, and the one default for units in place."""
    svc = services(request)
    areas, store, settings = svc.areas, svc.store, svc.settings
    span = store.time_range()
    years = list(range(span[1].year, span[0].year - 1, -1)) if span else []
    complete = [y for y in years if span and span[1].year > y] or years
    synthetic = store.has_synthetic_data()
    minx, miny, maxx, maxy = areas.gemeente.total_bounds
    lon, lat = _TO_WGS84.transform((minx + maxx) / 2, (miny + maxy) / 2)
    types = [("hic", crimetypes.GROUP_LABELS["hic"]), ("totaal", crimetypes.TOTAL_LABEL)]
    types += [(g, crimetypes.GROUP_LABELS[g]) for g in ("geweld", "vermogen", "inbraak",
                                                        "straat")]
    types += [(c.slug, c.label) for c in crimetypes.CRIME_TYPES]
    return {
        "api": api_base(request),
        "crimeTypes": types,
        "defaultCrimeType": "hic",
        "years": years,
        "defaultYear": complete[0] if complete else None,
        "center": [lat, lon],
        "basemapUrl": settings.basemap_url or None,
        "basemapAttribution": settings.basemap_attribution,
        "synthetic": synthetic,
        "keepExisting": KEEP_EXISTING,
        "fields": field_catalogue(),  # Dutch labels, units and formats of the properties
    }


def mount_web(app: FastAPI) -> None:
    """Add ``/kaart`` and ``/static`` to ``app``."""
    static_dir = files("geoveilig.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")
    router = APIRouter(tags=["kaart"])

    @router.get("/kaart", response_class=HTMLResponse, summary="Planningskaart (HTML)")
    def kaart(request: Request) -> HTMLResponse:
        config = json.dumps(page_config(request), ensure_ascii=False).replace("</", "<\\/")
        html = _ENV.get_template("kaart.html").render(static="/static", config=config)
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    @router.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/kaart")

    app.include_router(router)
