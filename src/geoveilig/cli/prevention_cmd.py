"""``geoveilig prevention import|export|coverage|growth|gaps|demo``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

import typer

if TYPE_CHECKING:  # imported where used: a fast --help
    import pandas as pd

from ..crimetypes import expand
from ..errors import ImportRejected, InvalidInput
from .common import (
    areas,
    console,
    handle_errors,
    open_store,
    out,
    progress_steps,
    scoped,
    scoped_areas,
)

prevention_app = typer.Typer(
    help="Buurtpreventieteams en WhatsApp-preventiegroepen: register, dekking per wijk en "
         "buurt, groei en witte vlekken.",
    no_args_is_help=True)

_FORMATS = ("table", "csv", "json")


_GEMEENTE_HELP = ("alleen de gebieden van deze gemeente(n): CBS-code(s), komma-gescheiden "
                  "(standaard alle ingestelde gemeenten)")


def _date(value: str | None) -> pd.Timestamp:
    import pandas as pd

    if value is None:
        return _reference_day()
    try:
        return pd.Timestamp(value).normalize()
    except ValueError:
        raise typer.BadParameter(f"'{value}' is geen datum (JJJJ-MM-DD)",
                                 param_hint="--date") from None


def _reference_day() -> pd.Timestamp:
    """The default of --date: today, or the day after the last incident when the data end
    before today; says which date it is."""
    import pandas as pd

    from ..times import reference_date

    store = open_store()
    try:
        rng = store.time_range()
    finally:
        store.close()
    day, note = reference_date(rng[1] if rng is not None else None)
    console.print(f"{note.capitalize()} (geef een andere met --date).", highlight=False)
    return pd.Timestamp(day)


def _emit(frame: pd.DataFrame, fmt: str, path: Path | None, title: str | None = None) -> None:
    import pandas as pd

    if fmt not in _FORMATS:
        raise typer.BadParameter(f"kies table, csv of json, niet '{fmt}'", param_hint="--format")
    frame = frame.copy()
    for col in frame.columns:
        if pd.api.types.is_float_dtype(frame[col]):
            frame[col] = frame[col].round(4)
    if fmt == "csv":
        from ..safecsv import to_csv

        text = to_csv(frame, index=False)
    elif fmt == "json":
        text = json.dumps(json.loads(frame.to_json(orient="records", force_ascii=False)),
                          ensure_ascii=False, indent=1) + "\n"
    else:
        from .tables import headers, table

        shown = headers(list(frame.columns), risk="risico (misdrijven)", date="peildatum",
                        level="niveau")
        text = ((title + "\n") if title else "") + table(frame, shown, digits=2) + "\n"
    if path is None:
        out.print(text, end="", highlight=False, markup=False, soft_wrap=True)
    else:
        path.write_text(text, encoding="utf-8")
        console.print(f"{len(frame)} rijen geschreven naar {path}")


def _check_level(level: str, allowed: tuple[str, ...] = ("gemeente", "wijk", "buurt")) -> None:
    if level not in allowed:
        raise typer.BadParameter(f"kies {', '.join(allowed)}, niet '{level}'",
                                 param_hint="--level")


@prevention_app.command("import")
@handle_errors
def import_file(
    file: Path = typer.Argument(..., metavar="BESTAND", help="CSV of GeoJSON met preventiegroepen"),
    mode: str = typer.Option("merge", "--mode",
                             help="merge: groepen toevoegen/vervangen op group_id; "
                                  "replace: het hele register vervangen"),
    rejects: Path | None = typer.Option(None, "--rejects",
                                        help="schrijf de foutmeldingen naar dit CSV-bestand"),
) -> None:
    """Lees preventiegroepen in. Persoonsgegevens (namen, telefoonnummers, e-mail, adressen)
    worden geweigerd; bij één fout wordt niets ingelezen."""
    from .. import prevention
    from ..store import prevention as store_prevention

    if not file.is_file():
        raise typer.BadParameter(f"bestand '{file}' bestaat niet", param_hint="BESTAND")
    if mode not in ("merge", "replace"):
        raise typer.BadParameter(f"kies merge of replace, niet '{mode}'", param_hint="--mode")
    data = file.read_bytes()
    a = areas()
    known = list(a.buurten["code"])
    try:
        parsed = prevention.parse_registry(data, file.name, known_buurten=known)
        store = open_store()
        try:
            summary = store_prevention.save_registry(
                store, parsed.registry, mode=cast(Literal["replace", "merge"], mode),
                source_name=file.name,
                content_sha256=hashlib.sha256(data).hexdigest(), n_rows=parsed.n_rows,
                known_buurten=known, actor="cli")
        finally:
            store.close()
    except ImportRejected as exc:
        if rejects is not None:
            from ..safecsv import to_csv

            to_csv(exc.rejects, rejects, index=False)
            console.print(f"Foutmeldingen geschreven naar {rejects}")
        raise
    for w in parsed.warnings:
        console.print(f"[yellow]Let op:[/] {w}", highlight=False)
    out.print(f"Klaar. {summary['added']} groep(en) toegevoegd, {summary['replaced']} "
              f"vervangen; het register telt nu {summary['total']} groepen.")


@prevention_app.command("export")
@handle_errors
def export(
    out_file: Path = typer.Option(..., "--out", help="doelbestand (.csv of .geojson)"),
    fmt: str | None = typer.Option(None, "--format",
                                   help="csv of geojson (standaard: uit de extensie)"),
    crs: str = typer.Option("wgs84", "--crs",
                            help="GeoJSON: wgs84 (RFC 7946) of rd (EPSG:28992)"),
    when: str | None = typer.Option(None, "--date",
                                    help="status op deze datum in de kolom 'status' "
                                         "(standaard de laatste)"),
    gemeente: str | None = typer.Option(None, "--gemeente", help=_GEMEENTE_HELP),
) -> None:
    """Schrijf het register weg als CSV of GeoJSON (opnieuw in te lezen met import)."""
    from .. import prevention
    from ..store import prevention as store_prevention

    kind = fmt or ("geojson" if out_file.suffix.lower() in (".geojson", ".json") else "csv")
    if kind not in ("csv", "geojson"):
        raise typer.BadParameter(f"kies csv of geojson, niet '{kind}'", param_hint="--format")
    store = open_store()
    try:
        reg = store_prevention.load_registry(store)
    finally:
        store.close()
    day = _date(when) if when else None
    data = prevention.to_csv(reg, day) if kind == "csv" else \
        prevention.to_geojson(reg, scoped_areas(gemeente, required=False), when=day, crs=crs)
    out_file.write_bytes(data)
    out.print(f"{len(reg)} groepen geschreven naar {out_file}")


def _registry():
    from ..store import prevention as store_prevention

    store = open_store()
    try:
        reg = store_prevention.load_registry(store)
    finally:
        store.close()
    if len(reg) == 0:
        raise InvalidInput("het preventieregister is leeg: lees groepen in met 'geoveilig "
                           "prevention import BESTAND' of laad de demo met 'geoveilig prevention "
                           "demo'")
    return reg


@prevention_app.command("coverage")
@handle_errors
def coverage_cmd(
    when: str | None = typer.Option(None, "--date", help="peildatum JJJJ-MM-DD "
                                    "(standaard vandaag, of de dag na het laatste incident "
                                    "als de gegevens eerder eindigen)"),
    level: str = typer.Option("wijk", "--level", help="gemeente, wijk of buurt"),
    fmt: str = typer.Option("table", "--format", help="table, csv of json"),
    out_file: Path | None = typer.Option(None, "--out", help="schrijf naar dit bestand"),
    gemeente: str | None = typer.Option(None, "--gemeente", help=_GEMEENTE_HELP),
) -> None:
    """Dekking per gebied: actieve teams, teams in oprichting, WhatsApp-groepen, het gedekte
    deel van het gebied (0-1) en of het wijkdekkend is (>= 95%)."""
    from .. import prevention

    _check_level(level)
    with progress_steps("dekking", 2) as step:
        step("register en grenzen lezen")
        day = _date(when)
        registry, a = _registry(), scoped_areas(gemeente, required=False)
        step("dekking berekenen")
        table = prevention.coverage(registry, a, day, level=level)  # type: ignore[arg-type]
    _emit(table, fmt, out_file, f"Dekking preventiegroepen op {day.date()} per {level}")


@prevention_app.command("growth")
@handle_errors
def growth_cmd(
    start: str | None = typer.Option(None, "--start", help="eerste kwartaal (datum)"),
    end: str | None = typer.Option(None, "--end", help="laatste kwartaal (datum)"),
    level: str = typer.Option("gemeente", "--level", help="gemeente, wijk of buurt"),
    fmt: str = typer.Option("table", "--format", help="table, csv of json"),
    out_file: Path | None = typer.Option(None, "--out", help="schrijf naar dit bestand"),
    gemeente: str | None = typer.Option(None, "--gemeente", help=_GEMEENTE_HELP),
) -> None:
    """Groei van het netwerk per kwartaal (stand op de laatste dag van elk kwartaal)."""
    from .. import prevention

    _check_level(level)
    with progress_steps("groei", 2) as step:
        step("register en grenzen lezen")
        registry, a = _registry(), scoped_areas(gemeente, required=False)
        step("dekking per kwartaal berekenen")
        table = prevention.growth_per_quarter(registry, a, start=start, end=end,
                                              level=level)  # type: ignore[arg-type]
    _emit(table, fmt, out_file, "Groei per kwartaal")


@prevention_app.command("gaps")
@handle_errors
def gaps_cmd(
    when: str | None = typer.Option(None, "--date", help="peildatum (standaard vandaag, of "
                                    "de dag na het laatste incident als de gegevens eerder "
                                    "eindigen)"),
    level: str = typer.Option("both", "--level", help="wijk, buurt of both"),
    months: int = typer.Option(12, "--months", help="risico = HIC-misdrijven in de "
                               "maanden voor de peildatum"),
    crime_type: str = typer.Option("hic", "--crime-type", help="misdrijfsoort(en) voor het "
                                   "risico"),
    fmt: str = typer.Option("table", "--format", help="table, csv of json"),
    out_file: Path | None = typer.Option(None, "--out", help="schrijf naar dit bestand"),
    gemeente: str | None = typer.Option(None, "--gemeente", help=_GEMEENTE_HELP),
) -> None:
    """Witte vlekken: wijken en buurten op volgorde van risico x ongedekt deel. Het risico
    is het aantal geregistreerde misdrijven (standaard HIC) in de periode voor de peildatum."""
    import pandas as pd

    from .. import prevention

    _check_level(level, ("wijk", "buurt", "both"))
    if months < 1:
        raise typer.BadParameter("minstens 1 maand", param_hint="--months")
    with progress_steps("witte vlekken", 2) as step:
        step("incidenten, register en grenzen lezen")
        day = _date(when)
        a, store = scoped(gemeente, required=False)
        try:
            incidents = store.incidents(start=day - pd.DateOffset(months=months), end=day,
                                        crime_types=expand(crime_type))
        finally:
            store.close()
        if len(incidents) == 0:
            raise InvalidInput(f"geen misdrijven ({crime_type}) in de {months} maanden voor "
                               f"{day.date()}: lees eerst incidenten in (geoveilig import of "
                               "geoveilig demo)")
        registry = _registry()
        step("risico en dekking per gebied berekenen")
        risk = prevention.hic_risk(incidents, "buurt", crime_type)
        levels = ("wijk", "buurt") if level == "both" else (level,)
        table = prevention.gap_ranking(registry, a, risk, day,
                                       levels=levels)  # type: ignore[arg-type]
    _emit(table, fmt, out_file, f"Witte vlekken op {day.date()} (risico: {crime_type}, "
          f"{months} maanden)")


@prevention_app.command("demo")
@handle_errors
def demo_cmd(
    seed: int = typer.Option(42, "--seed", help="startgetal van de toevalsgenerator"),
    force: bool = typer.Option(False, "--force", help="ook echte groepen vervangen"),
) -> None:
    """Vervang het register door het SYNTHETISCHE demo-register (gelabeld als demo). Groepen
    komen vaker voor waar meer woninginbraken in de database staan."""
    from ..demo.prevention import demo_prevention_groups
    from ..store import prevention as store_prevention

    with progress_steps("demo-register", 3) as step:
        step("grenzen en woninginbraken lezen")
        a = areas()
        store = open_store()
        try:
            incidents = store.incidents(crime_types=["woninginbraak"])
            step("groepen maken")
            reg = demo_prevention_groups(a, seed=seed, incidents=incidents)
            step("opslaan")
            summary = store_prevention.load_demo_registry(
                store, reg, source_name=f"demo-preventiegroepen seed {seed} (SYNTHETISCH)",
                known_buurten=list(a.buurten["code"]), force=force, actor="cli")
        finally:
            store.close()
    out.print(f"Demo-register geladen: {summary['total']} groepen (synthetisch).")


def register(app: typer.Typer) -> None:
    app.add_typer(prevention_app, name="prevention")
