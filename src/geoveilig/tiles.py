"""Vector tiles (Mapbox Vector Tiles, MVT 2.1) of map layers in two tile matrix sets:
``WebMercatorQuad`` (web maps) and ``NetherlandsRDNewQuad`` (the Dutch RD New tiling PDOK
uses: origin -285401.92, 903401.92, 3440.64 m per pixel at level 0, 256-pixel tiles), both as
``morecantile`` tile matrix sets.

Two encoders with the same answer:

- ``TileSource``: a layer's features (any GeoDataFrame in EPSG:28992, already built for a role
  by ``geoveilig.layers``, so with the same properties and disclosure control as the
  features) clipped and encoded with ``mapbox-vector-tile``; used for every layer on SQLite;
- ``postgis_incident_tile``: the incident points straight from the PostGIS table with
  ``ST_AsMVTGeom``/``ST_AsMVT``, with exactly the properties of ``layers.build_incidents``.

No HTTP here: ``geoveilig.api.tiles`` serves these.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import mapbox_vector_tile
import morecantile
import numpy as np
import shapely
import sqlalchemy as sa
from mapbox_vector_tile.encoder import on_invalid_geometry_make_valid
from pyproj import CRS, Transformer

from . import crimetypes
from .errors import InvalidInput, NotFound
from .spatial import require_rd

#: tile extent (MVT coordinates per tile side) and the buffer around a tile in those units
EXTENT = 4096
BUFFER = 64
MVT = "application/vnd.mapbox-vector-tile"

#: the Dutch tile matrix set (Geonovum / PDOK definition)
RD_QUAD_EXTENT = (-285401.92, 22598.08, 595401.92, 903401.92)
RD_QUAD_MAXZOOM = 16


def _rd_new_quad() -> morecantile.TileMatrixSet:
    return morecantile.TileMatrixSet.custom(
        list(RD_QUAD_EXTENT), CRS.from_epsg(28992), id="NetherlandsRDNewQuad",
        title="Amersfoort / RD New (EPSG:28992), 256 x 256 pixels, 3440.64 m per pixel op "
              "niveau 0", minzoom=0, maxzoom=RD_QUAD_MAXZOOM)


TILE_MATRIX_SETS: dict[str, morecantile.TileMatrixSet] = {
    "WebMercatorQuad": morecantile.tms.get("WebMercatorQuad"),
    "NetherlandsRDNewQuad": _rd_new_quad(),
}

#: the zoom levels served (and described in the tileset metadata) per tile matrix set: from a
#: whole province down to a few metres per pixel; deeper levels would only magnify
ZOOMS: dict[str, tuple[int, int]] = {
    "WebMercatorQuad": (0, 20),
    "NetherlandsRDNewQuad": (0, 14),
}


def tile_matrix_set(tms_id: str) -> morecantile.TileMatrixSet:
    try:
        return TILE_MATRIX_SETS[tms_id]
    except KeyError:
        raise NotFound(f"onbekende tegelmatrixset '{tms_id}': kies uit "
                       f"{', '.join(TILE_MATRIX_SETS)}") from None


@dataclass(frozen=True)
class TileAddress:
    """One tile: tile matrix set id, tile matrix (zoom) ``z``, row ``y``, column ``x``."""

    tms_id: str
    z: int
    y: int
    x: int

    @property
    def tms(self) -> morecantile.TileMatrixSet:
        return TILE_MATRIX_SETS[self.tms_id]

    def bounds(self) -> tuple[float, float, float, float]:
        """The tile's box in the tile matrix set's CRS."""
        b = self.tms.xy_bounds(morecantile.Tile(self.x, self.y, self.z))
        return (b.left, b.bottom, b.right, b.top)


def _index(text: str, name: str) -> int:
    value = text.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        raise InvalidInput(f"ongeldige {name} '{text}': verwacht een geheel getal >= 0",
                           where=name)
    return int(value)


def parse_tile(tms_id: str, z: str, y: str, x: str) -> TileAddress:
    """The tile of an OGC API - Tiles path: ``InvalidInput`` (400) for text that is not a
    tile index, ``NotFound`` (404) for a tile outside the tile matrix set or beyond the zoom
    levels served."""
    tms = tile_matrix_set(tms_id)
    zi, yi, xi = _index(z, "tileMatrix"), _index(y, "tileRow"), _index(x, "tileCol")
    lo, hi = ZOOMS[tms_id]
    if not lo <= zi <= hi:
        raise NotFound(f"tegelmatrix {zi} bestaat niet in {tms_id} (niveaus {lo} tot en met "
                       f"{hi})")
    matrix = tms.matrix(zi)
    if xi >= matrix.matrixWidth or yi >= matrix.matrixHeight:
        raise NotFound(f"tegel {zi}/{yi}/{xi} ligt buiten {tms_id} (rijen 0-"
                       f"{matrix.matrixHeight - 1}, kolommen 0-{matrix.matrixWidth - 1})")
    return TileAddress(tms_id, zi, yi, xi)


def tile_limits(tms_id: str, bounds_rd: Sequence[float]) -> list[dict[str, Any]]:
    """``tileMatrixSetLimits`` (OGC TMS 2.0) of the tiles that cover an RD box, per zoom
    level served."""
    tms = TILE_MATRIX_SETS[tms_id]
    tr = _transformer(28992, tms.crs.to_epsg() or 3857)
    bx0, by0, bx1, by1 = bounds_rd
    x0, y0, x1, y1 = tr.transform_bounds(bx0, by0, bx1, by1, densify_pts=21)
    out = []
    lo, hi = ZOOMS[tms_id]
    for z in range(lo, hi + 1):
        m = tms.matrix(z)
        span = m.cellSize * m.tileWidth
        ox, oy = m.pointOfOrigin
        cols = (max(0, math.floor((x0 - ox) / span)),
                min(m.matrixWidth - 1, math.floor((x1 - ox) / span)))
        rows = (max(0, math.floor((oy - y1) / span)),
                min(m.matrixHeight - 1, math.floor((oy - y0) / span)))
        out.append({"tileMatrix": str(z), "minTileRow": rows[0], "maxTileRow": rows[1],
                    "minTileCol": cols[0], "maxTileCol": cols[1]})
    return out


_TRANSFORMERS: dict[tuple[int, int], Transformer] = {}


def _transformer(src: int, dst: int) -> Transformer:
    key = (src, dst)
    if key not in _TRANSFORMERS:
        _TRANSFORMERS[key] = Transformer.from_crs(src, dst, always_xy=True)
    return _TRANSFORMERS[key]


def mvt_value(value: Any) -> Any:
    """A property value as MVT can hold it: str, int, float or bool; None is left out (MVT
    has no null: a reader sees the property as missing); lists and objects become JSON."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return mvt_value(value.item())
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class TileSource:
    """A layer's features ready to be cut into tiles: geometries in EPSG:28992 with their
    properties (one mapping per feature, as the features API serves them). Geometries in
    another tile CRS are projected once, on the first tile that needs them."""

    def __init__(self, name: str, geometry: np.ndarray, properties: Sequence[Mapping[str, Any]]
                 ) -> None:
        if len(geometry) != len(properties):
            raise InvalidInput(f"laag {name}: {len(geometry)} geometrieën maar "
                               f"{len(properties)} eigenschappen")
        self.name = name
        self.properties = [{k: v for k, v in ((k, mvt_value(v)) for k, v in p.items())
                            if v is not None} for p in properties]
        self.points = bool(len(geometry)) and bool(
            np.all(shapely.get_type_id(geometry) == 0))
        self._geometry: dict[int, tuple[np.ndarray, shapely.STRtree]] = {}
        self._lock = threading.Lock()
        geometry = np.asarray(geometry, dtype=object)
        self._geometry[28992] = (geometry, shapely.STRtree(geometry))

    @classmethod
    def from_frame(cls, name: str, frame: Any) -> TileSource:
        """From a GeoDataFrame in EPSG:28992 (every column but the geometry is a property)."""
        require_rd(frame, f"laag {name} (tegels)")
        props = frame.drop(columns=[frame.geometry.name])
        records = props.astype(object).where(props.notna(), None).to_dict("records")
        return cls(name, frame.geometry.to_numpy(), records)

    def __len__(self) -> int:
        return len(self.properties)

    def _in(self, epsg: int) -> tuple[np.ndarray, shapely.STRtree]:
        with self._lock:
            if epsg not in self._geometry:
                rd = self._geometry[28992][0]
                tr = _transformer(28992, epsg)
                geoms = shapely.transform(rd, lambda c: np.column_stack(
                    tr.transform(c[:, 0], c[:, 1])))
                self._geometry[epsg] = (geoms, shapely.STRtree(geoms))
            return self._geometry[epsg]

    def tile(self, address: TileAddress) -> bytes:
        """The MVT bytes of one tile (one layer named after the source; an empty tile is
        zero bytes, a valid MVT without layers)."""
        epsg = address.tms.crs.to_epsg() or 3857
        geoms, tree = self._in(epsg)
        x0, y0, x1, y1 = address.bounds()
        pad = 0.0 if self.points else (x1 - x0) * BUFFER / EXTENT
        box = (x0 - pad, y0 - pad, x1 + pad, y1 + pad)
        idx = np.sort(tree.query(shapely.box(*box)))
        if len(idx) == 0:
            return b""
        picked = geoms[idx]
        if not self.points:  # (points: the query is exact)
            picked = shapely.clip_by_rect(picked, *box)
            keep = ~shapely.is_empty(picked)
            idx, picked = idx[keep], picked[keep]
        if len(idx) == 0:
            return b""
        sx, sy = EXTENT / (x1 - x0), EXTENT / (y1 - y0)
        local = shapely.transform(picked, lambda c: np.column_stack(
            ((c[:, 0] - x0) * sx, (y1 - c[:, 1]) * sy)))
        features = [{"geometry": g, "properties": self.properties[i]}
                    for g, i in zip(local.tolist(), idx.tolist(), strict=True)]
        return mapbox_vector_tile.encode(
            [{"name": self.name, "features": features}],
            default_options={"extents": EXTENT, "y_coord_down": True,
                             "on_invalid_geometry": on_invalid_geometry_make_valid})


# --- PostGIS: ST_AsMVT over the incidents table ---------------------------------------------

_INCIDENT_TILE_SQL = """
WITH bounds AS (
    SELECT ST_MakeEnvelope(:x0, :y0, :x1, :y1, :srid) AS tile,
           ST_Transform(ST_Segmentize(ST_MakeEnvelope(:x0, :y0, :x1, :y1, :srid), :seg),
                        28992) AS rd
), rows AS (
    SELECT ST_AsMVTGeom(ST_Transform(i.geom, :srid), bounds.tile, :extent, 0, true) AS geom,
           i.incident_id,
           i.crime_type,
           COALESCE(CAST(:labels AS jsonb) ->> i.crime_type, i.crime_type) AS crime_type_label,
           to_char(to_timestamp(i.occurred_at), :iso) AS occurred_at,
           to_char(to_timestamp(i.occurred_from), :iso) AS occurred_from,
           to_char(to_timestamp(i.occurred_to), :iso) AS occurred_to,
           i.buurt_code,
           i.wijk_code,
           i.address
    FROM incidents i, bounds
    WHERE i.geom && ST_Expand(bounds.rd, 1.0) {crime_filter}
    ORDER BY i.occurred_at, i.id
)
SELECT ST_AsMVT(rows.*, :layer, :extent, 'geom') FROM rows WHERE geom IS NOT NULL
"""

#: Europe/Amsterdam wall clock with offset, as pandas' ``Timestamp.isoformat()`` writes it
_ISO = 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM'


def postgis_incident_tile(conn: sa.Connection, address: TileAddress, layer_name: str,
                          crime_types: Iterable[str] | None) -> bytes:
    """The incident points of one tile encoded by PostGIS (``ST_AsMVT``), with the properties
    of ``layers.build_incidents``; ``crime_types`` None = every type. As in ``TileSource``,
    the tile is a closed box: a point exactly on an edge is in both tiles."""
    epsg = address.tms.crs.to_epsg() or 3857
    x0, y0, x1, y1 = address.bounds()
    params: dict[str, Any] = {
        "x0": x0, "y0": y0, "x1": x1, "y1": y1, "srid": epsg, "seg": (x1 - x0) / 16,
        "extent": EXTENT, "layer": layer_name, "iso": _ISO,
        "labels": json.dumps({s: c.label for s, c in crimetypes.BY_SLUG.items()}),
    }
    crime_filter = ""
    if crime_types is not None:
        crime_filter = "AND i.crime_type = ANY(:types)"
        params["types"] = sorted(crime_types)
    sql = sa.text(_INCIDENT_TILE_SQL.format(crime_filter=crime_filter))
    with conn.begin():
        conn.execute(sa.text("SET LOCAL TIME ZONE 'Europe/Amsterdam'"))
        body = conn.execute(sql, params).scalar_one()
    return bytes(body or b"")
