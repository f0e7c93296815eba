"""The registry of prevention groups: the in-memory model, validation and status history.

A *group* is a buurtpreventieteam or a WhatsApp-preventiegroep. Its area is either a list of
CBS buurt codes (``area_kind="buurten"``; the area is the union of those buurt polygons) or a
polygon in EPSG:28992 (``area_kind="polygon"``). Postcodes may be recorded as information
(``postcodes``) but do not define an area: coverage needs buurten or a polygon.

A WhatsApp group may be linked to the team it works with (``team_id`` = the team's
``group_id``). A team has no ``team_id``.

The *status history* holds rows ``group_id, status, since``: the status is valid from the date
``since`` (inclusive, a calendar date in Europe/Amsterdam) until the next row of that group.
Before its first row a group does not exist. Statuses: ``in_oprichting`` (being set up),
``actief`` (active), ``gestopt`` (stopped). A stopped group may become active again.

No personal data: the registry has no column for names, phone numbers, e-mail or home
addresses of people (see ``geoveilig.prevention.io`` for what an import refuses).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import RD_NEW
from ..errors import ImportRejected, InvalidInput
from ..times import local_day

TEAM = "buurtpreventieteam"
WHATSAPP = "whatsapp-preventiegroep"
TYPES: tuple[str, ...] = (TEAM, WHATSAPP)
TYPE_LABELS = {TEAM: "buurtpreventieteam", WHATSAPP: "WhatsApp-preventiegroep"}

FORMING = "in_oprichting"
ACTIVE = "actief"
STOPPED = "gestopt"
STATUSES: tuple[str, ...] = (FORMING, ACTIVE, STOPPED)
STATUS_LABELS = {FORMING: "in oprichting", ACTIVE: "actief", STOPPED: "gestopt"}

AREA_BUURTEN = "buurten"
AREA_POLYGON = "polygon"

GROUP_COLUMNS: tuple[str, ...] = (
    "group_id", "type", "label", "team_id", "area_kind", "buurten", "postcodes", "members",
    "synthetic",
)
HISTORY_COLUMNS: tuple[str, ...] = ("group_id", "status", "since")

_TYPE_ALIASES = {
    "buurtpreventieteam": TEAM, "buurtpreventie": TEAM, "bpt": TEAM, "team": TEAM,
    "buurtpreventieteams": TEAM,
    "whatsapppreventiegroep": WHATSAPP, "whatsapp": WHATSAPP, "wabp": WHATSAPP,
    "whatsappgroep": WHATSAPP, "whatsappbuurtpreventie": WHATSAPP,
    "whatsapppreventiegroepen": WHATSAPP,
}
_STATUS_ALIASES = {
    "inoprichting": FORMING, "oprichting": FORMING, "forming": FORMING,
    "actief": ACTIVE, "active": ACTIVE,
    "gestopt": STOPPED, "stopped": STOPPED, "opgeheven": STOPPED,
}
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_PHONE = re.compile(r"(?:\+31|0031|\b0)[\s\-]?(?:\d[\s\-]?){8,9}\b")
_GROUP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_BUURT = re.compile(r"^BU\d{8}$")


def _key(text: object) -> str:
    return re.sub(r"[\s_\-.]+", "", str(text).strip().lower())


def looks_personal(value: object) -> bool:
    """True when a text looks like an e-mail address or a Dutch phone number."""
    if value is None or not isinstance(value, str):
        return False
    return bool(_EMAIL.search(value) or _PHONE.search(value))


def normalise_type(value: object) -> str | None:
    """``'BPT'``, ``'WhatsApp'``, ``'whatsapp-preventiegroep'``... -> canonical type or None."""
    return _TYPE_ALIASES.get(_key(value))


def normalise_status(value: object) -> str | None:
    return _STATUS_ALIASES.get(_key(value))


def to_date(value: date | datetime | str | pd.Timestamp, *, what: str = "datum") -> pd.Timestamp:
    """A calendar date (naive midnight Timestamp). Raises ``InvalidInput`` in Dutch."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{what} '{value}' is geen datum (verwacht JJJJ-MM-DD)") from exc
    if ts is pd.NaT:
        raise InvalidInput(f"{what} ontbreekt")
    if ts.tzinfo is not None:
        return local_day(ts)
    return ts.normalize()


def split_codes(value: object) -> tuple[str, ...]:
    """``'BU07941900;BU07941909'`` (separators ``;``, ``|``, ``,`` or spaces) or a list ->
    a tuple of upper-case codes, order kept, duplicates dropped."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ()
    items = value if isinstance(value, list | tuple) else re.split(r"[;|,\s]+", str(value))
    out: list[str] = []
    for item in items:
        code = str(item).strip().upper()
        if code and code not in out:
            out.append(code)
    return tuple(out)


@dataclass(frozen=True)
class Registry:
    """Groups and their status history.

    ``groups``: GeoDataFrame (EPSG:28992), one row per group, columns ``group_id``, ``type``,
    ``label``, ``team_id``, ``area_kind``, ``buurten`` (tuple of buurt codes; empty for
    polygon groups), ``postcodes`` (str or None), ``members`` (Int64, may be NA),
    ``synthetic`` (bool: demo data) and ``geometry`` (the polygon of polygon groups, None for
    buurt groups; ``group_areas`` resolves both).
    ``history``: DataFrame ``group_id, status, since`` (since = naive midnight Timestamp),
    sorted by group and date.
    """

    groups: gpd.GeoDataFrame
    history: pd.DataFrame

    def __len__(self) -> int:
        return len(self.groups)

    @property
    def synthetic(self) -> bool:
        return bool(len(self.groups)) and bool(self.groups["synthetic"].all())

    def status_on(self, when: date | datetime | str | pd.Timestamp) -> pd.Series:
        """Status of every group on a date (index ``group_id``; None = not yet registered)."""
        day = to_date(when)
        h = self.history
        valid = h.loc[h["since"] <= day].sort_values(["group_id", "since"], kind="stable")
        last = valid.groupby("group_id", sort=False)["status"].last()
        return last.reindex(self.groups["group_id"]).astype(object).where(
            lambda s: s.notna(), None).rename("status")

    def since_on(self, when: date | datetime | str | pd.Timestamp) -> pd.Series:
        """Date since which the status on ``when`` holds (index ``group_id``)."""
        day = to_date(when)
        h = self.history
        valid = h.loc[h["since"] <= day].sort_values(["group_id", "since"], kind="stable")
        return valid.groupby("group_id", sort=False)["since"].last().reindex(
            self.groups["group_id"]).rename("status_since")

    def counts_on(self, when: date | datetime | str | pd.Timestamp) -> dict[str, int]:
        """Numbers of groups per type and status on a date, e.g. ``active_teams``."""
        status = self.status_on(when).to_numpy()
        types = self.groups["type"].to_numpy()
        return {
            "active_teams": int(((types == TEAM) & (status == ACTIVE)).sum()),
            "teams_in_formation": int(((types == TEAM) & (status == FORMING)).sum()),
            "stopped_teams": int(((types == TEAM) & (status == STOPPED)).sum()),
            "whatsapp_groups": int(((types == WHATSAPP) & (status == ACTIVE)).sum()),
            "whatsapp_groups_in_formation": int(((types == WHATSAPP) & (status == FORMING)).sum()),
            "stopped_whatsapp_groups": int(((types == WHATSAPP) & (status == STOPPED)).sum()),
        }

    def first_date(self) -> pd.Timestamp | None:
        return None if self.history.empty else self.history["since"].min()


def empty_registry() -> Registry:
    return make_registry([], [])


def make_registry(
    groups: Iterable[dict[str, Any]] | pd.DataFrame,
    history: Iterable[dict[str, Any]] | pd.DataFrame,
    *,
    known_buurten: Iterable[str] | None = None,
) -> Registry:
    """Build a validated ``Registry`` from records (dicts) or frames.

    Group records take the ``GROUP_COLUMNS`` keys plus ``geometry`` (a shapely polygon in
    EPSG:28992) for polygon groups; ``area_kind`` may be left out (buurten when ``buurten`` is
    given, else polygon). History records take ``group_id, status, since``. Every problem is
    collected and raised together as ``ImportRejected`` (row = position + 1)."""
    g = pd.DataFrame(list(groups)) if not isinstance(groups, pd.DataFrame) else \
        pd.DataFrame(groups).copy()
    h = pd.DataFrame(list(history)) if not isinstance(history, pd.DataFrame) else history.copy()
    if "row" not in g:
        g["row"] = np.arange(len(g)) + 1
    if "row" not in h:
        h["row"] = np.arange(len(h)) + 1
    problems: list[dict[str, Any]] = []
    reg = _validate(g, h, problems, known_buurten)
    if problems:
        rejects = pd.DataFrame(problems, columns=["row", "column", "value", "reason"])
        raise ImportRejected(
            f"{rejects['row'].nunique()} groep(en) ongeldig; er is niets opgeslagen", rejects)
    return reg


#: Records a problem: ``bad(row, column, value, reason)``.
_Bad = Callable[[object, str, object, str], None]


def _validate(g: pd.DataFrame, h: pd.DataFrame, problems: list[dict[str, Any]],
              known_buurten: Iterable[str] | None, *, same_rows: bool = False) -> Registry:
    """Validate raw frames into a Registry, appending row/column problems. ``same_rows``:
    history rows carry the row number of their group's row (one file), so the history of a
    row rejected for a duplicate ``group_id`` is skipped instead of reported again."""

    def bad(row: object, column: str, value: object, reason: str) -> None:
        problems.append({"row": row, "column": column,
                         "value": "" if value is None else str(value)[:80], "reason": reason})

    known = set(known_buurten) if known_buurten is not None else None
    for col in GROUP_COLUMNS:
        if col not in g:
            g[col] = None
    if "geometry" not in g:
        g["geometry"] = None
    seen: dict[str, object] = {}
    dup_rows: set[object] = set()
    records = [_group_record(rec, known, seen, dup_rows, bad) for rec in g.to_dict("records")]
    groups = pd.DataFrame(records, columns=[*GROUP_COLUMNS, "geometry", "row"])
    types = dict(zip(groups["group_id"], groups["type"], strict=True))
    _check_team_links(records, types, bad)
    history = _history(h, types, dup_rows if same_rows else set(), bad)
    has_status = set(history["group_id"])
    for rec in records:
        if rec["group_id"] and rec["group_id"] not in has_status:
            bad(rec["row"], "status", "", "geen status: geef een status met datum "
                "(bijv. status=actief, since=2017-03-01)")
    history = history.drop(columns=["row", "column"])
    history["since"] = pd.to_datetime(history["since"])
    history = history.sort_values(["group_id", "since"], kind="stable", ignore_index=True)
    gdf = gpd.GeoDataFrame(groups.drop(columns=["row"]), geometry="geometry", crs=RD_NEW)
    gdf["members"] = gdf["members"].astype("Int64")
    gdf["synthetic"] = gdf["synthetic"].astype(bool)
    return Registry(groups=gdf.reset_index(drop=True), history=history)


# --- the steps of _validate -------------------------------------------------------------------
def _text(value: object) -> str | None:
    return None if _missing(value) else str(value).strip() or None


def _group_record(rec: dict[str, Any], known: set[str] | None, seen: dict[str, object],
                  dup_rows: set[object], bad: _Bad) -> dict[str, Any]:
    """One group row, checked: its identity, type, area, personal data and counts."""
    row = rec["row"]
    gid = "" if _missing(rec["group_id"]) else str(rec["group_id"]).strip()
    if not gid:
        bad(row, "group_id", "", "group_id ontbreekt")
    elif not _GROUP_ID.match(gid):
        bad(row, "group_id", gid, "group_id mag alleen letters, cijfers, '-', '_' en '.' "
            "bevatten (max. 64 tekens)")
    elif gid in seen:
        bad(row, "group_id", gid, f"group_id komt dubbel voor (ook in rij {seen[gid]})")
        dup_rows.add(row)
    else:
        seen[gid] = row
    gtype = normalise_type(rec["type"]) if not _missing(rec["type"]) else None
    if gtype is None:
        bad(row, "type", rec["type"],
            "onbekend type; verwacht 'buurtpreventieteam' of 'whatsapp-preventiegroep'")
    label = _text(rec["label"])
    if label is not None and len(label) > 200:
        bad(row, "label", label, "label is langer dan 200 tekens")
    team_id = _text(rec["team_id"])
    if team_id is not None and gtype == TEAM:
        bad(row, "team_id", team_id, "een buurtpreventieteam kan niet aan een team "
            "gekoppeld worden (team_id alleen bij WhatsApp-groepen)")
    kind, buurten, geom = _group_area(rec, known, bad)
    for column, value in (("group_id", gid), ("label", label), ("team_id", team_id),
                          ("postcodes", rec["postcodes"])):
        if looks_personal(value if not _missing(value) else None):
            # the value is not repeated in the report: it is the personal data
            bad(row, column, "", "lijkt een e-mailadres of telefoonnummer te bevatten "
                "(persoonsgegeven): niet toegestaan")
    members = _members(rec["members"], row, bad)
    postcodes = None if _missing(rec["postcodes"]) else " ".join(
        split_codes(rec["postcodes"])) or None
    if postcodes and not all(re.match(r"^\d{4}([A-Z]{2})?$", p) for p in postcodes.split()):
        bad(row, "postcodes", postcodes, "postcodegebieden als 1234 of 1234AB, gescheiden "
            "door ; of |")
    synthetic = rec["synthetic"]
    synthetic = False if _missing(synthetic) else _key(synthetic) in (
        "1", "true", "ja", "yes", "waar")
    return {"group_id": gid, "type": gtype, "label": label, "team_id": team_id,
            "area_kind": kind, "buurten": buurten, "postcodes": postcodes,
            "members": members, "synthetic": synthetic, "geometry": geom, "row": row}


def _group_area(rec: dict[str, Any], known: set[str] | None, bad: _Bad
                ) -> tuple[str, tuple[str, ...], shapely.Geometry | None]:
    """``(area_kind, buurten, geometry)`` of a group row: buurt codes or one polygon."""
    row = rec["row"]
    buurten = split_codes(rec["buurten"])
    geom = None if _missing(rec["geometry"]) else rec["geometry"]
    kind = None if _missing(rec["area_kind"]) else _key(rec["area_kind"])
    if kind in ("buurten", "buurt", "buurtcodes"):
        kind = AREA_BUURTEN
    elif kind in ("polygon", "polygoon", "vlak", "geometrie", "geometry"):
        kind = AREA_POLYGON
    elif kind is None:
        kind = AREA_BUURTEN if buurten else AREA_POLYGON
    else:
        bad(row, "area_kind", rec["area_kind"], "verwacht 'buurten' of 'polygon'")
        kind = AREA_BUURTEN if buurten else AREA_POLYGON
    if kind == AREA_BUURTEN:
        if not buurten:
            bad(row, "buurten", "", "geen buurtcodes; geef buurten (bijv. "
                "BU07941900;BU07941909) of een polygoon als gebied")
        wrong = [c for c in buurten if not _BUURT.match(c)]
        if wrong:
            bad(row, "buurten", ";".join(wrong), "ongeldige buurtcode(s); verwacht "
                "BU gevolgd door 8 cijfers")
        elif known is not None:
            unknown = [c for c in buurten if c not in known]
            if unknown:
                bad(row, "buurten", ";".join(unknown), "onbekende buurtcode(s) voor deze "
                    "gemeente")
        return kind, buurten, None
    return kind, (), _polygon(geom, row, bad)


def _polygon(geom: object, row: object, bad: _Bad) -> shapely.Geometry | None:
    """A group's polygon in RD, or None (reported) when it is missing or unusable."""
    if geom is None:
        bad(row, "geometry", "", "geen gebied: geef buurten of een polygoon")
        return None
    if not isinstance(geom, shapely.Geometry):
        bad(row, "geometry", geom, "geometrie niet te lezen")
        return None
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        bad(row, "geometry", geom.geom_type, "geometrie is geen vlak (Polygon of "
            "MultiPolygon)")
        return None
    if geom.is_empty or geom.area < 1.0:
        bad(row, "geometry", "", "geometrie is leeg of kleiner dan 1 m²")
        return None
    if not geom.is_valid:
        bad(row, "geometry", shapely.is_valid_reason(geom), "ongeldige geometrie")
        return None
    xmin, ymin, xmax, ymax = geom.bounds
    if not (xmin >= 0 and xmax <= 300_000 and ymin >= 289_000 and ymax <= 629_000):
        bad(row, "geometry", f"{xmin:.0f},{ymin:.0f}", "coördinaten liggen niet "
            "in Nederland in RD (EPSG:28992)")
        return None
    return geom


def _members(value: object, row: object, bad: _Bad) -> int | None:
    """The number of members (a whole number >= 0), or None."""
    if _missing(value):
        return None
    try:
        num = float(str(value).strip().replace(",", "."))
        if num != int(num) or num < 0:
            raise ValueError
        return int(num)
    except ValueError:
        bad(row, "members", value, "aantal leden moet een geheel getal >= 0 zijn "
            "(namen van leden worden niet opgeslagen)")
        return None


def _check_team_links(records: list[dict[str, Any]], types: dict[str, object], bad: _Bad) -> None:
    """A WhatsApp group's ``team_id`` must name a buurtpreventieteam of the register."""
    for rec in records:
        tid = rec["team_id"]
        if tid is not None and rec["type"] == WHATSAPP:
            if tid not in types:
                bad(rec["row"], "team_id", tid, "gekoppeld team bestaat niet in het register")
            elif types[tid] != TEAM:
                bad(rec["row"], "team_id", tid, "team_id verwijst niet naar een "
                    "buurtpreventieteam")


def _history(h: pd.DataFrame, types: dict[str, object], skip_rows: set[object], bad: _Bad
             ) -> pd.DataFrame:
    """The status history, checked (rows in ``skip_rows`` are left out): columns
    ``HISTORY_COLUMNS`` + ``row``, ``column`` (where a problem is reported)."""
    for col in HISTORY_COLUMNS:
        if col not in h:
            h[col] = None
    hist: list[dict[str, Any]] = []
    for rec in h.to_dict("records"):
        row = rec["row"]
        if row in skip_rows:
            continue
        column = rec.get("column") if isinstance(rec.get("column"), str) else None
        gid = "" if _missing(rec["group_id"]) else str(rec["group_id"]).strip()
        status = None if _missing(rec["status"]) else normalise_status(rec["status"])
        if status is None:
            bad(row, column or "status", rec["status"],
                "onbekende status; verwacht in_oprichting, actief of gestopt")
        try:
            since = to_date(rec["since"]) if not _missing(rec["since"]) else None
        except InvalidInput:
            since = None
        if since is None:
            bad(row, column or "since", rec["since"], "datum ontbreekt of is geen datum "
                "(JJJJ-MM-DD)")
        if gid and gid not in types:
            bad(row, "group_id", gid, "status voor een onbekende groep")
        hist.append({"group_id": gid, "status": status, "since": since, "row": row,
                     "column": column or "since"})
    history = pd.DataFrame(hist, columns=[*HISTORY_COLUMNS, "row", "column"])
    if len(history):
        dup = history.duplicated(["group_id", "since"], keep="first") & history["since"].notna()
        for rec in history.loc[dup].to_dict("records"):
            bad(rec["row"], rec["column"], rec["since"].date() if rec["since"] is not None
                else "", "twee statussen op dezelfde datum")
    return history


def _missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    if value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, str) and value.strip() == ""


def merge_registries(base: Registry, update: Registry) -> Registry:
    """``update`` replaces groups of ``base`` with the same ``group_id`` (with their history);
    other groups of ``base`` stay."""
    ids = set(update.groups["group_id"])
    g = pd.concat([base.groups.loc[~base.groups["group_id"].isin(ids)], update.groups],
                  ignore_index=True)
    h = pd.concat([base.history.loc[~base.history["group_id"].isin(ids)], update.history],
                  ignore_index=True).sort_values(["group_id", "since"], kind="stable",
                                                 ignore_index=True)
    return Registry(groups=gpd.GeoDataFrame(g, geometry="geometry", crs=RD_NEW), history=h)
