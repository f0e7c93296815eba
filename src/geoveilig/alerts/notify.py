"""Who is told, and what: the prevention groups and buurten a zone concerns, and the Dutch
message ready to forward. Nothing personal: a message names the crime type, the period, the
buurten and the distance/time of the measured pattern, never an address, a point, an incident
id, a time of day or a person."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..areas import Areas
from ..prevention import ACTIVE
from .zones import Zone

#: How a crime type is named in a sentence ("het risico op ...", "na een recente ...").
NOUNS = {
    "woninginbraak": ("woninginbraak", "een woninginbraak"),
    "inbraak-schuur-garage": ("inbraak in schuur of garage", "een inbraak in een schuur of "
                                                              "garage"),
    "inbraak-bedrijf": ("inbraak bij bedrijven", "een inbraak bij een bedrijf"),
    "diefstal-uit-motorvoertuig": ("diefstal uit auto's", "een diefstal uit een auto"),
}
ACTIONS = {
    "woninginbraak": "Doe een witte-voetenactie: leg witte voetjes en een folder bij de "
                     "woningen in het gebied, zodat bewoners ramen en deuren sluiten. Let de "
                     "komende tijd extra op en bel bij een verdachte situatie direct 112.",
}
DEFAULT_ACTION = ("Let de komende tijd extra op in het gebied en bel bij een verdachte "
                  "situatie direct 112.")
#: Share of the zone that a group's or buurt's area must cover to be concerned (1 %:
#: boundaries that only touch or graze a zone do not count).
MIN_OVERLAP = 0.01

MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
          "september", "oktober", "november", "december")


def dutch_date(ts: pd.Timestamp) -> str:
    return f"{ts.day} {MONTHS[ts.month - 1]} {ts.year}"


@dataclass(frozen=True)
class Alert:
    zone: Zone
    buurten: tuple[str, ...]
    buurt_names: tuple[str, ...]
    wijken: tuple[str, ...]
    group_ids: tuple[str, ...]
    message: str
    action: str

    def record(self) -> dict[str, Any]:
        """The row for ``store.alerts.write_alerts``."""
        z = self.zone
        return {"alert_key": z.key, "crime_type": z.crime_type, "valid_from": z.valid_from,
                "valid_until": z.valid_until, "distance_m": z.extent.distance_m,
                "days": z.extent.days, "extent_source": z.extent.source,
                "n_incidents": z.n_incidents, "cells": z.cell_ids, "geometry": z.geometry,
                "buurten": self.buurten, "wijken": self.wijken, "group_ids": self.group_ids,
                "message": self.message, "action": self.action}


def _concerned(zone: shapely.Geometry, geoms: np.ndarray) -> np.ndarray:
    """Which of ``geoms`` cover at least ``MIN_OVERLAP`` of the zone."""
    if geoms.size == 0:
        return np.zeros(0, dtype=bool)
    valid = ~shapely.is_missing(geoms)
    inter = np.zeros(geoms.size)
    inter[valid] = shapely.area(shapely.intersection(geoms[valid], zone))
    return inter >= MIN_OVERLAP * zone.area


def message(zone: Zone, buurt_names: tuple[str, ...]) -> str:
    """The Dutch message ("In uw buurt is het risico op woninginbraak de komende 3 weken
    verhoogd ..."); ``buurt_names`` name the area."""
    noun, one = NOUNS.get(zone.crime_type, (zone.crime_type.replace("-", " "),
                                            zone.crime_type.replace("-", " ")))
    start = max(zone.valid_from, zone.as_of.normalize())
    days = max(1, round((zone.valid_until - start) / pd.Timedelta(days=1)))
    span = f"{round(days / 7)} weken" if days >= 14 else \
        ("dag" if days == 1 else f"{days} dagen")
    last = dutch_date(zone.valid_until - pd.Timedelta(days=1))
    where = ""
    if buurt_names:
        names = list(buurt_names)
        where = (" Het gaat om (een deel van) " + (", ".join(names[:-1]) + " en " + names[-1]
                                                    if len(names) > 1 else names[0]) + ".")
    ext = zone.extent
    basis = ("Dat blijkt uit de cijfers van de afgelopen twee jaar in Helmond: na "
             f"{one} is de kans op een volgende binnen ongeveer {ext.distance_m:g} meter en "
             f"{ext.days:g} dagen groter." if ext.source == "knox" else
             f"Na {one} is de kans op een volgende in de buurt enige tijd groter (vuistregel: "
             f"{ext.distance_m:g} meter en {ext.days:g} dagen).")
    return (f"In uw buurt is het risico op {noun} de komende {span} verhoogd (tot en met "
            f"{last}). Er is onlangs {one} gepleegd in de omgeving. {basis}{where}")


def compose(zones: list[Zone], groups: gpd.GeoDataFrame, areas: Areas) -> list[Alert]:
    """Alerts for ``zones``: the active groups (``prevention.group_areas`` on the reference
    date; teams and WhatsApp groups) and the buurten whose area meets each zone, and the
    Dutch message and action."""
    active = groups.loc[(groups["status"] == ACTIVE).to_numpy()] if len(groups) else groups
    g_geoms = np.asarray(active.geometry.values, dtype=object) if len(active) else \
        np.zeros(0, dtype=object)
    b = areas.buurten
    b_geoms = np.asarray(b.geometry.values, dtype=object)
    out = []
    for z in zones:
        hit_b = _concerned(z.geometry, b_geoms)
        codes = tuple(b["code"].to_numpy()[hit_b])
        names = tuple(str(n) for n in b["name"].to_numpy()[hit_b])
        wijken = tuple(sorted(set(b["wijk_code"].to_numpy()[hit_b])))
        ids = tuple(sorted(active["group_id"].to_numpy()[_concerned(z.geometry, g_geoms)]))
        out.append(Alert(zone=z, buurten=codes, buurt_names=names, wijken=wijken,
                         group_ids=ids, message=message(z, names),
                         action=ACTIONS.get(z.crime_type, DEFAULT_ACTION)))
    return out
