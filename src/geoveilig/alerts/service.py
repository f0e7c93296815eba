"""Alerts over a store: the import hook that writes the outbox in the import's transaction.

    hook = prepare(store, areas, parsed.frame)        # extents, groups, grid (reads only)
    summary = store.import_incidents(parsed, ..., on_import=hook)
    hook.alert_ids                                     # the alerts written with the import

``prepare`` reads what the alerts need before the write transaction starts (the stored history
of the candidate crime types and the prevention registry); the hook itself only computes zones
for the rows the import really added and inserts them through the import's connection, so the
import and its alerts commit or roll back together (on SQLite and PostgreSQL alike).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd
from sqlalchemy.engine import Connection

from ..areas import Areas
from ..hotspots import Grid, make_grid
from ..incidents import ParseResult
from ..prevention import group_areas
from ..store import ImportSummary, Store
from ..store.alerts import write_alerts
from ..store.prevention import load_registry
from .notify import Alert, compose
from .zones import CANDIDATE_TYPES, HISTORY_DAYS, Extent, build_zones, estimate_extents

_GRIDS: dict[int, tuple[Areas, Grid]] = {}


def grid_of(areas: Areas, cell_size: float = 125.0) -> Grid:
    """The 125 m grid of ``areas`` (made once per Areas object)."""
    hit = _GRIDS.get(id(areas))
    if hit is None or hit[0] is not areas or hit[1].cell_size != cell_size:
        hit = (areas, make_grid(areas, cell_size, areas=areas))
        _GRIDS[id(areas)] = hit
    return hit[1]


@dataclass
class AlertHook:
    """``on_import`` callback for ``Store.import_incidents`` (see the module docstring)."""

    extents: dict[str, Extent]
    groups: gpd.GeoDataFrame
    areas: Areas
    grid: Grid
    stored_until: pd.Timestamp | None
    alerts: list[Alert] = field(default_factory=list)
    alert_ids: list[int] = field(default_factory=list)

    def __call__(self, conn: Connection, new_rows: pd.DataFrame, batch_id: int) -> None:
        if len(new_rows) == 0 or not self.extents:
            return
        newest = pd.to_datetime(new_rows["occurred_at"], utc=True).max()
        as_of = newest if self.stored_until is None else max(newest, self.stored_until)
        zones = build_zones(new_rows, self.extents, self.grid, as_of)
        self.alerts = compose(zones, self.groups, self.areas)
        self.alert_ids = write_alerts(conn, [a.record() for a in self.alerts], batch_id)


def prepare(store: Store, areas: Areas, new_rows: pd.DataFrame, *,
            crime_types: tuple[str, ...] = CANDIDATE_TYPES, permutations: int = 99,
            seed: int = 0) -> AlertHook:
    """Everything the import hook needs, read before the import: the near-repeat extent of
    each candidate type present in ``new_rows`` (Knox test on the stored incidents of the two
    years before the newest incident, plus the new rows themselves), the prevention groups
    with their status on that date, and the grid."""
    types = tuple(t for t in crime_types
                  if len(new_rows) and (new_rows["crime_type"] == t).any())
    rng = store.time_range()
    stored_until = rng[1] if rng is not None else None
    extents: dict[str, Extent] = {}
    groups = gpd.GeoDataFrame({"group_id": [], "status": []}, geometry=[], crs="EPSG:28992")
    if types:
        new_when = pd.to_datetime(new_rows["occurred_at"], utc=True)
        as_of = new_when.max()
        if stored_until is not None:
            as_of = max(as_of, stored_until)
        as_of = as_of + pd.Timedelta(seconds=1)
        old = store.incidents(start=as_of - pd.Timedelta(days=HISTORY_DAYS), end=as_of,
                              crime_types=list(types))
        cols = ["incident_id", "crime_type", "occurred_at", "x", "y"]
        fresh = new_rows.loc[~new_rows["incident_id"].isin(old["incident_id"]), cols]
        history = pd.concat([pd.DataFrame(old[cols]), pd.DataFrame(fresh)],
                            ignore_index=True)
        extents = estimate_extents(history, as_of, crime_types=types,
                                   permutations=permutations, seed=seed)
        registry = load_registry(store)
        if len(registry.groups):
            groups = group_areas(registry, areas, as_of.tz_convert("Europe/Amsterdam")
                                 .tz_localize(None).normalize())
    return AlertHook(extents=extents, groups=groups, areas=areas, grid=grid_of(areas),
                     stored_until=stored_until)


def import_with_alerts(store: Store, areas: Areas, parsed: ParseResult, *, source_name: str,
                       content_sha256: str, partial: bool = False, synthetic: bool = False
                       ) -> tuple[ImportSummary, AlertHook]:
    """``Store.import_incidents`` with the alerts outbox written in the same transaction."""
    hook = prepare(store, areas, parsed.frame)
    summary = store.import_incidents(parsed, source_name=source_name,
                                     content_sha256=content_sha256, partial=partial,
                                     synthetic=synthetic, on_import=hook)
    return summary, hook
