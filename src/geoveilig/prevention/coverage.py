"""Coverage of wijken and buurten by prevention groups, growth per quarter, the gap ranking and
map-ready GeoDataFrames.

How coverage is measured (documented choices):

- A group *covers* land only while its status is ``actief`` on the date asked. Teams in
  oprichting and stopped groups are counted (``teams_in_formation``...) but cover nothing.
- The covered part of an area is the **union** of the areas of all active groups (both types)
  intersected with the area: overlapping groups are never counted twice, and land covered by
  no group (holes) stays uncovered. ``coverage_share_teams`` and ``coverage_share_whatsapp``
  do the same per type.
- Everything is computed per buurt and summed upwards. A wijk's area is the union of its
  buurten (taken by code: ``BU0794WWbb`` belongs to ``WK0794WW``), not the separately
  generalised wijk polygon: the CBS layers in ``shared/geo`` were simplified independently and
  do not nest, so a network that covers every buurt of a wijk must count as covering the wijk.
  The gemeente is the union of all buurten. Buurten do not overlap, so sums are exact.
- A buurt listed by an active buurt-list group is covered completely (exactly, no floating
  point slivers); polygon groups cover their polygon's intersection with the buurt.
- Where the boundaries carry ``dwellings`` / ``inhabitants`` columns (CBS kerncijfers), the
  share of dwellings / inhabitants covered is reported too, assuming they are spread evenly
  within a buurt. The shared boundaries have no such columns; nothing is then invented and
  those columns are absent.
- ``fully_covered`` ("wijkdekkend" for a wijk) is ``coverage_share >=
  WIJKDEKKEND_THRESHOLD`` (0.95): a network of street-level WhatsApp groups never follows the
  generalised buurt boundaries to the metre, and parks, water and industrial corners inside a
  wijk need no group; 95% of the area is what "the whole wijk takes part" means in practice.
- A group is *in* a buurt (for the counts) when the buurt is on its list, or when at least
  ``MIN_OVERLAP_SHARE`` (5%) of its polygon lies in the buurt (a polygon overlapping no buurt
  by that much is counted in the buurt it overlaps most). It is in a wijk / the gemeente when
  it is in one of their buurten, and counted once there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from .. import RD_NEW
from ..areas import Areas, gemeente_of
from ..crimetypes import expand
from ..errors import InvalidInput
from ..spatial import require_rd
from .registry import (
    ACTIVE,
    AREA_BUURTEN,
    FORMING,
    STATUS_LABELS,
    TEAM,
    TYPE_LABELS,
    WHATSAPP,
    Registry,
    to_date,
)

Level = Literal["gemeente", "wijk", "buurt"]
WIJKDEKKEND_THRESHOLD = 0.95
MIN_OVERLAP_SHARE = 0.05
#: The columns every coverage table starts with; other tools read these names.
COVERAGE_COLUMNS: tuple[str, ...] = (
    "code", "name", "active_teams", "teams_in_formation", "whatsapp_groups",
    "coverage_share", "fully_covered",
)
_WEIGHTS = ("dwellings", "inhabitants")

DateLike: TypeAlias = date | datetime | str | pd.Timestamp


def _check_level(level: str) -> None:
    if level not in ("gemeente", "wijk", "buurt"):
        raise InvalidInput(f"onbekend niveau '{level}': kies gemeente, wijk of buurt",
                           where="level")


@dataclass(frozen=True)
class _Geometry:
    """Group areas resolved against the buurten, computed once per registry and areas."""

    buurt_codes: np.ndarray          # (B,)
    buurt_wijk: np.ndarray           # (B,)
    buurt_geoms: np.ndarray          # (B,) shapely
    buurt_area: np.ndarray           # (B,) m²
    group_geoms: np.ndarray          # (G,) shapely, resolved
    listed: np.ndarray               # (G, B) bool: buurt on the group's list
    member: np.ndarray               # (G, B) bool: group counted in buurt
    is_polygon: np.ndarray           # (G,) bool
    types: np.ndarray                # (G,)


def _resolve(registry: Registry, areas: Areas) -> _Geometry:
    buurten = areas.buurten
    require_rd(buurten, "buurten")
    require_rd(registry.groups, "register")
    codes = buurten["code"].to_numpy(dtype=object)
    pos = {c: i for i, c in enumerate(codes)}
    geoms = buurten.geometry.to_numpy()
    g = registry.groups
    n_g, n_b = len(g), len(codes)
    listed = np.zeros((n_g, n_b), dtype=bool)
    unknown: list[str] = []
    for i, blist in enumerate(g["buurten"]):
        for c in blist:
            if c in pos:
                listed[i, pos[c]] = True
            else:
                unknown.append(c)
    if unknown:
        raise InvalidInput("het register noemt buurtcodes die niet in de gebiedsindeling "
                           f"voorkomen: {', '.join(sorted(set(unknown))[:10])}")
    is_poly = (g["area_kind"] != AREA_BUURTEN).to_numpy()
    group_geoms = np.empty(n_g, dtype=object)
    for i in np.flatnonzero(~is_poly).tolist():
        group_geoms[i] = shapely.union_all(geoms[listed[i]])
    group_geoms[is_poly] = g.geometry.to_numpy()[is_poly]
    member = listed.copy()
    if is_poly.any():
        pg = group_geoms[is_poly]
        inter = shapely.area(shapely.intersection(pg[:, None], geoms[None, :]))
        share = inter / np.maximum(shapely.area(pg), 1e-9)[:, None]
        m = share >= MIN_OVERLAP_SHARE
        none = ~m.any(axis=1) & (inter.max(axis=1) > 0)
        m[np.flatnonzero(none), inter[none].argmax(axis=1)] = True
        member[is_poly] = m
    return _Geometry(buurt_codes=codes, buurt_wijk=buurten["wijk_code"].to_numpy(dtype=object),
                     buurt_geoms=geoms, buurt_area=shapely.area(geoms), group_geoms=group_geoms,
                     listed=listed, member=member, is_polygon=is_poly,
                     types=g["type"].to_numpy(dtype=object))


def _covered_area(geo: _Geometry, active: np.ndarray) -> np.ndarray:
    """Covered m² per buurt by the union of the groups where ``active`` is True."""
    full = geo.listed[active & ~geo.is_polygon].any(axis=0)
    covered = np.where(full, geo.buurt_area, 0.0)
    poly = active & geo.is_polygon
    if poly.any():
        union = shapely.union_all(geo.group_geoms[poly])
        rest = ~full
        part = shapely.area(shapely.intersection(geo.buurt_geoms[rest], union))
        covered[rest] = np.minimum(part, geo.buurt_area[rest])
    return covered


def _aggregate(values: np.ndarray, geo: _Geometry, level: Level,
               keys: np.ndarray) -> np.ndarray:
    """Sum per-buurt values (B,) or (k, B) to the level's area keys."""
    if level == "buurt":
        return values
    if level == "gemeente" and len(keys) == 1:
        return values.sum(axis=-1, keepdims=True)
    return values @ _onehot(geo, level, keys)


def _group_in_area(geo: _Geometry, level: Level, keys: np.ndarray) -> np.ndarray:
    """(G, A) bool: group counted in area."""
    if level == "buurt":
        return geo.member
    if level == "gemeente" and len(keys) == 1:
        return np.asarray(geo.member.any(axis=1, keepdims=True))
    return (geo.member.astype(np.int32) @ _onehot(geo, level, keys).astype(np.int32)) > 0


def _onehot(geo: _Geometry, level: Level, keys: np.ndarray) -> np.ndarray:
    """(B, A) bool: buurt in area (a wijk, or with several gemeenten the gemeente whose code
    its wijk code carries)."""
    parent = gemeente_of(geo.buurt_wijk) if level == "gemeente" else geo.buurt_wijk
    return np.asarray(parent[:, None] == keys[None, :])


def _area_keys(areas: Areas, level: Level) -> tuple[np.ndarray, np.ndarray]:
    layer = areas.layer(level)
    return layer["code"].to_numpy(dtype=object), layer["name"].to_numpy(dtype=object)


def coverage(
    registry: Registry,
    areas: Areas,
    when: DateLike,
    *,
    level: Level = "wijk",
    threshold: float = WIJKDEKKEND_THRESHOLD,
    _geo: _Geometry | None = None,
) -> pd.DataFrame:
    """One row per area of ``level`` on the date ``when``.

    Columns: ``code``, ``name``, ``active_teams``, ``teams_in_formation``,
    ``whatsapp_groups`` (active), ``coverage_share`` (0-1, union of all active groups),
    ``fully_covered`` (bool, share >= ``threshold``), then ``whatsapp_groups_in_formation``,
    ``whatsapp_groups_linked`` (active WhatsApp groups linked to a team),
    ``coverage_share_teams``, ``coverage_share_whatsapp``, ``area_km2``, ``covered_km2``,
    ``date``, ``level`` (and ``wijk_code`` for buurten, ``dwellings_covered_share`` /
    ``inhabitants_covered_share`` when the boundaries have those columns)."""
    _check_level(level)
    if not 0 < threshold <= 1:
        raise InvalidInput(f"drempel {threshold} moet tussen 0 en 1 liggen", where="threshold")
    day = to_date(when)
    geo = _geo or _resolve(registry, areas)
    status = registry.status_on(day).to_numpy(dtype=object)
    keys, names = _area_keys(areas, level)
    if level == "gemeente":  # one row per gemeente code
        first = pd.Index(keys).duplicated(keep="first")
        keys, names = keys[~first], names[~first]
    active = status == ACTIVE
    forming = status == FORMING
    is_team = geo.types == TEAM
    is_wa = geo.types == WHATSAPP
    linked = registry.groups["team_id"].notna().to_numpy()
    masks = np.vstack([active, active & is_team, active & is_wa])
    covered = np.vstack([_covered_area(geo, m) for m in masks])  # (3, B)
    cov = _aggregate(covered, geo, level, keys)
    total = _aggregate(geo.buurt_area, geo, level, keys)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.clip(np.where(total > 0, cov / total, 0.0), 0.0, 1.0)
    inside = _group_in_area(geo, level, keys)

    def count(m: NDArray[np.bool_]) -> NDArray[np.int_]:
        return (inside & m[:, None]).sum(axis=0).astype(int)

    out = pd.DataFrame({
        "code": keys,
        "name": names,
        "active_teams": count(active & is_team),
        "teams_in_formation": count(forming & is_team),
        "whatsapp_groups": count(active & is_wa),
        "coverage_share": share[0],
        "fully_covered": share[0] >= threshold,
        "whatsapp_groups_in_formation": count(forming & is_wa),
        "whatsapp_groups_linked": count(active & is_wa & linked),
        "coverage_share_teams": share[1],
        "coverage_share_whatsapp": share[2],
        "area_km2": total / 1e6,
        "covered_km2": cov[0] / 1e6,
    })
    buurten = areas.buurten
    bshare = np.where(geo.buurt_area > 0, covered[0] / geo.buurt_area, 0.0)
    for attr in _WEIGHTS:
        if attr in buurten and buurten[attr].notna().any():
            w = buurten[attr].fillna(0).to_numpy(dtype=float)
            num = _aggregate(w * bshare, geo, level, keys)
            den = _aggregate(w, geo, level, keys)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[f"{attr}_covered_share"] = np.where(den > 0, num / den, np.nan)
    if level == "buurt":
        out.insert(2, "wijk_code", geo.buurt_wijk)
    out["date"] = day.date().isoformat()
    out["level"] = level
    return out


def growth_per_quarter(
    registry: Registry,
    areas: Areas,
    *,
    start: DateLike | None = None,
    end: DateLike | None = None,
    level: Level = "gemeente",
    threshold: float = WIJKDEKKEND_THRESHOLD,
) -> pd.DataFrame:
    """The network on the last day of every quarter from ``start`` to ``end`` (default: the
    first and last dates in the history), one row per quarter and area: ``quarter``
    (e.g. ``2017Q1``), ``date``, the coverage columns, and the change since the previous
    quarter (``active_teams_change``, ``whatsapp_groups_change``,
    ``coverage_share_change``). At gemeente level also ``wijkdekkend_wijken`` (the number of
    fully covered wijken)."""
    _check_level(level)
    if registry.history.empty and (start is None or end is None):
        raise InvalidInput("het register is leeg: geef begin en einde op")
    lo = to_date(start) if start is not None else registry.history["since"].min()
    hi = to_date(end) if end is not None else registry.history["since"].max()
    if hi < lo:
        raise InvalidInput(f"einde {hi.date()} ligt voor begin {lo.date()}")
    quarters = pd.period_range(lo.to_period("Q"), hi.to_period("Q"), freq="Q")
    geo = _resolve(registry, areas)
    frames = []
    for q in quarters:
        day = q.end_time.normalize()
        row = coverage(registry, areas, day, level=level, threshold=threshold, _geo=geo)
        row.insert(0, "quarter", str(q))
        if level == "gemeente":
            wk = coverage(registry, areas, day, level="wijk", threshold=threshold, _geo=geo)
            per = wk["fully_covered"].groupby(gemeente_of(wk["code"])).sum()
            row["wijkdekkend_wijken"] = row["code"].map(per).fillna(0).astype(int)
        frames.append(row)
    out = pd.concat(frames, ignore_index=True)
    for col in ("active_teams", "whatsapp_groups", "coverage_share"):
        out[f"{col}_change"] = out.groupby("code", sort=False)[col].diff()
    return out


def hic_risk(incidents: pd.DataFrame, level: Level = "buurt",
             crime_types: str = "hic") -> pd.Series:
    """Risk from counts when no hotspot surface is at hand: the number of incidents of
    ``crime_types`` (default the HIC group) per area code (``buurt_code`` / ``wijk_code``)."""
    if level not in ("wijk", "buurt"):
        raise InvalidInput("risico per wijk of buurt", where="level")
    slugs = expand(crime_types)
    sel = incidents.loc[incidents["crime_type"].isin(slugs)]
    return sel.groupby(f"{level}_code").size().astype(float).rename("risk")


def risk_from_surface(surface: gpd.GeoDataFrame, areas: Areas, column: str = "risk",
                      level: Level = "buurt") -> pd.Series:
    """Risk per area code from a hotspot surface (a GeoDataFrame in EPSG:28992 with a value
    per grid cell polygon or per point): a cell's value is split over the buurten by the share
    of its area inside each (points go to the buurt they lie in), then summed per buurt or
    wijk (wijk = from the buurt code)."""
    require_rd(surface, "risico-oppervlak")
    if column not in surface.columns:
        raise InvalidInput(f"kolom '{column}' ontbreekt in het risico-oppervlak",
                           where="column")
    if level not in ("wijk", "buurt"):
        raise InvalidInput("risico per wijk of buurt", where="level")
    values = pd.to_numeric(surface[column], errors="coerce").fillna(0.0).to_numpy(float)
    geoms = surface.geometry.to_numpy()
    codes = areas.buurten["code"].to_numpy(dtype=object)
    is_point = shapely.get_type_id(geoms) == 0
    total = pd.Series(0.0, index=codes)
    if is_point.any():
        pts = geoms[is_point]
        where = areas.assign(shapely.get_x(pts), shapely.get_y(pts))["buurt_code"]
        add = pd.Series(values[is_point]).groupby(where.to_numpy()).sum()
        total = total.add(add, fill_value=0.0)
    if (~is_point).any():
        cells = geoms[~is_point]
        bgeoms = areas.buurten.geometry.to_numpy()
        tree = shapely.STRtree(bgeoms)
        ci, bi = tree.query(cells, predicate="intersects")
        inter = shapely.area(shapely.intersection(cells[ci], bgeoms[bi]))
        share = inter / np.maximum(shapely.area(cells[ci]), 1e-9)
        add = pd.Series(values[~is_point][ci] * share).groupby(codes[bi]).sum()
        total = total.add(add, fill_value=0.0)
    if level == "wijk":
        total = total.groupby("WK" + total.index.str[2:8]).sum()
    return total.rename("risk")


def _risk_series(risk: pd.Series | pd.DataFrame, column: str | None) -> pd.Series:
    if isinstance(risk, pd.Series):
        s = risk
    elif isinstance(risk, pd.DataFrame):
        frame = risk.set_index("code") if "code" in risk.columns else risk
        if column is None:
            for cand in ("risk", "hic", "expected", "intensity", "value", "count", "incidents"):
                if cand in frame.columns:
                    column = cand
                    break
        if column is None:
            num = frame.select_dtypes("number").columns
            if len(num) != 1:
                raise InvalidInput("risico: geef een kolom 'risk' (of kies er een met column=) "
                                   f"uit {', '.join(map(str, frame.columns))}")
            column = str(num[0])
        if column not in frame.columns:
            raise InvalidInput(f"risicokolom '{column}' bestaat niet", where="column")
        s = frame[column]
    else:
        raise InvalidInput("risico moet een Series of DataFrame per gebiedscode zijn")
    s = pd.to_numeric(s, errors="coerce")
    if (s < 0).any():
        raise InvalidInput("risico kan niet negatief zijn")
    s.index = s.index.astype(str)
    return s.groupby(level=0).sum()


def gap_ranking(
    registry: Registry,
    areas: Areas,
    risk: pd.Series | pd.DataFrame,
    when: DateLike,
    *,
    levels: tuple[Level, ...] = ("wijk", "buurt"),
    column: str | None = None,
    threshold: float = WIJKDEKKEND_THRESHOLD,
) -> pd.DataFrame:
    """Wijken and buurten ranked by ``risk x uncovered share`` on ``when``: where prevention
    is missing most, weighted by HIC risk. The work list for BuurtTent planning and outreach.

    ``risk``: per area code, a Series or a DataFrame (index or ``code`` column; value in
    ``column`` or ``risk``/``hic``/``expected``/``intensity``/``value``/``count``) — from the
    hotspot engine when available, else HIC counts (``hic_risk``). A GeoDataFrame without a
    ``code`` column is taken as a hotspot surface (grid cells or points) and spread over the
    buurten first (``risk_from_surface``). Buurt risks are summed to wijken when no wijk risks
    are given; codes absent from ``risk`` get 0.

    Columns: ``level``, ``rank`` (1 = biggest gap, per level), ``code``, ``name``, ``risk``,
    ``risk_share`` (of the level's total), ``coverage_share``, ``uncovered_share``,
    ``gap_score`` (= risk x uncovered_share), ``gap_share`` (of the level's total gap),
    ``active_teams``, ``whatsapp_groups``, ``teams_in_formation``, ``fully_covered``."""
    if isinstance(risk, gpd.GeoDataFrame) and "code" not in risk.columns:
        cands = [c for c in (column, "risk", "expected", "intensity", "value", "count")
                 if c is not None and c in risk.columns]
        if not cands:
            raise InvalidInput("risico-oppervlak: geef de kolom met de waarde (column=)")
        risk = risk_from_surface(risk, areas, cands[0])
        column = None
    s = _risk_series(risk, column)
    geo = _resolve(registry, areas)
    frames = []
    for level in levels:
        if level not in ("wijk", "buurt"):
            raise InvalidInput(f"rangorde per wijk of buurt, niet '{level}'", where="levels")
        cov = coverage(registry, areas, when, level=level, threshold=threshold, _geo=geo)
        prefix = "WK" if level == "wijk" else "BU"
        mine = s[s.index.str.startswith(prefix)]
        if level == "wijk" and mine.empty:
            buurt = s[s.index.str.startswith("BU")]
            mine = buurt.groupby("WK" + buurt.index.str[2:8]).sum()
        r = mine.reindex(cov["code"]).fillna(0.0).to_numpy(dtype=float)
        unc = 1.0 - cov["coverage_share"].to_numpy()
        gap = r * unc
        out = pd.DataFrame({
            "level": level, "code": cov["code"], "name": cov["name"], "risk": r,
            "risk_share": r / r.sum() if r.sum() > 0 else 0.0,
            "coverage_share": cov["coverage_share"], "uncovered_share": unc,
            "gap_score": gap, "gap_share": gap / gap.sum() if gap.sum() > 0 else 0.0,
            "active_teams": cov["active_teams"], "whatsapp_groups": cov["whatsapp_groups"],
            "teams_in_formation": cov["teams_in_formation"],
            "fully_covered": cov["fully_covered"],
        })
        out = out.sort_values(["gap_score", "risk", "code"], ascending=[False, False, True],
                              kind="stable", ignore_index=True)
        out.insert(1, "rank", np.arange(1, len(out) + 1))
        frames.append(out)
    return pd.concat(frames, ignore_index=True)


# --- map-ready layers ------------------------------------------------------------------------

def group_areas(registry: Registry, areas: Areas, when: DateLike | None = None,
                *, include_unregistered: bool = False) -> gpd.GeoDataFrame:
    """The groups as a GeoDataFrame (EPSG:28992) with their resolved area and the status on
    ``when`` (default: the latest status in the history). Columns ``group_id``, ``type``,
    ``type_label``, ``label``, ``team_id``, ``linked_whatsapp_groups`` (for a team: its active
    WhatsApp groups on ``when``), ``status``, ``status_label``, ``status_since``,
    ``area_kind``, ``buurten`` (codes joined by ``;``), ``wijk_codes``, ``members``,
    ``area_km2``, ``synthetic``, ``geometry``. Groups not yet registered on ``when`` are left
    out unless ``include_unregistered``."""
    geo = _resolve(registry, areas)
    day = to_date(when) if when is not None else (
        registry.history["since"].max() if len(registry.history) else pd.Timestamp("2000-01-01"))
    g = registry.groups
    status = registry.status_on(day)
    since = registry.since_on(day)
    wa_active = g.loc[(g["type"] == WHATSAPP).to_numpy() & (status == ACTIVE).to_numpy()]
    n_linked = wa_active.groupby("team_id").size()
    wijken_of = [";".join(sorted(set(geo.buurt_wijk[m]))) for m in geo.member]
    out = gpd.GeoDataFrame({
        "group_id": g["group_id"].to_numpy(),
        "type": g["type"].to_numpy(),
        "type_label": g["type"].map(TYPE_LABELS).to_numpy(),
        "label": g["label"].to_numpy(),
        "team_id": g["team_id"].to_numpy(),
        "linked_whatsapp_groups": np.where(
            g["type"] == TEAM, g["group_id"].map(n_linked).fillna(0), 0).astype(int),
        "status": status.to_numpy(),
        "status_label": status.map(STATUS_LABELS).to_numpy(),
        "status_since": [None if pd.isna(d) else d.date().isoformat() for d in since],
        "area_kind": g["area_kind"].to_numpy(),
        "buurten": [";".join(b) for b in g["buurten"]],
        "wijk_codes": wijken_of,
        "members": g["members"].to_numpy(),
        "area_km2": shapely.area(geo.group_geoms.astype(object)) / 1e6 if len(g) else [],
        "synthetic": g["synthetic"].to_numpy(),
    }, geometry=gpd.GeoSeries(list(geo.group_geoms), crs=RD_NEW), crs=RD_NEW)
    if not include_unregistered:
        out = out.loc[out["status"].notna()].reset_index(drop=True)
    return out


def coverage_layer(registry: Registry, areas: Areas, when: DateLike, *,
                   level: Level = "wijk",
                   threshold: float = WIJKDEKKEND_THRESHOLD) -> gpd.GeoDataFrame:
    """``coverage(...)`` joined to the CBS area polygons (EPSG:28992), for choropleth maps."""
    table = coverage(registry, areas, when, level=level, threshold=threshold)
    layer = areas.layer(level)[["code", "geometry"]]
    merged = layer.merge(table, on="code", how="inner")
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=layer.crs)
