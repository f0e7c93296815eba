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

from concurrent.futures import Future, ThreadPoolExecutor, wait
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
from ..store.protocols import StoreLike
from ..times import local_day, local_timestamp
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
    #: what the near-repeat check covered (set when the import has stored its rows): the
    #: added rows within ``NEWS_DAYS`` of the newest incident (from ``news_since``), and the
    #: older added rows, stored as history only
    news_rows: int = 0
    history_rows: int = 0
    news_since: pd.Timestamp | None = None

    def checked(self) -> str:
        """In Dutch, what the import's near-repeat check covered (nothing is skipped
        silently: the rows stored as history only are counted too)."""
        if self.news_rows == 0 and self.history_rows == 0:
            return "Near-repeatcontrole: geen nieuwe incidenten."
        text = "Near-repeatcontrole: "
        if self.news_rows and self.news_since is not None:
            types = ", ".join(sorted(self.extents)) or "geen (geen type met een patroon)"
            text += (f"{self.news_rows} recente incident(en) vanaf "
                     f"{local_day(self.news_since):%d-%m-%Y} getoetst, meldingen voor: {types}")
        else:
            text += "geen recente incidenten"
        if self.history_rows:
            text += (f"; {self.history_rows} oudere incident(en) (meer dan {NEWS_DAYS} dagen "
                     "voor het nieuwste) alleen opgeslagen als geschiedenis")
        return text + "."

    def __call__(self, conn: Connection, new_rows: pd.DataFrame, batch_id: int) -> None:
        self.compute(new_rows)
        self.write(conn, batch_id)

    def compute(self, new_rows: pd.DataFrame) -> None:
        """What the check covered and the alerts of ``new_rows`` (the rows the import adds):
        reads and writes nothing in the store, so it can run while the rows are written."""
        if len(new_rows) and self.news_since is not None:
            news = int((pd.to_datetime(new_rows["occurred_at"], utc=True)
                        >= self.news_since).sum())
            self.news_rows, self.history_rows = news, len(new_rows) - news
        if len(new_rows) == 0 or not self.extents:
            return
        newest = pd.to_datetime(new_rows["occurred_at"], utc=True).max()
        as_of = newest if self.stored_until is None else max(newest, self.stored_until)
        zones = build_zones(new_rows, self.extents, self.grid, as_of)
        self.alerts = compose(zones, self.groups, self.areas)

    def write(self, conn: Connection, batch_id: int) -> None:
        """The alerts of ``compute`` into the outbox, through the import's connection."""
        if self.alerts:
            self.alert_ids = write_alerts(conn, [a.record() for a in self.alerts], batch_id)


#: Days before the newest incident within which a new incident is news (longer than any
#: alert's validity); older rows of an import raise no alert.
NEWS_DAYS = 90
#: At most this many (most recent) incidents per import feed the Knox test of the extents.
MAX_HISTORY = 20_000


def prepare(store: Store, areas: Areas, new_rows: pd.DataFrame, *,
            crime_types: tuple[str, ...] = CANDIDATE_TYPES, permutations: int = 99,
            seed: int = 0) -> AlertHook:
    """Everything the import hook needs, read before the import: the near-repeat extent of
    each candidate type present in ``new_rows`` (Knox test on the stored incidents of the two
    years before the newest incident, plus the new rows themselves), the prevention groups
    with their status on that date, and the grid."""
    rng = store.time_range()
    stored_until = rng[1] if rng is not None else None
    since = None
    if len(new_rows):
        # only incidents that can still raise an alert are news: a bulk load of history
        # (years of incidents) measures no extents and writes no alerts for its old rows
        when = pd.to_datetime(new_rows["occurred_at"], utc=True)
        newest = when.max() if stored_until is None else max(when.max(), stored_until)
        since = newest - pd.Timedelta(days=NEWS_DAYS)
        new_rows = new_rows.loc[(when >= since).to_numpy()]
    types = tuple(t for t in crime_types
                  if len(new_rows) and (new_rows["crime_type"] == t).any())
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
        if len(history) > MAX_HISTORY:  # the Knox test on the most recent events only
            history = history.sort_values("occurred_at").iloc[-MAX_HISTORY:]
        extents = estimate_extents(history, as_of, crime_types=types,
                                   permutations=permutations, seed=seed)
        registry = load_registry(store)
        if len(registry.groups):
            groups = group_areas(registry, areas, local_day(as_of))
    return AlertHook(extents=extents, groups=groups, areas=areas, grid=grid_of(areas),
                     stored_until=stored_until, news_since=since)


def import_with_alerts(store: Store, areas: Areas, parsed: ParseResult, *, source_name: str,
                       content_sha256: str, partial: bool = False, synthetic: bool = False,
                       update: bool = False, actor: str = "geoveilig"
                       ) -> tuple[ImportSummary, AlertHook]:
    """``Store.import_incidents`` with the alerts outbox written in the same transaction
    (``update``/``actor``: corrections, see ``Store.import_incidents``).

    ``prepare`` (the Knox test of the extents) runs on a second thread while the import
    writes its rows; it reads on a connection of its own, which sees the store as it was
    before the import (the import commits only after its hook), exactly as when it ran first.
    The hook waits for it. A database in memory (one connection) runs it first instead."""
    def run() -> AlertHook:
        return prepare(store, areas, parsed.frame)

    if not _has_own_connections(store):
        hook = run()
        summary = store.import_incidents(parsed, source_name=source_name,
                                         content_sha256=content_sha256, partial=partial,
                                         synthetic=synthetic, on_import=hook, update=update,
                                         actor=actor)
        return summary, hook
    with ThreadPoolExecutor(1) as pool:
        preparing = pool.submit(run)
        computing: list[Future[None]] = []

        def on_rows(new_rows: pd.DataFrame) -> None:
            # the zones of the rows to be added, computed (after ``prepare``, on its thread)
            # while the store writes them
            computing.append(pool.submit(lambda: preparing.result().compute(new_rows)))

        def on_import(conn: Connection, new_rows: pd.DataFrame, batch_id: int) -> None:
            hook = preparing.result()
            if computing:
                computing[0].result()
            else:
                hook.compute(new_rows)
            hook.write(conn, batch_id)

        try:
            summary = store.import_incidents(parsed, source_name=source_name,
                                             content_sha256=content_sha256, partial=partial,
                                             synthetic=synthetic, on_import=on_import,
                                             on_rows=on_rows, update=update, actor=actor)
        finally:
            wait([preparing])
            wait(computing)
    return summary, preparing.result()


def _has_own_connections(store: Store) -> bool:
    """Whether a second thread reads the store on a connection of its own that sees the same
    data (every file or server database; not SQLite in memory)."""
    url = store.engine.url
    return not (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"))


# --- witte-voetenacties ------------------------------------------------------------------------

def current_zones(store: StoreLike, areas: Areas, day: pd.Timestamp,
                  crime_type: str = "woninginbraak") -> tuple[gpd.GeoDataFrame, dict[str, Extent],
                                                             tuple[str, ...]]:
    """The zones of ``crime_type`` valid on ``day``: the stored alerts, or, when the outbox
    holds none for that day (data loaded without alerts, e.g. ``geoveilig demo``), derived
    from the stored incidents before ``day`` exactly as an import would have. Also the extents
    measured on the two years before ``day`` and a note on which source was used."""
    from ..store.alerts import list_alerts

    history = store.incidents(start=day - pd.Timedelta(days=HISTORY_DAYS), end=day,
                              crime_types=[crime_type])
    extents = estimate_extents(history, day, crime_types=(crime_type,))
    stored = list_alerts(store, active_at=day)
    stored = stored.loc[(stored["crime_type"] == crime_type).to_numpy()]
    if len(stored):
        return stored, extents, (f"{len(stored)} geldige melding(en) uit de outbox.",)
    zones = build_zones(history, extents, grid_of(areas), day)
    frame = gpd.GeoDataFrame({
        "id": [-(i + 1) for i in range(len(zones))],
        "crime_type": [z.crime_type for z in zones],
        "cells": [list(z.cell_ids) for z in zones],
        "valid_until": [z.valid_until for z in zones],
    }, geometry=gpd.GeoSeries([z.geometry for z in zones], crs="EPSG:28992"),
        crs="EPSG:28992")
    return frame, extents, (f"geen meldingen in de outbox op deze datum: {len(zones)} zone(s) "
                            "afgeleid uit de opgeslagen incidenten (negatieve melding-id's).",)


def plan_witte_voeten(store: StoreLike, areas: Areas, *, count: int,
                      date: str | pd.Timestamp | None = None, efficacy: float | None = None,
                      save: bool = False) -> tuple[object, list[int]]:
    """``geoveilig recommend witte-voeten`` and ``POST /v1/recommendations/witte-voeten``:
    the plan (``wittevoeten.WitteVoetenPlan``) and, with ``save``, the ids of the deployments
    (kind ``witte-voeten``) it was saved as. ``date`` defaults to the day after the last
    stored incident (said in the notes)."""
    from ..placement.service import plan_origin
    from ..store.deployments import add_deployments
    from . import wittevoeten

    day = plan_origin(store, date, where="date")
    notes: tuple[str, ...] = ()
    if date is None or not str(date).strip():
        notes = (f"peildatum {day:%Y-%m-%d}: de dag na het laatste incident.",)
    aware = local_timestamp(day)
    zones, extents, why = current_zones(store, areas, aware)
    ext = extents.get(wittevoeten.CRIME_TYPE)
    uplift = ext.knox_ratio if ext is not None else 1.0
    registry = load_registry(store)
    groups = group_areas(registry, areas, local_day(day)) \
        if len(registry.groups) else gpd.GeoDataFrame(
            {"group_id": [], "type": [], "status": []}, geometry=[], crs="EPSG:28992")
    history = store.incidents(start=aware - pd.Timedelta(days=365), end=aware,
                              crime_types=[wittevoeten.CRIME_TYPE])
    result = wittevoeten.plan(zones, history, groups, grid_of(areas), areas, count=count,
                              date=aware, uplift=uplift,
                              efficacy=wittevoeten.DEFAULT_EFFICACY if efficacy is None
                              else efficacy)
    result = wittevoeten.WitteVoetenPlan(result.sites, result.date,
                                         (*notes, *why, *result.notes), result.candidates)
    ids: list[int] = []
    if save and len(result.sites):
        ids = add_deployments(store, wittevoeten.as_deployments(result.sites))
    return result, ids
