"""``geoveilig recommend alarms|cameras|buurttent``: inzetadvies. The planning itself is
``geoveilig.placement.service`` (also used by the API); this module only prints and writes."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # imported where used: a fast --help
    from ..areas import Areas
    from ..placement import service
    from ..placement.policies import Recommendation
    from ..store import Store
    from ..store.plans import Requester

from .. import WGS84
from ..radii import DEFAULT_RADIUS_M
from .alerts_cmd import witte_voeten as alerts_witte_voeten
from .common import GEMEENTE_HELP, console, handle_errors, out, progress_steps, scoped, settings

#: ``placement.service.KEEP_EXISTING``, written out so that ``--help`` does not import the
#: planner (tests/test_cli_dutch.py checks that they are the same)
KEEP_EXISTING = True

recommend_app = typer.Typer(help="Inzetadvies: mobiele alarmsystemen, flexibele camera's en "
                                 "BuurtTent-bezoeken.", no_args_is_help=True)


def _requester() -> Requester:
    """A planning run from the command line: recorded as the local user."""
    from ..store.plans import Requester

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "onbekend"
    return Requester(role="analyst", actor=f"cli:{user}")


def _write(rec: Recommendation, path: Path) -> None:

    sites = rec.sites.drop(columns=[c for c in ("candidate_index",) if c in rec.sites])
    sites.to_crs(WGS84).to_file(path, driver="GeoJSON")


#: the columns of the advice table (headers from ``cli.tables``)
SITE_COLUMNS = ("rank", "date", "status", "expected_covered", "share_of_risk", "wijk_name",
                "buurt_code", "buurt_name", "distance_to_existing_m")


def _report(plan: service.Plan, path: Path) -> None:
    import pandas as pd

    from .tables import headers, table

    rec = plan.recommendation
    out.print(plan.summary(), highlight=False)
    cols = headers(SITE_COLUMNS, rec.sites, date="datum")
    out.print(table(rec.sites.head(60), cols, digits=3), highlight=False, soft_wrap=True)
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
    count: int = typer.Option(..., "--count", "-k", help="aantal nieuwe plaatsen voor "
                                                         "alarmsystemen"),
    radius: float = typer.Option(DEFAULT_RADIUS_M["alarm"], "--radius",
                                help="dekkingsstraal in meters (100-200)"),
    origin: str | None = typer.Option(None, "--origin", help="vanaf datum (standaard: dag na "
                                                             "het laatste incident)"),
    window: str = typer.Option("28d", "--window", help="voorspelvenster, bijv. 28d of 4w"),
    keep_existing: bool = typer.Option(
        KEEP_EXISTING, "--keep-existing/--move-existing",
        help="geplaatste systemen blijven staan, of afgekoelde systemen worden verplaatst "
             "(apart vermeld; --count blijft het aantal nieuwe plaatsen)"),
    min_spacing: float | None = typer.Option(None, "--min-spacing",
                                             help="minimale afstand tussen systemen (m)"),
    duration_days: int | None = typer.Option(
        None, "--duration-days",
        help="inzetduur per plek in dagen (standaard: uit de near-repeat-analyse van de "
             "inbraken van de laatste twee jaar)"),
    method: str = typer.Option("prospective", "--method",
                               help="hotspotmethode voor het risico in incidenten: "
                                    "prospective, kde, naive of learned"),
    with_backtest: bool = typer.Option(False, "--backtest",
                                       help="toets de hotspotmethode (trager) en vermeld de score"),
    out_file: Path = typer.Option(..., "--out", help="uitvoer (GeoJSON)"),
    gemeente: str | None = typer.Option(None, "--gemeente", help=GEMEENTE_HELP),
) -> None:
    """Waar zetten we de mobiele alarmsystemen neer (woninginbraak-risico, woongebied)?"""
    from ..placement import service

    _run(gemeente, lambda store, a: service.plan_alarms(
        store, a, count=count, radius=radius, origin=origin, window=window,
        keep_existing=keep_existing, min_spacing=min_spacing, duration_days=duration_days,
        method=method, with_backtest=with_backtest, grid_size=settings().grid_size,
        requester=_requester()), out_file)


@recommend_app.command("cameras")
@handle_errors
def cameras(
    count: int = typer.Option(..., "--count", "-k", help="aantal nieuwe cameraplaatsen"),
    radius: float = typer.Option(DEFAULT_RADIUS_M["camera"], "--radius",
                                help="dekkingsstraal in meters (50-100)"),
    origin: str | None = typer.Option(None, "--origin", help="vanaf datum"),
    window: str = typer.Option("28d", "--window", help="voorspelvenster, bijv. 28d of 4w"),
    keep_existing: bool = typer.Option(
        KEEP_EXISTING, "--keep-existing/--move-existing",
        help="de huidige camera's blijven staan en tellen mee, of mogen verplaatst worden"),
    min_spacing: float | None = typer.Option(None, "--min-spacing",
                                             help="minimale afstand tussen camera's (m)"),
    method: str = typer.Option("prospective", "--method",
                               help="hotspotmethode voor het risico in incidenten: "
                                    "prospective, kde, naive of learned"),
    with_backtest: bool = typer.Option(False, "--backtest",
                                       help="toets de hotspotmethode (trager) en vermeld de score"),
    out_file: Path = typer.Option(..., "--out", help="uitvoer (GeoJSON)"),
    gemeente: str | None = typer.Option(None, "--gemeente", help=GEMEENTE_HELP),
) -> None:
    """Waar moet de flexibele camera heen (straatcriminaliteit)?"""
    from ..placement import service

    _run(gemeente, lambda store, a: service.plan_cameras(
        store, a, count=count, radius=radius, origin=origin, window=window,
        keep_existing=keep_existing, min_spacing=min_spacing, method=method,
        with_backtest=with_backtest, grid_size=settings().grid_size,
        requester=_requester()), out_file)


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
    gemeente: str | None = typer.Option(None, "--gemeente", help=GEMEENTE_HELP),
) -> None:
    """Plan de BuurtTent-bezoeken van een jaar (HIC-risico x zwakke preventie x inwoners)."""
    from ..placement import service

    _run(gemeente, lambda store, a: service.plan_buurttent_year(
        store, a, count=count, year=year, min_gap_weeks=min_gap_weeks, slot=slot,
        requester=_requester()), out_file)


def _run(gemeente: str | None, planner: Callable[[Store, Areas], service.Plan],
         path: Path) -> None:
    """Plan (``planner(store, areas)``) for ``--gemeente`` with progress in stages, write the
    sites to ``path`` and report."""
    with progress_steps("advies", 3) as step:
        step("grenzen en gegevens lezen")
        a, store = scoped(gemeente)
        try:
            step("advies berekenen")
            plan = planner(store, a)
        finally:
            store.close()
        step(f"{path.name} schrijven")
        _write(plan.recommendation, path)
    _finish(plan, path)


def _finish(plan: service.Plan, path: Path) -> None:

    for note in plan.notes:
        console.print(f"[yellow]Let op:[/] {note}", highlight=False)
    _report(plan, path)
    console.print(f"Opgeslagen als plan {plan.plan_id} (geoveilig plans show {plan.plan_id}; "
                  f"inzet vastleggen: geoveilig deployments add --plan {plan.plan_id} "
                  "--ranks 1,2,...)", highlight=False)


# issue 24: witte-voetenacties (geoveilig.alerts), command body in alerts_cmd
recommend_app.command("witte-voeten")(alerts_witte_voeten)


def register(app: typer.Typer) -> None:
    app.add_typer(recommend_app, name="recommend")
