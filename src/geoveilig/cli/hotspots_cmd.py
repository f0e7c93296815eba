"""``geoveilig hotspots``, ``geoveilig backtest`` and ``geoveilig nearrepeat``: thin wrappers
around :mod:`geoveilig.hotspots`."""

from __future__ import annotations

from pathlib import Path

import typer

from .. import WGS84, crimetypes
from ..errors import InvalidInput
from .common import (
    GEMEENTE_HELP,
    areas,
    console,
    handle_errors,
    out,
    progress_bar,
    progress_steps,
    scoped,
    settings,
)
from .tables import table


def _load(crime_type: str, cell_size: float | None, store, a=None):
    from ..hotspots import make_grid

    slugs = crimetypes.expand(crime_type)
    s = settings()
    a = a if a is not None else areas(s)
    grid = make_grid(a, cell_size or s.grid_size, areas=a)
    incidents = store.incidents(crime_types=slugs)
    if len(incidents) == 0:
        raise InvalidInput(f"geen incidenten van type '{crime_type}' in de database "
                           "(importeer eerst gegevens of draai 'geoveilig demo'); hotspots "
                           "hebben incidentpunten nodig, gepubliceerde aantallen per buurt "
                           "(geoveilig cbs) zijn daarvoor niet genoeg", where="--crime-type")
    return incidents, grid, crimetypes.label(crime_type) if "," not in crime_type else crime_type


def _processes() -> int:
    """Worker processes for a backtest: ``GEOVEILIG_BACKTEST_PROCESSES`` (0 = one per CPU
    available to this process)."""
    import os

    n = settings().backtest_processes
    return n if n > 0 else len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else (os.cpu_count() or 1)


def _methods(text: str | None) -> list[str] | None:
    return [m.strip() for m in text.split(",") if m.strip()] if text else None


_PROGRESS_HELP = "toon een voortgangsbalk (standaard alleen in een terminal)"
_REFRESH_HELP = ("reken de backtest opnieuw, ook als hij voor dezelfde gegevens en instellingen "
                 "al in de database staat")


def _cached_note(cached: bool) -> None:
    if cached:
        console.print("Backtest uit de database (zelfde gegevens, instellingen en eindmoment; "
                      "--refresh rekent opnieuw).", highlight=False)


@handle_errors
def hotspots(
    crime_type: str = typer.Option(..., "--crime-type", help="misdrijftype of groep, bijv. "
                                   "woninginbraak of hic (komma's toegestaan)"),
    method: str = typer.Option("best", "--method", help="best (gekozen door de backtest op "
                               "de gegevens vóór het startmoment), combined, naive, kde, "
                               "prospective, gistar, learned of emerging"),
    origin: str | None = typer.Option(None, "--origin", help="startmoment van de voorspelling "
                                      "(standaard: de dag na het laatste incident)"),
    window: str = typer.Option("14d", "--window", help="voorspelperiode, bijv. 14d, 2w, 1m"),
    out_path: Path = typer.Option(..., "--out", help="uitvoerbestand (.geojson of .gpkg)"),
    cell_size: float | None = typer.Option(None, "--cell-size", help="celgrootte in meters "
                                           "(standaard GEOVEILIG_GRID_SIZE, 125)"),
    no_backtest: bool = typer.Option(False, "--no-backtest", help="sla de backtest over (de "
                                     "kaart krijgt dan geen oordeel over de kwaliteit)"),
    n_origins: int = typer.Option(26, "--origins", help="aantal startmomenten in de backtest"),
    keep_rd: bool = typer.Option(False, "--rd", help="schrijf in RD New (EPSG:28992) i.p.v. "
                                 "WGS84"),
    show_progress: bool = typer.Option(False, "--progress", "--voortgang", help=_PROGRESS_HELP),
    refresh: bool = typer.Option(False, "--refresh", help=_REFRESH_HELP),
    gemeente: str | None = typer.Option(None, "--gemeente", help=GEMEENTE_HELP),
) -> None:
    """Maak een risicokaart (125 m-cellen) voor een misdrijftype, met het oordeel van de
    backtest erbij."""
    a, store = scoped(gemeente)
    try:
        _hotspots(store, crime_type, method, origin, window, out_path, cell_size, no_backtest,
                  n_origins, keep_rd, show_progress, refresh, a)
    finally:
        store.close()


def _hotspots(store, crime_type, method, origin, window, out_path,
              cell_size, no_backtest, n_origins, keep_rd, show_progress, refresh, a) -> None:
    from ..hotspots import InsufficientData, default_origin, hotspot_surface, write_surface
    from ..hotspots.events import as_timestamp
    from ..hotspots.service import cached_backtest

    incidents, grid, label = _load(crime_type, cell_size, store, a)
    start = default_origin(incidents) if origin is None else as_timestamp(origin, "--origin")
    result = None
    if not no_backtest:
        methods = None if method == "best" else ["naive", method]
        # the backtest ends at the origin: the choice of the method sees only the past
        try:
            with progress_bar("backtest", "startmomenten", show_progress) as update:
                result, cached = cached_backtest(
                    store, incidents, grid, methods, refresh=refresh, progress=update,
                    processes=_processes(), window=window, n_origins=n_origins, end=start,
                    crime_type=crime_type)
            _cached_note(cached)
        except InsufficientData as exc:
            if method != "best":
                raise
            method = "combined"  # works on short history; says so instead of failing
            console.print(f"[yellow]Let op:[/] geen backtest mogelijk vóór het startmoment "
                          f"({exc}); de gecombineerde methode wordt gebruikt, zonder oordeel "
                          "over de kwaliteit.", highlight=False)
    if no_backtest and method == "best":
        raise InvalidInput("--method best heeft de backtest nodig; kies een methode of laat "
                           "--no-backtest weg", where="--method")
    gdf = hotspot_surface(incidents, grid, method, origin=start, window=window,
                          backtest=result)
    meta = gdf.attrs.get("hotspots", {})
    if not keep_rd:
        gdf = gdf.to_crs(WGS84)
    write_surface(gdf, out_path)  # the verdict once, in the file's metadata
    out.print(f"{label}: {len(gdf)} cellen, methode {meta.get('method')}, vanaf "
              f"{meta.get('origin', '')[:10]} voor {meta.get('window')} -> {out_path}")
    if result is not None:
        out.print(meta.get("verdict") or result.verdict, soft_wrap=True)
        for w in result.warnings:
            console.print(f"[yellow]Let op:[/] {w}", highlight=False)
    else:
        console.print("[yellow]Let op:[/] zonder backtest is niet bekend of deze kaart beter "
                      "voorspelt dan de aantallen van de vorige periode.", highlight=False)
    for note in (meta.get("choices") or {}).get("notes", []):
        console.print(f"[cyan]Keuze uit de gegevens:[/] {note}", highlight=False)


@handle_errors
def backtest_cmd(
    crime_type: str = typer.Option(..., "--crime-type", help="misdrijftype of groep"),
    methods: str | None = typer.Option(None, "--methods", help="komma-gescheiden methoden "
                                       "(standaard alle; naive doet altijd mee)"),
    window: str = typer.Option("14d", "--window", help="voorspelperiode, bijv. 14d"),
    step: str = typer.Option("14d", "--step", help="afstand tussen startmomenten"),
    n_origins: int = typer.Option(26, "--origins", help="aantal startmomenten"),
    seed: int = typer.Option(0, "--seed", help="seed voor de bootstrap"),
    out_path: Path | None = typer.Option(None, "--out", help="CSV met de samenvatting"),
    per_origin: Path | None = typer.Option(None, "--per-origin", help="CSV met de scores per "
                                           "startmoment"),
    plot: Path | None = typer.Option(None, "--plot", help="grafiek (.png/.svg/.pdf)"),
    cell_size: float | None = typer.Option(None, "--cell-size", help="celgrootte in meters"),
    show_progress: bool = typer.Option(False, "--progress", "--voortgang", help=_PROGRESS_HELP),
    refresh: bool = typer.Option(False, "--refresh", help=_REFRESH_HELP),
    gemeente: str | None = typer.Option(None, "--gemeente", help=GEMEENTE_HELP),
) -> None:
    """Toets de hotspotmethoden op het verleden (trefkans, PAI, PEI) en kies de beste."""
    from ..hotspots.service import cached_backtest

    a, store = scoped(gemeente)
    try:
        incidents, grid, label = _load(crime_type, cell_size, store, a)
        with progress_bar("backtest", "startmomenten", show_progress) as update:
            result, cached = cached_backtest(
                store, incidents, grid, _methods(methods), refresh=refresh, progress=update,
                processes=_processes(), window=window, step=step, n_origins=n_origins,
                seed=seed, crime_type=crime_type)
    finally:
        store.close()
    _cached_note(cached)
    headers = {"label": "methode", "n_origins": "startmomenten", "hit_5": "trefkans 5%",
               "pai_1": "PAI 1%", "pai_5": "PAI 5%", "pai_5_low": "PAI 5% laag",
               "pai_5_high": "PAI 5% hoog", "pai_10": "PAI 10%", "pei_5": "PEI 5%",
               "meets_criterion": "criterium gehaald"}
    out.print(f"Backtest {label}: {len(result.origins)} startmomenten "
              f"({result.origins[0]:%Y-%m-%d} t/m {result.origins[-1]:%Y-%m-%d}), venster "
              f"{result.window.days} dagen")
    out.print(table(result.summary, headers, digits=2), soft_wrap=True, highlight=False)
    out.print(result.verdict, soft_wrap=True)
    for w in result.warnings:
        console.print(f"[yellow]Let op:[/] {w}", highlight=False)
    if out_path is not None:
        result.to_csv(out_path)
        out.print(f"samenvatting -> {out_path}")
    if per_origin is not None:
        result.to_csv(per_origin, per_origin=True)
        out.print(f"scores per startmoment -> {per_origin}")
    if plot is not None:
        result.plot().savefig(plot, dpi=120)
        out.print(f"grafiek -> {plot}")


@handle_errors
def nearrepeat(
    crime_type: str = typer.Option(..., "--crime-type", help="misdrijftype of groep"),
    permutations: int = typer.Option(99, "--permutations", help="aantal Monte-Carlo-permutaties"),
    seed: int = typer.Option(0, "--seed"),
    out_path: Path | None = typer.Option(None, "--out", help="CSV met alle banden"),
    gemeente: str | None = typer.Option(None, "--gemeente", help=GEMEENTE_HELP),
) -> None:
    """Near-repeattest (Knox): na een incident verhoogd risico dichtbij en kort daarna?"""
    from ..hotspots import knox_test, recommended_bandwidths

    with progress_steps("near-repeattest", 2) as step:
        step("incidenten lezen")
        a, store = scoped(gemeente)
        try:
            incidents, _grid, label = _load(crime_type, None, store, a)
        finally:
            store.close()
        step(f"Knox-test met {permutations} permutaties")
        res = knox_test(incidents, permutations=permutations, seed=seed)
    out.print(f"Near-repeattest {label}: {res.n_events} incidenten, {res.n_pairs} paren, "
              f"{permutations} permutaties (seed {seed}); Knox-ratio's:")
    ratios = res.ratio_frame()
    out.print(table(ratios, {c: c for c in ratios.columns}, digits=2,
                    index={"afstand": "afstand \\ tijd"}), soft_wrap=True, highlight=False)
    rec = recommended_bandwidths(res)
    if rec["source"] == "knox":
        out.print(f"Verhoogd risico tot {rec['distance_bandwidth']:g} m en "
                  f"{rec['alarm_days']:g} dagen na een incident (FDR-gecorrigeerd).")
    else:
        out.print("Geen significant near-repeatpatroon gevonden; standaardwaarden "
                  f"{rec['distance_bandwidth']:g} m / {rec['alarm_days']:g} dagen.")
    if out_path is not None:
        from ..safecsv import to_csv

        to_csv(res.table(), out_path, index=False)
        out.print(f"tabel -> {out_path}")


def register(app: typer.Typer) -> None:
    app.command("hotspots")(hotspots)
    app.command("backtest")(backtest_cmd)
    app.command("nearrepeat")(nearrepeat)
