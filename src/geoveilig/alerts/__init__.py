"""Near-repeat alerts for prevention groups, and witte-voetenacties.

After each import of new incidents: zones of raised risk from the measured near-repeat extent
(:mod:`.zones`), who is told and the Dutch message (:mod:`.notify`), written to the outbox in
the import's transaction (:mod:`.service`, ``store.alerts``) and delivered to webhooks and
e-mail (:mod:`.delivery`). :mod:`.wittevoeten` plans witte-voetenacties inside current zones;
:mod:`.backtest` holds the alerts to account on the stored history. See ``docs/alerts.md``.
"""

from .zones import (
    ALWAYS,
    CANDIDATE_TYPES,
    FALLBACK,
    MIN_CELLS,
    Extent,
    Zone,
    build_zones,
    estimate_extents,
    incident_cells,
    zones_frame,
)

__all__ = ["ALWAYS", "CANDIDATE_TYPES", "FALLBACK", "MIN_CELLS", "Extent", "Zone",
           "build_zones", "estimate_extents", "incident_cells", "zones_frame"]
