"""The alert layers of the catalogue (registered from ``geoveilig.layers``):

- ``alerts`` (analyst): every alert with its generalised zone (125 m cells), crime type,
  validity, extent, buurten, wijken, prevention groups, message, action and delivery status;
  ``date`` keeps the alerts valid on that day.
- ``alerts-buurten`` (public): per CBS buurt only whether the risk is raised ("verhoogd
  risico") on ``date`` (default: the day after the last incident), the crime types and until
  when; the number of incidents behind the alerts is suppressed below the low-count rule
  (1-4 -> null) like every public count. No zone, no group, no message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import RD_NEW, TIMEZONE
from ..layers import (
    DATE_PARAM,
    Layer,
    LayerContext,
    Param,
    choice_param,
    register_layer,
)


def _day(ctx: LayerContext, params: Mapping[str, Any]) -> pd.Timestamp | None:
    when = params.get("date")
    if when is not None:
        return pd.Timestamp(when).tz_localize(TIMEZONE)
    return None


def _default_day(ctx: LayerContext) -> pd.Timestamp:
    """The day after the last stored incident (defaults from the data, not the clock)."""
    rng = ctx.store.time_range()
    if rng is None:
        return pd.Timestamp.now(tz=TIMEZONE).normalize()
    return (rng[1].tz_localize(None).normalize() + pd.Timedelta(days=1)).tz_localize(TIMEZONE)


def _last_day(values: pd.Series) -> list[str]:
    return [(t - pd.Timedelta(days=1)).date().isoformat() for t in values]


def build_alerts(ctx: LayerContext, params: Mapping[str, Any]) -> gpd.GeoDataFrame:
    """Alerts with zones and groups (analyst)."""
    from ..store.alerts import list_alerts

    status = params.get("status")
    frame = list_alerts(ctx.store, active_at=_day(ctx, params),
                        status=[status] if status else None)
    out = gpd.GeoDataFrame({
        "id": frame["id"].astype(str).to_numpy(),
        "crime_type": frame["crime_type"].to_numpy(),
        "valid_from": [t.date().isoformat() for t in frame["valid_from"]],
        "valid_through": _last_day(frame["valid_until"]),
        "distance_m": frame["distance_m"].to_numpy(float),
        "days": frame["days"].to_numpy(float),
        "extent_source": frame["extent_source"].to_numpy(),
        "n_incidents": frame["n_incidents"].to_numpy(int),
        "n_cells": frame["cells"].map(len).to_numpy(int),
        "buurten": [";".join(b) for b in frame["buurten"]],
        "wijken": [";".join(w) for w in frame["wijken"]],
        "group_ids": [";".join(g) for g in frame["group_ids"]],
        "message": frame["message"].to_numpy(),
        "action": frame["action"].to_numpy(),
        "status": frame["status"].to_numpy(),
    }, geometry=frame.geometry.values, crs=RD_NEW)
    return out


def build_alert_buurten(ctx: LayerContext, params: Mapping[str, Any]) -> gpd.GeoDataFrame:
    """Per buurt: raised risk on the date, yes or no (public, aggregated)."""
    from ..store.alerts import list_alerts

    day = _day(ctx, params) or _default_day(ctx)
    active = list_alerts(ctx.store, active_at=day)
    b = ctx.areas.buurten
    n = np.zeros(len(b), dtype=int)
    types: list[set[str]] = [set() for _ in range(len(b))]
    until: list[pd.Timestamp | None] = [None] * len(b)
    pos = {c: i for i, c in enumerate(b["code"])}
    for _, a in active.iterrows():
        for code in a["buurten"]:
            i = pos.get(code)
            if i is None:
                continue
            n[i] += int(a["n_incidents"])
            types[i].add(str(a["crime_type"]))
            until[i] = a["valid_until"] if until[i] is None else max(until[i], a["valid_until"])
    out = gpd.GeoDataFrame({
        "code": b["code"].to_numpy(), "name": b["name"].to_numpy(),
        "wijk_code": b["wijk_code"].to_numpy(), "date": day.date().isoformat(),
        "verhoogd_risico": n > 0,
        "crime_types": [";".join(sorted(t)) for t in types],
        "valid_through": [None if u is None else (u - pd.Timedelta(days=1)).date().isoformat()
                          for u in until],
    }, geometry=b.geometry.values, crs=RD_NEW)
    return out


register_layer(Layer(
    id="alerts", title="Meldingen verhoogd risico (near-repeat)",
    description="Meldingen voor preventiegroepen na nieuwe inbraken: de zone (cellen van "
                "125 m, nooit een adres of punt), het misdrijftype, geldigheid, gemeten "
                "bereik, buurten, preventiegroepen, tekst en bezorgstatus. Voor de gemeente.",
    builder=build_alerts, role="analyst",
    params=(Param("date", "Alleen meldingen die op deze datum gelden (JJJJ-MM-DD).",
                  DATE_PARAM.parse, schema=DATE_PARAM.schema, example="2018-03-30"),
            choice_param("status", "pending, delivered of failed.",
                         ("pending", "delivered", "failed"))),
    id_column="id", time_columns=("valid_from", "valid_through"),
    queryables=("crime_type", "status", "extent_source"), depends_on=("alerts", "incidents"),
    keywords=("meldingen", "near-repeat", "preventie")))

register_layer(Layer(
    id="alerts-buurten", title="Verhoogd risico per buurt",
    description="Per buurt of het risico op (woning)inbraak op de peildatum verhoogd is na "
                "recente inbraken in de omgeving (standaard de dag na het laatste incident). "
                "Zonder aantallen: een aantal incidenten per buurt en dag valt niet onder de "
                "vaste perioden van de openbaarmakingscontrole (zie de laag alerts voor de "
                "gemeente).",
    builder=build_alert_buurten, role="public", params=(DATE_PARAM,),
    id_column="code", queryables=("code", "wijk_code", "verhoogd_risico"),
    depends_on=("alerts", "incidents", "today"),
    defaults=lambda ctx: {"date": _default_day(ctx).date()},
    keywords=("verhoogd risico", "buurt", "inbraak")))
