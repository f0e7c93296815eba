"""The OGC API - Features engine, without FastAPI: parse the standard query parameters
(bbox, bbox-crs, datetime, limit, offset, crs, property filters), prepare a layer once per
(parameters, role, data version) and serialise pages of it as GeoJSON bytes.

Layers come from ``geoveilig.layers``; nothing here knows about a particular layer.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from .._json import json_value
from ..errors import InvalidInput, NotFound
from ..layers import MAX_YEAR, MIN_YEAR, Layer, LayerContext
from ..times import local_series, local_timestamp

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
RD = "http://www.opengis.net/def/crs/EPSG/0/28992"
SUPPORTED_CRS = (CRS84, RD)
_CRS_ALIASES = {
    CRS84: CRS84, RD: RD, "EPSG:28992": RD, "OGC:CRS84": CRS84, "CRS84": CRS84,
    "urn:ogc:def:crs:OGC:1.3:CRS84": CRS84, "urn:ogc:def:crs:EPSG::28992": RD,
    "https://www.opengis.net/def/crs/OGC/1.3/CRS84": CRS84,
    "https://www.opengis.net/def/crs/EPSG/0/28992": RD,
}
PRECISION = {CRS84: 7, RD: 2}  # ~1 cm in both systems

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000

#: query parameters every items request may carry
ITEMS_PARAMS = ("bbox", "bbox-crs", "datetime", "limit", "offset", "crs", "f")
ITEM_PARAMS = ("crs", "f")
FORMATS = ("json", "geojson")


@lru_cache(maxsize=4)
def transformer(src: str, dst: str) -> Transformer:
    """One pyproj Transformer per direction for the whole process (building one costs
    milliseconds; pygeoapi builds one per request)."""
    return Transformer.from_crs(src, dst, always_xy=True)


def parse_crs(text: str | None, name: str = "crs") -> str:
    if text is None:
        return CRS84
    crs = _CRS_ALIASES.get(text.strip())
    if crs is None:
        raise InvalidInput(f"niet ondersteund coördinatenstelsel '{text}' in {name}: kies "
                           f"{CRS84} of {RD}", where=name)
    return crs


def parse_limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not re.fullmatch(r"\s*\d+\s*", text):
        raise InvalidInput(f"ongeldige limit '{text}': verwacht een geheel getal >= 1",
                           where="limit")
    value = int(text)
    if value < 1:
        raise InvalidInput("limit moet minstens 1 zijn", where="limit")
    return min(value, MAX_LIMIT)  # too large: clamped, not an error


def parse_offset(text: str | None) -> int:
    if text is None:
        return 0
    if not re.fullmatch(r"\s*\d+\s*", text):
        raise InvalidInput(f"ongeldige offset '{text}': verwacht een geheel getal >= 0",
                           where="offset")
    return int(text)


def parse_bbox(text: str | None, bbox_crs: str) -> tuple[float, float, float, float] | None:
    """The bbox as RD (minx, miny, maxx, maxy)."""
    if text is None:
        return None
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InvalidInput(f"ongeldige bbox '{text}': verwacht vier getallen "
                           "minx,miny,maxx,maxy", where="bbox") from None
    if len(values) == 6:  # 3D bbox: drop the heights
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4 or not all(np.isfinite(values)):
        raise InvalidInput(f"ongeldige bbox '{text}': verwacht vier (of zes) getallen, "
                           f"kreeg er {len(values)}", where="bbox")
    minx, miny, maxx, maxy = values
    if minx > maxx or miny > maxy:
        raise InvalidInput(f"ongeldige bbox '{text}': minimum groter dan maximum",
                           where="bbox")
    if bbox_crs == CRS84:
        if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90
                and -90 <= maxy <= 90):
            raise InvalidInput(f"bbox '{text}' valt buiten lengte -180..180 / breedte -90..90 "
                               "(CRS84); gebruik bbox-crs voor RD-coördinaten", where="bbox")
        # clip to the valid area of RD New before transforming
        minx, maxx = max(minx, 2.0), min(maxx, 8.0)
        miny, maxy = max(miny, 50.0), min(maxy, 56.0)
        if minx > maxx or miny > maxy:
            return (0.0, 0.0, -1.0, -1.0)  # empty: nothing in the Netherlands
        return transformer(CRS84, "EPSG:28992").transform_bounds(minx, miny, maxx, maxy,
                                                                  densify_pts=21)
    return (minx, miny, maxx, maxy)


_INSTANT = r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?)?"
_DT_RE = re.compile(f"^{_INSTANT}$")


def datetime_pattern() -> str:
    """The published pattern of ``datetime`` (``parse_datetime``): an instant, or an interval
    ``a/b`` whose ends are instants, ``..`` or empty; years within MIN_YEAR..MAX_YEAR."""
    from ..layers import year_regex

    instant = _INSTANT.replace(r"\d{4}", f"({year_regex()})", 1)
    return rf"^\s*({instant}|({instant}|\.\.)?\s*/\s*({instant}|\.\.)?)\s*$"


def _instant(text: str, end: bool) -> pd.Timestamp:
    """An RFC 3339 date-time or date; a date as an interval end means the end of that day."""
    t = text.strip()
    if not _DT_RE.match(t):
        raise InvalidInput(f"ongeldige datetime '{text}': verwacht RFC 3339, bv. "
                           "2017-05-01T12:00:00Z of 2017-05-01, of een interval a/b met '..'",
                           where="datetime")
    try:
        ts = local_timestamp(t)
        if end and len(t) == 10:
            ts = ts + pd.Timedelta(days=1) - pd.Timedelta(nanoseconds=1)
        ts = ts.tz_convert("UTC").as_unit("ns")
    except (ValueError, OverflowError):
        raise InvalidInput(f"ongeldige datetime '{text}'", where="datetime") from None
    if not MIN_YEAR <= ts.year <= MAX_YEAR:
        raise InvalidInput(f"datetime '{text}' ligt buiten de jaren {MIN_YEAR}-{MAX_YEAR}",
                           where="datetime")
    return ts


def parse_datetime(text: str | None) -> tuple[pd.Timestamp | None, pd.Timestamp | None] | None:
    """OGC ``datetime``: an instant, or ``a/b`` with ``..`` (or empty) for an open end."""
    if text is None:
        return None
    t = text.strip()
    if "/" in t:
        a, b = (p.strip() for p in t.split("/", 1))
        lo = None if a in ("", "..") else _instant(a, end=False)
        hi = None if b in ("", "..") else _instant(b, end=True)
        if lo is None and hi is None and not (a in ("", "..") and b in ("", "..")):
            raise InvalidInput(f"ongeldige datetime '{text}'", where="datetime")
        if lo is not None and hi is not None and hi < lo:
            raise InvalidInput(f"ongeldige datetime '{text}': het einde ligt voor het begin",
                               where="datetime")
        return lo, hi
    return _instant(t, end=False), _instant(t, end=True)


# --- prepared layers -------------------------------------------------------------------------

def _times(values: pd.Series, end: bool) -> np.ndarray:
    """ISO text -> int64 UTC nanoseconds; a date-only value is a day in Europe/Amsterdam (as
    an interval end it covers the whole day)."""
    text = pd.Series(values.astype(object).to_numpy(), dtype=object)
    empty = np.iinfo(np.int64).max if end else np.iinfo(np.int64).min
    out = np.full(len(text), empty, dtype=np.int64)
    is_str = text.map(lambda s: isinstance(s, str)).to_numpy(dtype=bool)
    date_only = is_str & text.map(lambda s: isinstance(s, str) and len(s) == 10).to_numpy(
        dtype=bool)
    stamped = is_str & ~date_only
    if date_only.any():
        d = pd.to_datetime(text[date_only], errors="coerce", format="%Y-%m-%d")
        ns = (local_series(d).dt.tz_convert("UTC").dt.as_unit("ns")
              .astype("int64").to_numpy())
        out[date_only] = ns + (86_400 * 10**9 - 1 if end else 0)
    if stamped.any():
        t = pd.to_datetime(text[stamped], errors="coerce", utc=True, format="ISO8601")
        out[stamped] = t.dt.as_unit("ns").astype("int64").to_numpy()
    return out


@dataclass
class Prepared:
    """A built layer ready for paging: ids, RD bounds, time ranges, JSON-ready properties,
    and the serialised features per output CRS (made lazily, once)."""

    layer: Layer
    ids: np.ndarray
    bounds: np.ndarray
    t_lo: np.ndarray | None
    t_hi: np.ndarray | None
    columns: dict[str, np.ndarray]
    geometry: np.ndarray
    props: list[str]
    #: what holds for every feature (e.g. a hotspot layer's method and window): served once
    #: per response as the foreign member "parameters"
    parameters: dict[str, Any] = field(default_factory=dict)
    _features: dict[str, list[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def features(self, crs: str) -> list[str]:
        with self._lock:
            if crs not in self._features:
                self._features[crs] = self._serialise(crs)
            return self._features[crs]

    def _serialise(self, crs: str) -> list[str]:
        geoms = self.geometry
        if crs == CRS84:
            tr = transformer("EPSG:28992", CRS84)
            geoms = shapely.transform(geoms, lambda c: np.column_stack(
                tr.transform(c[:, 0], c[:, 1])))
        digits = PRECISION[crs]
        geoms = shapely.transform(geoms, lambda c: np.round(c, digits))
        gjson = shapely.to_geojson(geoms)
        ids = [json.dumps(i) for i in self.ids.tolist()]
        return [f'{{"type":"Feature","id":{i},"geometry":{g},"properties":{p}}}'
                for i, g, p in zip(ids, gjson.tolist(), self.props, strict=True)]


def _records_json(props: pd.DataFrame) -> list[str]:
    """One JSON object per row (pandas' C encoder, JSON Lines split at the newlines, which
    JSON strings always escape): NaN/None -> null, timestamps -> ISO 8601."""
    if len(props) == 0:
        return []
    if len(props.columns) == 0:
        return ["{}"] * len(props)
    clean = props.copy()
    for col in clean.columns:
        if isinstance(clean[col].dtype, pd.DatetimeTZDtype):
            clean[col] = clean[col].map(json_value)
    text = clean.to_json(orient="records", lines=True, force_ascii=False, date_format="iso",
                         double_precision=10)
    lines = text.rstrip("\n").split("\n")
    if len(lines) != len(props):  # never expected; keep the slow exact path as a guard
        records = props.astype(object).where(props.notna(), None).to_dict("records")
        return [json.dumps({k: json_value(v) for k, v in r.items()}, ensure_ascii=False,
                           allow_nan=False, separators=(",", ":")) for r in records]
    return lines


def prepare(layer: Layer, frame: Any) -> Prepared:
    parameters = dict(frame.attrs.get("parameters") or {})
    frame = frame.reset_index(drop=True)
    if layer.id_column not in frame:
        raise InvalidInput(f"laag {layer.id}: kolom {layer.id_column} ontbreekt")
    geometry = frame.geometry.to_numpy()
    props = frame.drop(columns=[frame.geometry.name])
    props_json = _records_json(props)
    t_lo = t_hi = None
    if layer.time_columns:
        t_lo = _times(frame[layer.time_columns[0]], end=False)
        t_hi = _times(frame[layer.time_columns[-1]], end=True)
        if len(layer.time_columns) == 1:  # instants: exact moments
            t_hi = np.where(t_lo == np.iinfo(np.int64).min, np.iinfo(np.int64).max, t_lo)
    columns = {c: props[c].astype(str).str.lower().to_numpy() for c in layer.queryables
               if c in props}
    return Prepared(layer=layer, ids=frame[layer.id_column].astype(str).to_numpy(),
                    bounds=shapely.bounds(geometry).reshape(-1, 4), t_lo=t_lo, t_hi=t_hi,
                    columns=columns, geometry=geometry, props=props_json,
                    parameters=parameters)


class LayerCache:
    """Prepared layers keyed by (layer id, parameters, role, data version), LRU-bounded.
    Concurrent identical misses build once."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[tuple, Prepared] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[tuple, threading.Lock] = {}

    @staticmethod
    def key(layer: Layer, params: Mapping[str, Any], role: str, version: str) -> tuple:
        return (layer.id, _freeze(params), role if layer.depends_on_role else "-", version)

    def peek(self, layer: Layer, params: Mapping[str, Any], role: str, version: str
             ) -> Prepared | None:
        """The prepared layer if it is cached (no building)."""
        key = self.key(layer, params, role, version)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def get(self, layer: Layer, ctx: LayerContext, params: Mapping[str, Any], role: str,
            version: str) -> Prepared:
        key = self.key(layer, params, role, version)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            build_lock = self._building.setdefault(key, threading.Lock())
        with build_lock:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            prepared = prepare(layer, layer.build(ctx, params, role))
            with self._lock:
                self._items[key] = prepared
                self._building.pop(key, None)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return prepared


#: bodies smaller than this are not worth compressing
GZIP_MIN_BYTES = 1024


@dataclass
class Cached:
    """A finished response body with its headers, and its gzip form (made once, on the first
    request that accepts it: compressing a 1 MB layer costs ~10 ms, sending it 5 times less
    than that)."""

    body: bytes
    headers: dict[str, str]
    #: (action, target) of the audit row every read of this page writes; None: public
    audit: tuple[str, str] | None = None
    _gzip: bytes | None = None
    #: (gzip?, media type) -> (headers of a 304, headers of a 200, body of a 200)
    _answers: dict[tuple[bool, str], tuple[list[tuple[bytes, bytes]],
                                           list[tuple[bytes, bytes]], bytes]] = field(
        default_factory=dict)

    def gzip(self) -> bytes:
        if self._gzip is None:
            self._gzip = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self._gzip

    def raw(self, accept_encoding: str | None, if_none_match: str | None, media_type: str
            ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Status, raw ASGI headers and body for a request: the gzip form, with its own ETag,
        when ``Accept-Encoding`` allows it; 304 when ``If-None-Match`` matches either ETag;
        ``Vary: Accept-Encoding`` on every answer. Both answers of an encoding (header
        lists and body) are made once and shared: the lists must not be changed in place
        (ASGI middleware copies them before adding a header)."""
        zipped = len(self.body) >= GZIP_MIN_BYTES and accepts_gzip(accept_encoding)
        key = (zipped, media_type)
        answer = self._answers.get(key)
        if answer is None:
            headers = {**self.headers, "Vary": "Accept-Encoding", "Content-Type": media_type}
            if zipped:
                headers["Content-Encoding"] = "gzip"
                headers["ETag"] = gzip_etag(headers["ETag"])
            raw = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                   for k, v in headers.items()]
            body = self.gzip() if zipped else self.body
            answer = (raw, [*raw, (b"content-length", str(len(body)).encode())], body)
            self._answers[key] = answer
        if if_none_match and etag_matches(if_none_match, self.headers["ETag"]):
            return 304, answer[0], b""
        return 200, answer[1], answer[2]


@lru_cache(maxsize=256)
def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an ``Accept-Encoding`` header allows gzip (``gzip;q=0`` refuses it)."""
    for part in (accept_encoding or "").lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            q = params.strip().removeprefix("q=")
            try:
                return not params.strip().startswith("q=") or float(q) > 0
            except ValueError:
                return False
    return False


def gzip_etag(tag: str) -> str:
    return tag[:-1] + '-gz"' if tag.endswith('"') else tag + "-gz"


def etag_matches(if_none_match: str | None, tag: str) -> bool:
    """``If-None-Match`` against an entity tag, in either encoding (weak comparison, as RFC
    9110 asks for GET; ``*`` matches anything)."""
    if not if_none_match:
        return False
    wanted = {tag, gzip_etag(tag)}
    for candidate in if_none_match.split(","):
        c = candidate.strip().removeprefix("W/")
        if c == "*" or c in wanted:
            return True
    return False


class ResponseCache:
    """Finished response bodies by (URL, role, data version): small LRU, bounded in entries
    and bytes (gzip forms included)."""

    def __init__(self, size: int = 512, max_bytes: int = 64 * 2**20) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, Cached] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Cached | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def put(self, key: tuple, value: Cached) -> Cached:
        """Keep ``value`` (unless too large); returns what is kept under ``key``."""
        if len(value.body) > self.max_bytes // 8:
            return value  # large pages (e.g. 10000 incidents) are not worth keeping
        with self._lock:
            if key in self._items:
                return self._items[key]
            self._items[key] = value
            self._bytes += 2 * len(value.body)  # with room for its gzip form
            while len(self._items) > self.size or self._bytes > self.max_bytes:
                _k, old = self._items.popitem(last=False)
                self._bytes -= 2 * len(old.body)
            return value


def _freeze(params: Mapping[str, Any]) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in params.items()))


# --- queries -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ItemsQuery:
    bbox: tuple[float, float, float, float] | None
    interval: tuple[pd.Timestamp | None, pd.Timestamp | None] | None
    limit: int
    offset: int
    crs: str
    filters: tuple[tuple[str, str], ...]


def parse_items_query(layer: Layer, raw: Mapping[str, str]) -> ItemsQuery:
    allowed = set(ITEMS_PARAMS) | {p.name for p in layer.params} | set(layer.queryables)
    check_unknown(raw, allowed)
    check_format(raw)
    crs = parse_crs(raw.get("crs"), "crs")
    bbox_crs = parse_crs(raw.get("bbox-crs"), "bbox-crs")
    return ItemsQuery(
        bbox=parse_bbox(raw.get("bbox"), bbox_crs),
        interval=parse_datetime(raw.get("datetime")),
        limit=parse_limit(raw.get("limit")),
        offset=parse_offset(raw.get("offset")),
        crs=crs,
        filters=tuple((q, raw[q].strip().lower()) for q in layer.queryables if q in raw),
    )


def check_unknown(raw: Mapping[str, str], allowed: set[str] | tuple[str, ...]) -> None:
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise InvalidInput(f"onbekende queryparameter(s): {', '.join(unknown)}; toegestaan: "
                           f"{', '.join(sorted(allowed))}", where=unknown[0])


def check_format(raw: Mapping[str, str]) -> None:
    f = raw.get("f")
    if f is not None and f not in FORMATS:
        raise InvalidInput(f"niet ondersteund formaat f={f}: kies json of geojson", where="f")


def select(prepared: Prepared, q: ItemsQuery) -> np.ndarray:
    """Positions of the features matching the query (all pages)."""
    n = len(prepared.ids)
    mask = np.ones(n, dtype=bool)
    if q.bbox is not None:
        b = prepared.bounds
        minx, miny, maxx, maxy = q.bbox
        mask &= (b[:, 0] <= maxx) & (b[:, 2] >= minx) & (b[:, 1] <= maxy) & (b[:, 3] >= miny)
        if prepared.layer.geometry_type != "Point" and mask.any():
            box = shapely.box(minx, miny, maxx, maxy)
            idx = np.flatnonzero(mask)
            mask[idx] = shapely.intersects(prepared.geometry[idx], box)
    if q.interval is not None and prepared.t_lo is not None:
        lo, hi = q.interval
        if hi is not None:
            mask &= prepared.t_lo <= hi.as_unit("ns").value
        if lo is not None:
            mask &= prepared.t_hi >= lo.as_unit("ns").value
    for name, value in q.filters:
        col = prepared.columns.get(name)
        if col is not None:
            mask &= col == value
    return np.flatnonzero(mask)


def _parameters_member(prepared: Prepared) -> str:
    """``,"parameters":{...}`` for a layer with per-response constants, else nothing."""
    if not prepared.parameters:
        return ""
    return ',"parameters":' + json.dumps(prepared.parameters, ensure_ascii=False,
                                         separators=(",", ":"))


def items_body(prepared: Prepared, q: ItemsQuery, links: list[dict],
               idx: np.ndarray | None = None) -> tuple[bytes, int, int]:
    """The FeatureCollection bytes of one page (``idx``: ``select``'s answer, if known);
    also numberMatched and numberReturned."""
    idx = select(prepared, q) if idx is None else idx
    page = idx[q.offset:q.offset + q.limit]
    feats = prepared.features(q.crs)
    matched, returned = len(idx), len(page)
    params = _parameters_member(prepared)
    body = ('{"type":"FeatureCollection","features":['
            + ",".join(feats[i] for i in page.tolist())
            + f'],"numberMatched":{matched},"numberReturned":{returned}{params},'
            + '"links":' + json.dumps(links, separators=(",", ":")) + "}")
    return body.encode(), matched, returned


def feature_body(prepared: Prepared, feature_id: str, crs: str, links: list[dict]) -> bytes:
    hits = np.flatnonzero(prepared.ids == feature_id)
    if len(hits) == 0:
        raise NotFound(f"geen object '{feature_id}' in collectie '{prepared.layer.id}'")
    feat = prepared.features(crs)[int(hits[0])]
    params = _parameters_member(prepared)
    return (feat[:-1] + params + ',"links":' + json.dumps(links, separators=(",", ":"))
            + "}").encode()


def etag(*parts: object) -> str:
    return '"' + hashlib.sha1(repr(parts).encode()).hexdigest()[:20] + '"'
