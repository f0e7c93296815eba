"""The layers of the static council map (``geoveilig map``), built from library results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from .. import crimetypes, stats
from ..areas import Areas
from ..prevention import Registry
from ..prevention.coverage import coverage_layer, group_areas
from .folium_map import MapLayer

#: Layer keys the CLI accepts, in drawing order.
EXPORT_LAYERS = ("misdrijven", "verandering", "preventie-dekking", "preventiegroepen")


def export_layers(
    areas: Areas,
    incidents: pd.DataFrame,
    registry: Registry | None,
    *,
    year: int,
    crime_type: str = "hic",
    date: str | pd.Timestamp | None = None,
    which: Sequence[str] = EXPORT_LAYERS,
    policy: Any = None,
) -> list[MapLayer]:
    """MapLayers for the chosen keys: counts and change per wijk of ``crime_type`` in
    ``year`` (aggregates only, never incident points), prevention coverage per wijk and the
    prevention group areas on ``date`` (default: the end of ``year``). With ``policy`` (a
    ``disclosure.Policy``) the counts are those the public sees (``geoveilig.disclosure``:
    one published crime type or group, perturbed, 1-4 suppressed)."""
    unknown = [w for w in which if w not in EXPORT_LAYERS]
    if unknown:
        from ..errors import InvalidInput

        raise InvalidInput(f"onbekende kaartlaag {', '.join(unknown)}; kies uit "
                           f"{', '.join(EXPORT_LAYERS)}", where="--layers")
    crimetypes.expand(crime_type)  # validates
    label = crimetypes.label(crime_type) if crime_type in crimetypes.GROUPS or \
        crime_type in crimetypes.BY_SLUG else crime_type
    out: list[MapLayer] = []
    if {"misdrijven", "verandering"} & set(which):
        comp = stats.compare(incidents, str(year), areas=areas, level="wijk",
                             rows=(crime_type,))
        if policy is not None:
            from .. import disclosure

            disclosure.check_public_row(crimetypes.expand(crime_type))
            comp = disclosure.protect_comparison(comp, policy)
        wijk = stats.area_layer(comp, areas, crime_type)
        fields = (("name", "Wijk"), ("count", f"{label} {year}"), ("count_1y", f"{year - 1}"),
                  ("change_1y_text", "Verschil"), ("signal_1y", "Betekenis"),
                  ("trend_signal", "Trend"))
        if "misdrijven" in which:
            out.append(MapLayer(f"{label} per wijk, {year}", wijk, kind="choropleth",
                                column="count", legend=f"{label} {year} (aantal)",
                                fields=fields))
        if "verandering" in which:
            wijk = wijk.assign(change_shown=wijk["change_1y"].where(~wijk["suppressed_1y"]))
            out.append(MapLayer(f"Verandering t.o.v. {year - 1}", wijk, kind="choropleth",
                                column="change_shown", diverging=True, show=False,
                                legend=f"{label}: verschil met {year - 1} (%)", fields=fields))
    if registry is not None and len(registry.groups):
        when = pd.Timestamp(date) if date is not None else pd.Timestamp(f"{year}-12-31")
        if "preventie-dekking" in which:
            cov = coverage_layer(registry, areas, when, level="wijk")
            cov = cov.merge(areas.wijken[["code", "name"]], on="code", how="left",
                            suffixes=("", "_wijk"))
            cov["coverage_pct"] = (100 * cov["coverage_share"]).round(0)
            cov["fully_covered_text"] = cov["fully_covered"].map({True: "ja", False: "nee"})
            out.append(MapLayer(
                f"Dekking preventiegroepen {when:%d-%m-%Y}", cov, kind="choropleth",
                column="coverage_pct", scheme="Greens", show=False,
                legend="Deel van de wijk gedekt door een actieve groep (%)",
                fields=(("name", "Wijk"), ("coverage_pct", "Gedekt (%)"),
                        ("active_teams", "Actieve teams"),
                        ("teams_in_formation", "Teams in oprichting"),
                        ("whatsapp_groups", "WhatsApp-groepen"),
                        ("fully_covered_text", "Wijkdekkend"))))
        if "preventiegroepen" in which:
            groups = group_areas(registry, areas, when)
            groups = groups[groups["status"] == "actief"]
            out.append(MapLayer(
                "Actieve preventiegroepen", groups, kind="areas", color="#2b8cbe", show=False,
                fields=(("label", "Groep"), ("type_label", "Soort"),
                        ("status_label", "Status"), ("status_since", "Sinds"))))
    return out
