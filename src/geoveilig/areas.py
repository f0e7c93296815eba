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
import shapely

from . import RD_NEW
from ._strings import take_strings
from .errors import AreaError, CrsError, InvalidInput, NotFound
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


#: Values of ``GEOVEILIG_GEMEENTE`` / ``--gemeente`` that mean "every gemeente in the source"
ALL_GEMEENTEN = ("*", "alle")


def parse_gemeenten(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """The gemeente codes of a setting or option: one code (``GM0794``, also ``gm0794`` or
    ``0794``), a comma-separated list, or ``*``/``alle`` (returns ``None``: every gemeente in the
    boundary source). Raises ``InvalidInput`` naming a code that is not a CBS gemeentecode."""
    if value is None:
        return None
    parts = ([p.strip() for p in value.split(",")] if isinstance(value, str)
             else [str(p).strip() for p in value])
    parts = [p for p in parts if p]
    if not parts or any(p.lower() in ALL_GEMEENTEN for p in parts):
        if len(parts) > 1:
            raise InvalidInput("'*' of 'alle' kan niet samen met gemeentecodes worden gegeven",
                               where="gemeente")
        return None
    codes: list[str] = []
    for p in parts:
        code = p.upper() if p.upper().startswith("GM") else f"GM{p}"
        if not CODE_PATTERN["gemeente"].match(code):
            raise InvalidInput(f"'{p}' is geen CBS-gemeentecode (bijv. GM0794)",
                               where="gemeente")
        if code not in codes:
            codes.append(code)
    return tuple(codes)


def gemeente_of(codes: pd.Series | np.ndarray) -> np.ndarray:
    """The gemeente code of each wijk or buurt code (``WK0794..``/``BU0794..`` -> ``GM0794``;
    None stays None). CBS codes carry their gemeente, so no spatial lookup is needed."""
    values = pd.Series(np.asarray(codes, dtype=object))
    known = values.notna() & (values.astype(str).str.len() >= 6)
    out = np.full(len(values), None, dtype=object)
    out[known.to_numpy()] = ("GM" + values[known].astype(str).str[2:6]).to_numpy(dtype=object)
    return out


def count_per_gemeente(buurt_codes: pd.Series | np.ndarray) -> dict[str, int]:
    """Number of incidents per gemeente code (from their buurt codes; sorted by code; rows
    without a buurt are not counted). Counts the distinct buurt codes first: fast on millions
    of rows."""
    per_buurt = pd.Series(buurt_codes).value_counts(dropna=True)
    if per_buurt.empty:
        return {}
    per_gm = per_buurt.groupby(gemeente_of(per_buurt.index.to_numpy(dtype=object))).sum()
    return {str(k): int(v) for k, v in per_gm.sort_index().items()}


@dataclass(frozen=True)
class Areas:
    """The boundaries of one or more gemeenten: three GeoDataFrames in EPSG:28992, sorted by
    code (``gemeente`` has one row per gemeente; wijk and buurt codes are unique across them).
    ``select`` gives the ``Areas`` of some of them."""

    gemeente: gpd.GeoDataFrame
    wijken: gpd.GeoDataFrame
    buurten: gpd.GeoDataFrame
    year: int | None = None
    source: str = ""
    warnings: tuple[str, ...] = field(default=())

    @property
    def gemeente_codes(self) -> tuple[str, ...]:
        """The codes of the gemeenten, sorted."""
        return tuple(str(c) for c in self.gemeente["code"])

    @property
    def gemeenten(self) -> pd.DataFrame:
        """One row per gemeente: ``code``, ``name``."""
        return pd.DataFrame(self.gemeente[["code", "name"]]).reset_index(drop=True)

    @property
    def gemeente_code(self) -> str:
        """The code of the gemeente; with several, their codes joined by a comma."""
        return ",".join(self.gemeente_codes)

    @property
    def gemeente_name(self) -> str:
        """The name of the gemeente; with several, their names joined by a comma."""
        return ", ".join(str(n) for n in self.gemeente["name"])

    def select(self, gemeente: str | Iterable[str] | None) -> Areas:
        """The ``Areas`` of some of the gemeenten (``parse_gemeenten`` syntax; ``None``, ``*``
        or ``alle``: all of them, ``self``). A code not among them is a ``NotFound`` naming
        the choices."""
        codes = parse_gemeenten(gemeente)
        if codes is None or set(codes) == set(self.gemeente_codes):
            return self
        unknown = [c for c in codes if c not in self.gemeente_codes]
        if unknown:  # as a missing resource (the API answers 404)
            raise NotFound(
                f"onbekende gemeente {', '.join(unknown)}; kies uit {self.choices()}",
                where="gemeente")
        key = tuple(sorted(codes))
        if key in self._selections:
            return self._selections[key]
        keep = set(codes)

        def part(gdf: gpd.GeoDataFrame, column: str) -> gpd.GeoDataFrame:
            return gdf.loc[gdf[column].isin(keep)].reset_index(drop=True)

        chosen = Areas(gemeente=part(self.gemeente, "code"),
                       wijken=part(self.wijken, "gemeente_code"),
                       buurten=part(self.buurten, "gemeente_code"),
                       year=self.year, source=self.source, warnings=self.warnings)
        if len(key) == 1:  # one object per gemeente: what is cached per Areas (its hotspot
            # grid, its buurt index) is made once; lists of several are not kept (unbounded)
            self._selections[key] = chosen
        return chosen

    @cached_property
    def _selections(self) -> dict[tuple[str, ...], Areas]:
        return {}

    def choices(self) -> str:
        """The gemeenten as users choose them: ``GM0794 (Helmond), GM9901 (Buurdorp)``."""
        return ", ".join(f"{c} ({n})" for c, n in zip(self.gemeente["code"], self.gemeente["name"],
                                                       strict=True))

    def outside_reason(self) -> str:
        """Why a point in no buurt is rejected (Dutch): outside the gemeente, or outside all
        configured gemeenten."""
        if len(self.gemeente) == 1:
            return f"ligt buiten de gemeente {self.gemeente_name} (in geen enkele buurt)"
        return (f"ligt buiten de gemeenten {', '.join(self.gemeente_codes)} "
                "(in geen enkele buurt)")

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

    def assign_gemeente(self, x: np.ndarray, y: np.ndarray) -> pd.DataFrame:
        """``assign`` plus ``gemeente_code``: one spatial lookup among the buurten of every
        gemeente, so a point near a border lands in the gemeente whose buurt holds it."""
        out = self.assign(x, y)
        out["gemeente_code"] = gemeente_of(out["buurt_code"])
        return out

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
    if not problems:
        gms = sorted(gemeente["code"])
        for level, gdf in (("wijk", wijken), ("buurt", buurten)):
            other = gdf.loc[~gdf["gemeente_code"].isin(gms), "code"]
            if len(other):
                problems.append(f"{level}: code(s) horen niet bij {', '.join(gms)}: "
                                f"{', '.join(other[:5])}")
        empty_gm = sorted(set(gms) - set(buurten["gemeente_code"]))
        if empty_gm:
            problems.append(f"gemeente: geen buurten voor {', '.join(empty_gm[:5])}")
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
    several = len(gemeente) > 1
    for code, gm in zip(gemeente["code"], gemeente.geometry.values, strict=True):
        of = f" van {code}" if several else ""
        for label, gdf in (("wijken", wijken), ("buurten", buurten)):
            own_gm = gdf.loc[gdf["gemeente_code"] == code]
            union = shapely.union_all(own_gm.geometry.values)
            diff = union.symmetric_difference(gm).area
            if diff > 0.01 * gm.area:
                out.append(
                    f"de {label}{of} samen wijken {abs(union.area - gm.area) / 1e6:.2f} km² af "
                    f"van de gemeentegrens ({diff / 1e6:.2f} km² symmetrisch verschil, "
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


def _filter_gemeente(gdf: gpd.GeoDataFrame, level: Level,
                     gemeente: str | Iterable[str] | None) -> gpd.GeoDataFrame:
    codes = parse_gemeenten(gemeente)
    if codes is None:
        return gdf
    letters = {"gemeente": "GM", "wijk": "WK", "buurt": "BU"}[level]
    prefixes = tuple(letters + c[2:] for c in codes)
    return gdf.loc[gdf["code"].str.startswith(prefixes)].reset_index(drop=True)


def _missing_gemeenten(areas_gemeente: gpd.GeoDataFrame, gemeente: str | Iterable[str] | None,
                       where: str) -> None:
    codes = parse_gemeenten(gemeente)
    if codes is None:
        return
    missing = [c for c in codes if c not in set(areas_gemeente["code"])]
    if missing:
        raise AreaError(f"gemeente(n) {', '.join(missing)} niet gevonden in {where}")


def _read(path: Path, layer: str | None = None) -> gpd.GeoDataFrame:
    import pyogrio  # GDAL loads only when files are read (not on a cached load: areacache)

    try:
        return gpd.read_file(path, layer=layer, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise AreaError(f"kan {path} niet lezen als GeoJSON of GeoPackage: {exc}") from exc


def _year_from(name: str) -> int | None:
    m = re.search(r"(19|20)\d{2}", name)
    return int(m.group(0)) if m else None


def load_areas(source: str | Path, gemeente: str | Iterable[str] | None = None) -> Areas:
    """Load and validate the boundaries from a folder (files per level; several files of one
    level, e.g. one per gemeente, are read together) or a GeoPackage (one layer per level).
    ``gemeente`` selects gemeenten from national files: one code (``GM0794``), several
    (``GM0794,GM0772`` or a list) or ``*``/``alle``/``None`` (every gemeente in the source)."""
    path = Path(source)
    if not path.exists():
        raise AreaError(
            f"gebiedsindeling niet gevonden: {path} bestaat niet (zet GEOVEILIG_GEO_DIR of "
            "haal de grenzen op met 'geoveilig areas fetch')"
        )
    found: dict[Level, gpd.GeoDataFrame] = {}
    year: int | None = None
    if path.is_dir():
        for p in boundary_files(path):
            level = _level_of_name(p.name)
            assert level is not None
            layer = normalise_layer(_read(p), level, p.name)
            if level in found:  # one file per gemeente: read together, codes stay unique
                layer = pd.concat([found[level], layer], ignore_index=True)
            found[level] = layer
            year = year or _year_from(p.name)
    else:
        import pyogrio

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
    _missing_gemeenten(layers_["gemeente"], gemeente, str(path))
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


def fetch_pdok(gemeente: str | Iterable[str], year: int, base_url: str, *,
               timeout: float = 60.0) -> Areas:
    """Download the wijken, buurten and outline of one or more gemeenten from PDOK (needs
    internet): one request per gemeente and level. ``gemeente``: a code, a comma-separated
    list or a list (``*``/``alle`` is refused: name the gemeenten, or use a national file)."""
    import httpx

    codes = parse_gemeenten(gemeente)
    if codes is None:
        raise InvalidInput("noem de gemeenten die bij PDOK worden opgehaald (bijv. "
                           "GM0794,GM0772), of gebruik de landelijke wijk- en buurtkaart als "
                           "bestand in GEOVEILIG_GEO_DIR", where="gemeente")
    parts: dict[str, list[gpd.GeoDataFrame]] = {lvl: [] for lvl in LEVELS}
    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        for code in codes:
            for level in LEVELS:
                url, params = pdok_request(base_url, level, code, year)
                try:
                    resp = client.get(url, params=params)
                    resp.raise_for_status()
                except httpx.HTTPError as exc:
                    raise AreaError(f"PDOK niet bereikbaar of gaf een fout ({level} van "
                                    f"{code}): {exc}") from exc
                parts[level].append(_derive_codes(
                    _filter_gemeente(parse_pdok(resp.content, level), level, code), level))
    layers = {lvl: pd.concat(parts[lvl], ignore_index=True) for lvl in LEVELS}
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
    return bool(boundary_files(path))


def boundary_files(folder: Path) -> list[Path]:
    """The files of a folder that ``load_areas`` reads, sorted: GeoJSON or GeoPackage files
    whose name names a level."""
    return sorted(p for p in folder.iterdir()
                  if p.suffix.lower() in (".geojson", ".json", ".gpkg") and _level_of_name(p.name))


def offline_hint(folder: str | Path) -> str:
    """The one Dutch sentence that says what to do when there are no boundaries and PDOK
    cannot be reached."""
    return (f"zet de CBS-grenzen (gemeente, wijken en buurten als GeoJSON of GeoPackage) in "
            f"{folder} of wijs GEOVEILIG_GEO_DIR naar een map met die bestanden, of voer "
            "'geoveilig areas fetch' uit zodra u online bent")


def load_or_fetch_areas(
    source: str | Path,
    gemeente: str | Iterable[str],
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
    stem = "-".join(areas.gemeente_codes).lower()
    if len(stem) > 60:
        stem = f"{len(areas.gemeente_codes)}_gemeenten"
    for level, gdf in (("gemeente", areas.gemeente), ("wijken", areas.wijken),
                       ("buurten", areas.buurten)):
        path = folder / f"{stem}_{level}{suffix}.geojson"
        gdf.to_file(path, driver="GeoJSON", engine="pyogrio")
        out.append(path)
    return out
