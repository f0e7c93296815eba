"""Near-repeat alerts for prevention groups, and witte-voetenacties.

After each import of new incidents: zones of raised risk from the measured near-repeat extent
(:mod:`.zones`), who is told and the Dutch message (:mod:`.notify`), written to the outbox in
the import's transaction (:mod:`.service`, ``store.alerts``) and delivered to webhooks and
e-mail (:mod:`.delivery`). :mod:`.wittevoeten` plans witte-voetenacties inside current zones;
:mod:`.backtest` holds the alerts to account on the stored history; :mod:`.layers` registers
the map layers. See ``docs/alerts.md``.

The names below are imported lazily: the layer catalogue imports :mod:`.layers` at start-up
without paying for the hotspot engine.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "ALWAYS": "zones", "CANDIDATE_TYPES": "zones", "FALLBACK": "zones", "MIN_CELLS": "zones",
    "Extent": "zones", "Zone": "zones", "build_zones": "zones", "estimate_extents": "zones",
    "incident_cells": "zones", "zones_frame": "zones", "Alert": "notify", "compose": "notify",
    "AlertSettings": "delivery", "DeliveryConfig": "delivery", "deliver": "delivery",
    "alert_backtest": "backtest", "import_with_alerts": "service", "prepare": "service",
    "plan_witte_voeten": "service",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'geoveilig.alerts' has no attribute '{name}'")
    return getattr(importlib.import_module(f".{module}", __name__), name)
