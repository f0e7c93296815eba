"""``geoveilig recommend alarms|cameras|buurttent``: inzetadvies.

Demand for alarms and cameras is the hotspot engine's risk surface (``_demand``; method
``--method``, default prospective; ``--backtest`` adds its backtest score); when the engine has
too little data the interim recency-weighted counts (``placement.interim``) stand in.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
import typer

from .. import TIMEZONE, WGS84
from ..crimetypes import GROUPS
from ..errors import InvalidInput
from ..hotspots import (
    InsufficientData,
    backtest,
    hotspot_surface,
    knox_test,
    make_grid,
    recommended_bandwidths,
)
from ..placement.interim import INTERIM_METHOD, interim_buurttent_table, interim_demand
from ..placement.policies import (
    DEFAULT_ALARM_DURATION_DAYS,
    Recommendation,
    plan_buurttent,
    recommend_alarms,
    recommend_cameras,
)
from ..prevention import coverage as prevention_coverage
from ..store.deployments import list_deployments
from ..store.prevention import load_registry
from .common import areas, console, handle_errors, open_store, out, settings

recommend_app = typer.Typer(help="Inzetadvies: mobiele alarmsystemen, flexibele camera's en "
                                 "BuurtTent-bezoeken.", no_args_is_help=True)

BURGLARY = ("woninginbraak", "inbraak-schuur-garage")


def _window_days(text: str) -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dw]?)\s*", text.lower())
    if not m or float(m.group(1)) <= 0:
        raise InvalidInput(f"ongeldig venster '{text}': gebruik bijv. 28d of 4w", where="--window")
    return float(m.group(1)) * (7 if m.group(2) == "w" else 1)


def _origin(store, origin: str | None) -> pd.Timestamp:  # type: ignore[no-untyped-def]
    if origin:
        try:
            return pd.Timestamp(origin)
        except ValueError as exc:
            raise InvalidInput(f"ongeldige datum '{origin}'", where="--origin") from exc
    rng = store.time_range()
    if rng is None:
        raise InvalidInput("de database bevat geen incidenten: lees eerst gegevens in "
                           "(geoveilig import of geoveilig demo)")
    return rng[1].normalize().tz_localize(None) + pd.Timedelta(days=1)


def _demand(store, origin: pd.Timestamp, window_days: float,  # type: ignore[no-untyped-def]
            crime_types: tuple[str, ...], method: str = "prospective",
            with_backtest: bool = False) -> tuple[gpd.GeoDataFrame, str, float | None]:
    """Risk per cell for the coming window: (demand, method name, backtest score).

    The hotspot engine's surface (``hotspots.hotspot_surface`` on the 125 m grid, ``method``,
    optionally backtested) when it has enough data; otherwise the interim recency-weighted
    counts (``placement.interim``), said so on the console. ``residential`` (alarms): cells
    with a woninginbraak in the three years before ``origin`` (no BAG data yet)."""
    s = settings()
    a = areas(s)
    inc = store.incidents(end=origin, crime_types=list(crime_types))
    try:
        if len(inc) == 0:
            raise InsufficientData("geen incidenten voor de gekozen periode")
        grid = make_grid(a, s.grid_size, areas=a)
        bt = (backtest(inc, grid, methods=[method], window=f"{window_days:g}d")
              if with_backtest else None)
        surface = hotspot_surface(inc, grid, method, origin=origin, window=f"{window_days:g}d",
                                  backtest=bt)
    except InsufficientData as exc:
        console.print(f"[yellow]Let op:[/] hotspotmethode {method}: {exc}; de "
                      "tussenoplossing (recentheidsgewogen tellingen) wordt gebruikt.",
                      highlight=False)
        recent = inc.loc[pd.to_datetime(inc["occurred_at"]) >=
                         _aware(origin) - pd.Timedelta(days=365)]
        demand = interim_demand(recent, a, origin=origin, window_days=window_days,
                                crime_types=crime_types, cell_size=s.grid_size)
        return demand, INTERIM_METHOD, None
    demand = surface.loc[surface["buurt_code"].notna()].reset_index(drop=True)
    demand["risk"] = demand["risk"].clip(lower=0.0)
    burgl = inc.loc[(inc["crime_type"] == "woninginbraak")
                    & (pd.to_datetime(inc["occurred_at"])
                       >= _aware(origin) - pd.Timedelta(days=3 * 365))]
    hit = shapely.STRtree(np.asarray(demand.geometry.values)).query(
        np.asarray(burgl.geometry.values), predicate="within")[1]
    demand["residential"] = False
    demand.loc[np.unique(hit), "residential"] = True
    score = demand["backtest_score"].iloc[0] if "backtest_score" in demand else None
    label = str(demand["method_label"].iloc[0]) if "method_label" in demand else method
    return demand, f"hotspots: {label}", None if score is None else float(score)


def _near_repeat_days(store, origin: pd.Timestamp) -> int:  # type: ignore[no-untyped-def]
    """Alarm duration from the Knox near-repeat test on the burglaries of the two years before
    ``origin`` (``hotspots.recommended_bandwidths``); the default when there is too little."""
    inc = store.incidents(start=origin - pd.Timedelta(days=730), end=origin,
                          crime_types=list(BURGLARY))
    try:
        rec = recommended_bandwidths(knox_test(inc, permutations=99, seed=0))
    except InvalidInput as exc:
        console.print(f"[yellow]Let op:[/] near-repeat-analyse niet mogelijk ({exc}); "
                      f"inzetduur {DEFAULT_ALARM_DURATION_DAYS} dagen.", highlight=False)
        return DEFAULT_ALARM_DURATION_DAYS
    days = max(1, round(float(rec["alarm_days"])))  # type: ignore[arg-type]
    why = ("near-repeat-patroon gevonden" if rec["source"] == "knox"
           else "geen near-repeat-patroon: standaardwaarde")
    console.print(f"Inzetduur per plek: {days} dagen ({why}).", highlight=False)
    return days


def _aware(ts: pd.Timestamp) -> pd.Timestamp:
    return ts.tz_localize(TIMEZONE) if ts.tzinfo is None else ts


def _existing(store, kind: str, origin: pd.Timestamp) -> gpd.GeoDataFrame | None:  # type: ignore[no-untyped-def]
    try:
        units = list_deployments(store, kinds=[kind], active_at=origin)
    except sa.exc.SQLAlchemyError:  # registry table missing in this database: no units known
        console.print("[yellow]Let op:[/] het inzetregister is niet beschikbaar; geplaatste "
                      "eenheden worden niet meegeteld.")
        return None
    if len(units) == 0:
        return None
    return units.assign(unit_id=units["id"].astype(str))


def _uncovered_share(store, a, when: pd.Timestamp) -> pd.Series | None:  # type: ignore[no-untyped-def]
    """1 - prevention coverage share per buurt on ``when`` from the prevention registry, or
    None when the registry holds no groups."""
    registry = load_registry(store)
    if registry.groups.empty:
        return None
    cov = prevention_coverage(registry, a, when, level="buurt")
    return pd.Series(1.0 - cov["coverage_share"].to_numpy(dtype=float),
                     index=cov["code"].to_numpy())


def _write(rec: Recommendation, path: Path) -> None:
    sites = rec.sites.drop(columns=[c for c in ("candidate_index",) if c in rec.sites])
    sites.to_crs(WGS84).to_file(path, driver="GeoJSON")


def _report(rec: Recommendation, path: Path) -> None:
    out.print(rec.summary(), highlight=False)
    cols = [c for c in ("rank", "date", "status", "expected_covered", "share_of_risk",
                        "wijk_name", "buurt_code", "buurt_name", "distance_to_existing_m")
            if c in rec.sites]
    table = rec.sites[cols].copy()
    for c in ("expected_covered", "share_of_risk", "distance_to_existing_m"):
        if c in table:
            table[c] = table[c].round(3 if c != "distance_to_existing_m" else 0)
    out.print(table.head(60).to_string(index=False), highlight=False)
    if rec.rotation is not None and len(rec.rotation):
        moved = rec.rotation.loc[rec.rotation["cooled_down"]]
        console.print(f"Rotatie: {len(moved)} van {len(rec.rotation)} geplaatste systemen staan "
                      "in een afgekoeld gebied en kunnen verplaatst worden.", highlight=False)
        for r in moved.itertuples():
            target = (f"naar ({r.move_to_x:.0f}, {r.move_to_y:.0f}) in {r.move_to_buurt_code}"
                      if pd.notna(r.move_to_x) else "blijft staan (--keep-existing)")
            console.print(f"  systeem {r.unit_id}: risico {r.risk_in_radius:.2f} -> {target}",
                          highlight=False)
    console.print(f"Geschreven: {path} ({len(rec.sites)} locaties, WGS84)")


@recommend_app.command("alarms")
@handle_errors
def alarms(
    count: int = typer.Option(..., "--count", "-k", help="aantal (extra) alarmsystemen"),
    radius: float = typer.Option(150.0, "--radius", help="dekkingsstraal in meters (100-200)"),
    origin: str | None = typer.Option(None, "--origin", help="vanaf datum (standaard: dag na "
                                                             "het laatste incident)"),
    window: str = typer.Option("28d", "--window", help="voorspelvenster, bijv. 28d of 4w"),
    keep_existing: bool = typer.Option(False, "--keep-existing",
                                       help="geplaatste systemen blijven staan (geen rotatie)"),
    min_spacing: float | None = typer.Option(None, "--min-spacing",
                                             help="minimale afstand tussen systemen (m)"),
    duration_days: int | None = typer.Option(
        None, "--duration-days",
        help="inzetduur per plek in dagen (standaard: uit de near-repeat-analyse van de "
             "inbraken van de laatste twee jaar)"),
    method: str = typer.Option("prospective", "--method", help="hotspotmethode voor het risico"),
    with_backtest: bool = typer.Option(False, "--backtest",
                                       help="toets de hotspotmethode (trager) en vermeld de score"),
    out_file: Path = typer.Option(..., "--out", help="uitvoer (GeoJSON)"),
) -> None:
    """Waar zetten we de mobiele alarmsystemen neer (woninginbraak-risico, woongebied)?"""
    store = open_store()
    try:
        t0 = _origin(store, origin)
        demand, label, score = _demand(store, t0, _window_days(window), BURGLARY, method,
                                        with_backtest)
        existing = _existing(store, "alarm", t0)
        if duration_days is None:
            duration_days = _near_repeat_days(store, t0)
    finally:
        store.close()
    rec = recommend_alarms(demand, count, radius=radius, existing=existing,
                           rotate=not keep_existing, duration_days=duration_days, origin=t0,
                           min_spacing=min_spacing, names=areas().names(), method_name=label,
                           backtest_score=score)
    _write(rec, out_file)
    _report(rec, out_file)


@recommend_app.command("cameras")
@handle_errors
def cameras(
    count: int = typer.Option(..., "--count", "-k", help="aantal camera's"),
    radius: float = typer.Option(75.0, "--radius", help="dekkingsstraal in meters (50-100)"),
    origin: str | None = typer.Option(None, "--origin", help="vanaf datum"),
    window: str = typer.Option("28d", "--window", help="voorspelvenster, bijv. 28d of 4w"),
    keep_existing: bool = typer.Option(False, "--keep-existing",
                                       help="de huidige camera blijft staan en telt mee"),
    min_spacing: float | None = typer.Option(None, "--min-spacing",
                                             help="minimale afstand tussen camera's (m)"),
    method: str = typer.Option("prospective", "--method", help="hotspotmethode voor het risico"),
    with_backtest: bool = typer.Option(False, "--backtest",
                                       help="toets de hotspotmethode (trager) en vermeld de score"),
    out_file: Path = typer.Option(..., "--out", help="uitvoer (GeoJSON)"),
) -> None:
    """Waar moet de flexibele camera heen (straatcriminaliteit)?"""
    store = open_store()
    try:
        t0 = _origin(store, origin)
        demand, label, score = _demand(store, t0, _window_days(window), GROUPS["straat"],
                                        method, with_backtest)
        existing = _existing(store, "camera", t0)
    finally:
        store.close()
    rec = recommend_cameras(demand, count, radius=radius, existing=existing,
                            keep_existing=keep_existing, min_spacing=min_spacing,
                            names=areas().names(), method_name=label, backtest_score=score)
    _write(rec, out_file)
    _report(rec, out_file)


@recommend_app.command("buurttent")
@handle_errors
def buurttent(
    count: int = typer.Option(..., "--count", "-k", help="aantal inzetten"),
    year: int = typer.Option(..., "--year", help="jaar van de planning"),
    min_gap_weeks: float = typer.Option(8, "--min-gap-weeks",
                                        help="minimaal aantal weken tussen bezoeken aan "
                                             "dezelfde wijk"),
    slot: str = typer.Option("W-SAT", "--slot", help="momenten (pandas-frequentie; W-SAT = "
                                                     "elke zaterdag)"),
    out_file: Path = typer.Option(..., "--out", help="uitvoer (GeoJSON)"),
) -> None:
    """Plan de BuurtTent-bezoeken van een jaar (HIC-risico x zwakke preventie x inwoners)."""
    store = open_store()
    start = pd.Timestamp(year=year, month=1, day=1)
    a = areas()
    try:
        inc = store.incidents(start=start - pd.Timedelta(days=365), end=start,
                              crime_types=list(GROUPS["hic"]))
        uncovered = _uncovered_share(store, a, start)
    finally:
        store.close()
    table = interim_buurttent_table(inc, a, origin=start, hic_types=GROUPS["hic"],
                                    uncovered_share=uncovered)
    what = ("preventiedekking uit het register" if uncovered is not None
            else "preventie onbekend (register leeg)")
    rec = plan_buurttent(table, a.buurten, count, start=start,
                         end=pd.Timestamp(year=year + 1, month=1, day=1), slot=slot,
                         min_gap_weeks=min_gap_weeks, names=a.names(),
                         method_name=f"interim: HIC-incidenten vorig jaar; {what}")
    _write(rec, out_file)
    _report(rec, out_file)


def register(app: typer.Typer) -> None:
    app.add_typer(recommend_app, name="recommend")
