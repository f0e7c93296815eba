"""CBS wijk, buurt and gemeente boundaries: loading, validation, lookup of a point's buurt.

Sources: a folder with one file per level (GeoJSON or GeoPackage; the file name says the level:
``*wijk*``, ``*buurt*``, ``*gemeente*``), one GeoPackage with a layer per level, or PDOK's CBS
wijken-en-buurten WFS (``fetch_pdok``; the network call is explicit, nothing here reads
settings). Attribute names may be the CBS ones (``WK_CODE``/``WK_NAAM``/``BU_CODE``/
``BU_NAAM``/``GM_CODE``/``GM_NAAM``), the PDOK ones (``wijkcode``/``buurtnaam``/...) or the
simplified ``statcode``/``statnaam`` form. Everything is returned in EPSG:28992.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from . import RD_NEW
from ._strings import take_strings
from .errors import AreaError, CrsError
from .spatial import PolygonIndex

Level = Literal["gemeente", "wijk", "buurt"]
LEVELS: tuple[Level, ...] = ("gemeente", "wijk", "buurt")

CODE_PATTERN = {
    "gemeente": re.compile(r"^GM\d{4}$"),
    "wijk": re.compile(r"^WK\d{6}$"),
    "buurt": re.compile(r"^BU\d{8}$"),
}

_CODE_COLUMNS = {
    "gemeente": ("GM_CODE", "gemeentecode", "statcode", "code"),
    "wijk": ("WK_CODE", "wijkcode", "statcode", "code"),
    "buurt": ("BU_CODE", "buurtcode", "statcode", "code"),
}
_NAME_COLUMNS = {
    "gemeente": ("GM_NAAM", "gemeentenaam", "naam", "statnaam", "name"),
    "wijk": ("WK_NAAM", "wijknaam", "naam", "statnaam", "name"),
    "buurt": ("BU_NAAM", "buurtnaam", "naam", "statnaam", "name"),
}
#: Optional CBS kerncijfers, renamed to English. Negative values are CBS's "secret/unknown".
_ATTRIBUTE_COLUMNS = {
    "inhabitants": ("AANT_INW", "aantal_inwoners", "aantalInwoners", "inhabitants"),
    "dwellings": ("WONINGEN", "woningvoorraad", "aantal_woningen", "dwellings"),
    "households": ("AANT_HH", "aantal_huishoudens", "households"),
}


def _level_of_name(name: str) -> Level | None:
    low = name.lower()
    for key, level in (("buurt", "buurt"), ("wijk", "wijk"), ("gemeente", "gemeente"),
                       ("gemeenten", "gemeente")):
        if key in low:
            return level  # type: ignore[return-value]
    return None


def _pick(columns: Iterable[str], candidates: Iterable[str]) -> str | None:
    lower = {c.lower(): c for c in columns}
    for cand in candidates:
        if cand.lower() in lower:
            return lower[cand.lower()]
    return None


def normalise_layer(gdf: gpd.GeoDataFrame, level: Level, source: str = "") -> gpd.GeoDataFrame:
    """Bring one boundary layer to the columns ``code``, ``name`` (+ ``wijk_code``,
    ``gemeente_code`` where they apply, + optional attributes) in EPSG:28992."""
    where = f"{source} ({level})" if source else level
    if gdf.crs is None:
        raise CrsError(f"{where}: geen coördinatenstelsel (CRS) opgegeven")
    code_col = _pick(gdf.columns, _CODE_COLUMNS[level])
    if code_col is None:
        raise AreaError(
            f"{where}: geen kolom met de CBS-code gevonden; verwacht een van "
            f"{', '.join(_CODE_COLUMNS[level])}"
        )
    name_col = _pick([c for c in gdf.columns if c != code_col], _NAME_COLUMNS[level])
    out = pd.DataFrame({"code": gdf[code_col].astype(str).str.strip()})
    out["name"] = gdf[name_col].astype(str).str.strip() if name_col else out["code"]
    if level == "wijk":
        out["name"] = out["name"].str.replace(r"^Wijk \d+\s+", "", regex=True)
    for attr, cands in _ATTRIBUTE_COLUMNS.items():
        col = _pick(gdf.columns, cands)
        if col is not None:
            vals = pd.to_numeric(gdf[col], errors="coerce")
            out[attr] = vals.where(vals >= 0)
    result = gpd.GeoDataFrame(out, geometry=gdf.geometry.values, crs=gdf.crs)
    if result.crs.is_geographic or result.crs.to_epsg() != 28992:
        result = result.to_crs(RD_NEW)
    return result


def _derive_codes(gdf: gpd.GeoDataFrame, level: Level) -> gpd.GeoDataFrame:
    codes = gdf["code"].astype(str)
    if level == "buurt":
        gdf["wijk_code"] = "WK" + codes.str[2:8]
    if level in ("buurt", "wijk"):
        gdf["gemeente_code"] = "GM" + codes.str[2:6]
    return gdf


@dataclass(frozen=True)
class Areas:
    """The boundaries of one gemeente: three GeoDataFrames in EPSG:28992, sorted by code."""

    gemeente: gpd.GeoDataFrame
    wijken: gpd.GeoDataFrame
    buurten: gpd.GeoDataFrame
    year: int | None = None
    source: str = ""
    warnings: tuple[str, ...] = field(default=())

    @property
    def gemeente_code(self) -> str:
        return str(self.gemeente["code"].iloc[0])

    @property
    def gemeente_name(self) -> str:
        return str(self.gemeente["name"].iloc[0])

    def layer(self, level: Level) -> gpd.GeoDataFrame:
        return {"gemeente": self.gemeente, "wijk": self.wijken, "buurt": self.buurten}[level]

    @cached_property
    def buurt_index(self) -> PolygonIndex:
        return PolygonIndex(self.buurten.geometry.values)

    def assign(self, x: np.ndarray, y: np.ndarray) -> pd.DataFrame:
        """Buurt and wijk of each point (RD metres): columns ``buurt_code``, ``wijk_code``
        (None outside every buurt). Vectorised; see ``geoveilig.spatial``."""
        idx = self.buurt_index.lookup(x, y)
        codes = np.append(self.buurten["code"].to_numpy(dtype=object), [None])
        wijk = np.append(self.buurten["wijk_code"].to_numpy(dtype=object), [None])
        return pd.DataFrame({"buurt_code": take_strings(codes, idx),
                             "wijk_code": take_strings(wijk, idx)})

    def names(self) -> dict[str, str]:
        """Code -> name for every area of every level."""
        out: dict[str, str] = {}
        for gdf in (self.gemeente, self.wijken, self.buurten):
            out.update(zip(gdf["code"], gdf["name"], strict=True))
        return out

    def summary(self) -> pd.DataFrame:
        """One row per wijk: code, name, number of buurten, area in km²."""
        counts = self.buurten.groupby("wijk_code").size()
        return pd.DataFrame({
            "code": self.wijken["code"].to_numpy(),
            "name": self.wijken["name"].to_numpy(),
            "buurten": counts.reindex(self.wijken["code"]).fillna(0).astype(int).to_numpy(),
            "area_km2": (self.wijken.geometry.area / 1e6).round(2).to_numpy(),
        })


def validate(
    gemeente: gpd.GeoDataFrame,
    wijken: gpd.GeoDataFrame,
    buurten: gpd.GeoDataFrame,
    *,
    source: str = "",
    year: int | None = None,
) -> Areas:
    """Check codes, CRS, geometry and nesting; raise ``AreaError`` listing every problem, and
    return ``Areas`` with warnings for geometric mismatches between the layers (their size)."""
    problems: list[str] = []
    layers = {"gemeente": gemeente, "wijk": wijken, "buurt": buurten}
    for level, gdf in layers.items():
        if len(gdf) == 0:
            problems.append(f"{level}: geen gebieden gevonden")
            continue
        bad = gdf.loc[~gdf["code"].str.match(CODE_PATTERN[level].pattern), "code"]
        if len(bad):
            problems.append(f"{level}: ongeldige CBS-code(s) {', '.join(map(str, bad[:5]))}")
        dup = gdf.loc[gdf["code"].duplicated(), "code"]
        if len(dup):
            problems.append(f"{level}: dubbele code(s) {', '.join(map(str, dup[:5]))}")
        geom = gdf.geometry
        empty = gdf.loc[geom.is_empty | geom.isna(), "code"]
        if len(empty):
            problems.append(f"{level}: lege geometrie bij {', '.join(map(str, empty[:5]))}")
        kinds = ~geom.geom_type.isin(["Polygon", "MultiPolygon"]) & ~geom.isna()
        if kinds.any():
            problems.append(
                f"{level}: geen vlak bij {', '.join(map(str, gdf.loc[kinds, 'code'][:5]))}"
            )
        invalid = ~geom.is_valid & ~geom.isna() & ~kinds
        if invalid.any():
            reasons = shapely.is_valid_reason(geom[invalid].values)
            problems.append(
                f"{level}: ongeldige geometrie bij "
                + "; ".join(f"{c}: {r}" for c, r in zip(gdf.loc[invalid, "code"][:5], reasons,
                                                          strict=False))
            )
    if not problems and len(gemeente) != 1:
        problems.append(f"gemeente: precies één gemeente verwacht, {len(gemeente)} gevonden")
    if not problems:
        gm = gemeente["code"].iloc[0]
        for level, gdf in (("wijk", wijken), ("buurt", buurten)):
            other = gdf.loc[gdf["gemeente_code"] != gm, "code"]
            if len(other):
                problems.append(f"{level}: code(s) horen niet bij {gm}: {', '.join(other[:5])}")
        orphans = sorted(set(buurten["wijk_code"]) - set(wijken["code"]))
        if orphans:
            problems.append(
                "buurt: buurtcode(s) horen bij een onbekende wijk: "
                + ", ".join(buurten.loc[buurten["wijk_code"].isin(orphans), "code"][:5])
            )
    if problems:
        where = f" in {source}" if source else ""
        raise AreaError(f"gebiedsindeling{where} ongeldig:\n- " + "\n- ".join(problems))

    warnings = _mismatch_warnings(gemeente, wijken, buurten)
    sort = dict(ignore_index=True)
    return Areas(
        gemeente=gemeente.sort_values("code", **sort),
        wijken=wijken.sort_values("code", **sort),
        buurten=buurten.sort_values("code", **sort),
        year=year,
        source=source,
        warnings=tuple(warnings),
    )


def _mismatch_warnings(
    gemeente: gpd.GeoDataFrame, wijken: gpd.GeoDataFrame, buurten: gpd.GeoDataFrame
) -> list[str]:
    out: list[str] = []
    gm = gemeente.geometry.iloc[0]
    for label, gdf in (("wijken", wijken), ("buurten", buurten)):
        union = shapely.union_all(gdf.geometry.values)
        diff = union.symmetric_difference(gm).area
        if diff > 0.01 * gm.area:
            out.append(
                f"de {label} samen wijken {abs(union.area - gm.area) / 1e6:.2f} km² af van de "
                f"gemeentegrens ({diff / 1e6:.2f} km² symmetrisch verschil, "
                f"{100 * diff / gm.area:.1f}%); de lagen zijn los van elkaar gegeneraliseerd"
            )
    geoms = wijken.set_index("code").geometry
    own = buurten["wijk_code"].map(geoms)
    share = shapely.area(shapely.intersection(buurten.geometry.values, own.values)) / np.maximum(
        buurten.geometry.area.to_numpy(), 1e-9
    )
    low = share < 0.9
    if low.any():
        worst = buurten.loc[low].assign(share=share[low]).sort_values("share")
        out.append(
            f"{int(low.sum())} buurt(en) liggen voor minder dan 90% in hun eigen wijk "
            f"(laagste: "
            + ", ".join(f"{c} {s:.0%}" for c, s in zip(worst["code"][:3], worst["share"][:3],
                                                        strict=True))
            + "); punten worden aan buurten toegewezen en de wijk volgt uit de buurtcode"
        )
    return out


def _filter_gemeente(gdf: gpd.GeoDataFrame, level: Level, gemeente: str | None) -> gpd.GeoDataFrame:
    if gemeente is None:
        return gdf
    digits = gemeente[2:] if gemeente.upper().startswith("GM") else gemeente
    prefix = {"gemeente": "GM", "wijk": "WK", "buurt": "BU"}[level] + digits
    return gdf.loc[gdf["code"].str.startswith(prefix)].reset_index(drop=True)


def _read(path: Path, layer: str | None = None) -> gpd.GeoDataFrame:
    try:
        return gpd.read_file(path, layer=layer, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise AreaError(f"kan {path} niet lezen als GeoJSON of GeoPackage: {exc}") from exc


def _year_from(name: str) -> int | None:
    m = re.search(r"(19|20)\d{2}", name)
    return int(m.group(0)) if m else None


def load_areas(source: str | Path, gemeente: str | None = None) -> Areas:
    """Load and validate the boundaries from a folder (one file per level) or a GeoPackage
    (one layer per level). ``gemeente`` (e.g. ``GM0794``) selects one gemeente from national
    files; without it the source must hold exactly one gemeente."""
    path = Path(source)
    if not path.exists():
        raise AreaError(
            f"gebiedsindeling niet gevonden: {path} bestaat niet (zet GEOVEILIG_GEO_DIR of "
            "haal de grenzen op met 'geoveilig areas fetch')"
        )
    found: dict[Level, gpd.GeoDataFrame] = {}
    year: int | None = None
    if path.is_dir():
        files = sorted(
            p for p in path.iterdir()
            if p.suffix.lower() in (".geojson", ".json", ".gpkg") and _level_of_name(p.name)
        )
        for p in files:
            level = _level_of_name(p.name)
            assert level is not None
            if level in found:
                raise AreaError(f"meer dan één bestand voor niveau {level} in {path}")
            found[level] = normalise_layer(_read(p), level, p.name)
            year = year or _year_from(p.name)
    else:
        layers = [name for name, _ in pyogrio.list_layers(path)]
        for name in layers:
            level = _level_of_name(name)
            if level and level not in found:
                found[level] = normalise_layer(_read(path, name), level, f"{path.name}:{name}")
                year = year or _year_from(name)
        year = year or _year_from(path.name)
    missing = [lvl for lvl in LEVELS if lvl not in found]
    if missing:
        raise AreaError(
            f"gebiedsindeling in {path} onvolledig: geen bestand of laag voor "
            + ", ".join(missing)
            + " (bestandsnamen moeten 'gemeente', 'wijk' of 'buurt' bevatten)"
        )
    layers_ = {lvl: _derive_codes(_filter_gemeente(found[lvl], lvl, gemeente), lvl)
               for lvl in LEVELS}
    return validate(layers_["gemeente"], layers_["wijk"], layers_["buurt"],
                    source=str(path), year=year)


# --- PDOK -----------------------------------------------------------------------------------

PDOK_TYPENAMES = {
    "gemeente": "wijkenbuurten{year}:gemeenten{year}",
    "wijk": "wijkenbuurten{year}:cbs_wijken_{year}",
    "buurt": "wijkenbuurten{year}:cbs_buurten_{year}",
}


def pdok_request(base_url: str, level: Level, gemeente: str, year: int
                 ) -> tuple[str, dict[str, Any]]:
    """URL and query parameters of the WFS GetFeature request for one level (GeoJSON in RD)."""
    typename = PDOK_TYPENAMES[level].format(year=year)
    cql = f"gemeentecode='{gemeente}'"
    params = {
        "service": "WFS",
        "version": "2.0.0",
        "request": "GetFeature",
        "typeNames": typename,
        "outputFormat": "application/json",
        "srsName": "EPSG:28992",
        "CQL_FILTER": cql,
    }
    return base_url.format(year=year), params


def parse_pdok(payload: bytes | str | dict[str, Any], level: Level) -> gpd.GeoDataFrame:
    """Parse one PDOK WFS GeoJSON response into a normalised layer."""
    try:
        data = json.loads(payload) if isinstance(payload, bytes | str) else payload
    except json.JSONDecodeError as exc:
        raise AreaError(f"PDOK-antwoord ({level}) is geen geldige JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise AreaError(f"PDOK-antwoord ({level}) is geen GeoJSON FeatureCollection")
    crs = RD_NEW
    name = ((data.get("crs") or {}).get("properties") or {}).get("name", "")
    if name and "28992" not in name:
        crs = "EPSG:4326" if ("4326" in name or "CRS84" in name) else name
    gdf = gpd.GeoDataFrame.from_features(data["features"], crs=crs)
    if len(gdf) == 0:
        raise AreaError(f"PDOK gaf geen {level}-gebieden terug")
    return normalise_layer(gdf, level, "PDOK")


def fetch_pdok(gemeente: str, year: int, base_url: str, *, timeout: float = 60.0) -> Areas:
    """Download a gemeente's wijken, buurten and outline from PDOK (needs internet)."""
    import httpx

    layers: dict[str, gpd.GeoDataFrame] = {}
    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        for level in LEVELS:
            url, params = pdok_request(base_url, level, gemeente, year)
            try:
                resp = client.get(url, params=params)
                resp.raise_for_status()
            except httpx.HTTPError as exc:
                raise AreaError(f"PDOK niet bereikbaar of gaf een fout ({level}): {exc}") from exc
            layers[level] = _derive_codes(
                _filter_gemeente(parse_pdok(resp.content, level), level, gemeente), level
            )
    return validate(layers["gemeente"], layers["wijk"], layers["buurt"],
                    source=f"PDOK {year}", year=year)


def holds_boundaries(source: str | Path) -> bool:
    """Whether ``source`` is a boundary file, or a folder with at least one file whose name
    names a level (what ``load_areas`` reads). An empty or absent folder holds none."""
    path = Path(source)
    if path.is_file():
        return True
    if not path.is_dir():
        return False
    return any(p.suffix.lower() in (".geojson", ".json", ".gpkg") and _level_of_name(p.name)
               for p in path.iterdir())


def offline_hint(folder: str | Path) -> str:
    """The one Dutch sentence that says what to do when there are no boundaries and PDOK
    cannot be reached."""
    return (f"zet de CBS-grenzen (gemeente, wijken en buurten als GeoJSON of GeoPackage) in "
            f"{folder} of wijs GEOVEILIG_GEO_DIR naar een map met die bestanden, of voer "
            "'geoveilig areas fetch' uit zodra u online bent")


def load_or_fetch_areas(
    source: str | Path,
    gemeente: str,
    year: int,
    base_url: str,
    *,
    timeout: float = 30.0,
) -> tuple[Areas, list[Path]]:
    """Load the boundaries from ``source``; when it holds no boundary file at all (a fresh
    clone), download the gemeente's from PDOK (``fetch_pdok``), save them in the folder
    ``source`` (``save_areas``) and load those. Returns the areas and the files written
    (empty when nothing was fetched). A folder with some but not all levels, or with invalid
    files, is never overwritten: its problem is raised as it is. When PDOK cannot be reached
    the ``AreaError`` is one line that says what to do (``offline_hint``)."""
    path = Path(source)
    if holds_boundaries(path) or path.suffix.lower() == ".gpkg":
        return load_areas(path, gemeente=gemeente), []
    try:
        fetched = fetch_pdok(gemeente, year, base_url, timeout=timeout)
    except AreaError as exc:
        reason = " ".join(str(exc).split())
        raise AreaError(f"geen gebiedsindeling in {path} en ophalen bij PDOK lukte niet "
                        f"({reason}): {offline_hint(path)}") from exc
    paths = save_areas(fetched, path)
    return load_areas(path, gemeente=gemeente), paths


def save_areas(areas: Areas, folder: str | Path) -> list[Path]:
    """Write the three layers as GeoJSON (RD New) into ``folder``; returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = f"_{areas.year}" if areas.year else ""
    out = []
    for level, gdf in (("gemeente", areas.gemeente), ("wijken", areas.wijken),
                       ("buurten", areas.buurten)):
        path = folder / f"{areas.gemeente_code.lower()}_{level}{suffix}.geojson"
        gdf.to_file(path, driver="GeoJSON", engine="pyogrio")
        out.append(path)
    return out
