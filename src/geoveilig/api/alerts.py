"""``POST /v1/recommendations/witte-voeten``: the witte-voeten planner
(``geoveilig.alerts.service.plan_witte_voeten``) as a planning kind. The ``alerts`` and
``alerts-buurten`` collections are layers of the catalogue (``geoveilig.alerts.layers``).

Body (JSON, camelCase, unknown fields refused): ``count`` (1-500), ``date`` (default the day
after the last incident), ``efficacy`` (assumed share of burglaries prevented, 0-1, default
0.25) and ``save`` (store the proposals as deployments of kind ``witte-voeten``). The answer is
a GeoJSON FeatureCollection (CRS84) of the ranked cells plus a ``summary`` member (text, notes,
the ids of the saved deployments).
"""

from __future__ import annotations

import datetime as dt
import json

from pydantic import BaseModel, ConfigDict, Field

from ..alerts.service import plan_witte_voeten
from ..layers import LayerContext
from .jobs import JobResult, Progress
from .planning import Planner, register_planner


class WitteVoetenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    count: int = Field(ge=1, le=500, description="aantal acties (cellen van 125 m)")
    date: dt.date | None = Field(default=None, description="peildatum")
    efficacy: float | None = Field(default=None, gt=0, le=1,
                                   description="aangenomen aandeel voorkomen inbraken")
    save: bool = Field(default=False, description="sla op als inzet (witte-voeten)")


def _witte_voeten(ctx: LayerContext, req: WitteVoetenRequest, progress: Progress) -> JobResult:
    plan, ids = plan_witte_voeten(ctx.store, ctx.areas, count=req.count, date=req.date,
                                  efficacy=req.efficacy, save=req.save)
    sites = plan.sites.assign(kind="witte-voeten")  # type: ignore[attr-defined]
    fc = json.loads(sites.to_crs("OGC:CRS84").to_json(drop_id=True, to_wgs84=False))
    fc["summary"] = {"kind": "witte-voeten", "text": plan.summary(),  # type: ignore[attr-defined]
                     "date": plan.date.date().isoformat(),  # type: ignore[attr-defined]
                     "candidates": plan.candidates,  # type: ignore[attr-defined]
                     "notes": list(plan.notes),  # type: ignore[attr-defined]
                     "deploymentIds": ids}
    return JobResult(json.dumps(fc, default=str, ensure_ascii=False).encode(),
                     "application/geo+json")


register_planner(Planner(
    kind="witte-voeten", title="Witte-voetenacties", compute=_witte_voeten,
    request_model=WitteVoetenRequest,
    description="Cellen van 125 m in de huidige zones van verhoogd inbraakrisico, gerangschikt "
                "naar verwacht voorkomen inbraken binnen de geldigheid, voor de actieve "
                "buurtpreventieteams van dat gebied; desgewenst opgeslagen als inzet."))
