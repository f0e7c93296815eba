"""``geoveilig cbs fetch|show|mapping|rates|compare|perception``: published police counts, CBS
key figures and Veiligheidsmonitor indicators for any gemeente."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # imported where used: a fast --help
    import pandas as pd

    from ..store import Store

from ..errors import InvalidInput
from .common import (
    GEMEENTE_HELP,
    console,
    handle_errors,
    open_store,
    out,
    progress_steps,
    read_store,
    settings,
)

cbs_app = typer.Typer(help="Gepubliceerde cijfers van politie en CBS: misdrijven per wijk en "
                           "buurt, kerncijfers en veiligheidsbeleving.", no_args_is_help=True)

FORMATS = ("table", "csv")

#: ``--gemeente`` of show, rates and perception
SHOW_GEMEENTE_HELP = ("CBS-gemeentecode, bijv. GM0794, of meer komma-gescheiden, of 'alle' "
                      "(standaard de gemeenten van GEOVEILIG_GEMEENTE)")


def _gemeenten(gemeente: str | None) -> tuple[str, ...]:
    """The gemeenten whose published figures a command reads: ``--gemeente`` (any CBS code:
    figures of a gemeente that is not configured can be fetched and shown) or the configured
    ones (``GEOVEILIG_GEMEENTE``; ``alle``: those of the boundaries)."""
    from ..areas import parse_gemeenten
    from ..sources.fetch import check_gemeente
    from .common import areas

    s = settings()
    listed = parse_gemeenten(gemeente or s.gemeente)
    return tuple(check_gemeente(c)
                 for c in (listed if listed is not None else areas(s).gemeente_codes))


def _emit(frame: pd.DataFrame, headers: dict[str, str], fmt: str, out_file: Path | None,
          note: str = "") -> None:
    from .. import safecsv

    if fmt not in FORMATS:
        raise InvalidInput(f"onbekend formaat '{fmt}': kies table of csv", where="--format")
    frame = frame[[c for c in headers if c in frame.columns]]
    if fmt == "csv":
        text = safecsv.to_csv(frame, index=False)
    else:
        from .tables import table

        text = table(frame, {c: headers[c] for c in frame.columns}, digits=1) + "\n" + (
            note + "\n" if note else "")
    if out_file is not None:
        out_file.write_text(text, encoding="utf-8")
        console.print(f"Geschreven: {out_file} ({len(frame)} rijen)", highlight=False)
    else:
        out.print(text, end="", highlight=False, markup=False, soft_wrap=True)


@cbs_app.command("fetch")
@handle_errors
def fetch(
    gemeente: str | None = typer.Option(None, "--gemeente",
                                        help="CBS-gemeentecode, bijv. GM0794, of meer "
                                             "komma-gescheiden, of 'alle' (de gemeenten van "
                                             "de grenzen; standaard GEOVEILIG_GEMEENTE)"),
    from_year: int | None = typer.Option(None, "--from",
                                         help="eerste jaar (standaard het eerste gepubliceerde)"),
    table_spec: str | None = typer.Option(None, "--tables",
                                          help="kommalijst van tabel-id's of counts, figures, "
                                               "perception (standaard alle)"),
    refresh: bool = typer.Option(False, "--refresh",
                                 help="niet uit de cache lezen, alles opnieuw ophalen"),
) -> None:
    """Haal de geregistreerde misdrijven per wijk en buurt per maand (politie), de kerncijfers
    wijken en buurten (CBS) en de veiligheidsbeleving (Veiligheidsmonitor) op en sla ze op.
    Antwoorden worden bewaard in GEOVEILIG_DATA_DIR/cbs/<tabel>/<datum>/."""
    from ..areas import parse_gemeenten
    from ..sources import fetch as fetch_mod
    from ..sources import tables
    from ..sources.cbs import Client
    from .common import areas

    s = settings()
    listed = parse_gemeenten(gemeente or s.gemeente)
    codes = [fetch_mod.check_gemeente(c)
             for c in (listed if listed is not None else areas(s).gemeente_codes)]
    specs = tables.resolve_tables(table_spec)
    cache = s.data_dir / "cbs"
    rows: dict[str, dict[str, int]] = {}
    with progress_steps("ophalen", len(specs) * len(codes)) as step:
        def progress(text: str) -> None:
            step(text, advance=False)

        clients = {"politie": Client(s.police_url, cache, progress=progress),
                   "cbs": Client(s.cbs_url, cache, progress=progress)}
        store = open_store(s)
        try:
            for code in codes:
                for spec in specs:  # one table at a time: the bar counts tables
                    step(f"{code} tabel {spec.id}: {spec.title}")
                    report = fetch_mod.fetch_all(
                        clients, store, (spec,), code, from_year=from_year, refresh=refresh,
                        progress=lambda line: console.print(line, highlight=False))
                    per_code = rows.setdefault(code, {})
                    for table_id, n in report.rows.items():
                        per_code[table_id] = per_code.get(table_id, 0) + n
        finally:
            store.close()
    for code, per_code in rows.items():
        total = sum(per_code.values())
        out.print(f"{code}: {total} rijen uit {len(per_code)} tabellen opgeslagen "
                  f"(bron op elke rij; cache in {cache}).", highlight=False)


@cbs_app.command("show")
@handle_errors
def show(
    gemeente: str | None = typer.Option(None, "--gemeente", help=SHOW_GEMEENTE_HELP),
) -> None:
    """Toon welke gepubliceerde tabellen in de opslag staan, per gemeente, met bron en
    ophaaldatum."""
    codes = _gemeenten(gemeente)

    def read(store: Store) -> pd.DataFrame:
        from ..store import counts as store_counts

        return store_counts.sources_summary(store, gemeenten=codes)

    summary = read_store("gepubliceerde tabellen", "opslag openen en tabellen lezen", read)
    if summary.empty:
        out.print(f"Geen gepubliceerde cijfers opgeslagen voor {', '.join(codes)} "
                  "(geoveilig cbs fetch).", highlight=False)
        return
    summary["retrieved_at"] = summary["retrieved_at"].dt.strftime("%Y-%m-%d")
    _emit(summary, {"kind": "soort", "table_id": "tabel", "source": "bron",
                    "gemeente": "gemeente", "years": "jaren",
                    "rows": "rijen", "retrieved_at": "opgehaald"}, "table", None)


@cbs_app.command("mapping")
@handle_errors
def mapping_cmd(
    fmt: str = typer.Option("table", "--format", help="table of csv"),
) -> None:
    """Toon hoe de misdrijfklassen van de politie op de categorieën van geoveilig passen."""
    from ..sources import mapping

    note = "Geen eigen gepubliceerde klasse: " + "; ".join(
        f"{k}: {v}" for k, v in mapping.UNMATCHED.items())
    _emit(mapping.table(), {"code": "code", "label": "politieklasse",
                            "categories": "categorie(en)", "match": "overeenkomst",
                            "note": "toelichting"}, fmt, None, note)


RATE_HEADERS = {
    "area_code": "gebied", "year": "jaar", "category_label": "categorie", "count": "aantal",
    "months": "maanden", "unpublished": "niet gepubl.", "per_1000_inhabitants": "per 1.000 inw.",
    "per_1000_dwellings": "per 1.000 won.", "denominator_year": "noemer uit",
    "rate_note": "opmerking", "source": "bron", "table_id": "tabel",
}


@cbs_app.command("rates")
@handle_errors
def rates_cmd(
    level: str = typer.Option("gemeente", "--level", help="gemeente, wijk of buurt"),
    year: list[int] = typer.Option([], "--year", help="jaar (herhaalbaar; standaard alle)"),
    crime_type: str | None = typer.Option(None, "--crime-type",
                                          help="alleen deze categorie, bijv. woninginbraak"),
    low_count: int = typer.Option(20, "--low-count", help="drempel voor kleine aantallen (-*)"),
    fmt: str = typer.Option("table", "--format", help="table of csv"),
    out_file: Path | None = typer.Option(None, "--out", help="schrijf naar dit bestand"),
    gemeente: str | None = typer.Option(None, "--gemeente", help=SHOW_GEMEENTE_HELP),
) -> None:
    """Gepubliceerde aantallen per jaar met cijfers per 1.000 inwoners (woninginbraak ook per
    1.000 woningen) en het jaar van de noemer."""
    from ..sources import service
    from ..stats import LowCountRule

    rule = LowCountRule(threshold=low_count)
    codes = _gemeenten(gemeente)
    table = read_store("cijfers", "cijfers per 1.000 berekenen", lambda store: service.rates_table(
        store, level=level, years=year or None, rule=rule, gemeenten=codes))
    if crime_type:
        table = table[table["category"].str.split("+").map(lambda s: crime_type in s)
                      | (table["category"] == crime_type)]
    _emit(table, RATE_HEADERS, fmt, out_file,
          f"{rule.symbol} = geen cijfer omdat het aantal of de noemer kleiner is dan "
          f"{rule.threshold}. Bron: politie via CBS (tabel op elke rij).")


@cbs_app.command("compare")
@handle_errors
def compare_cmd(
    fmt: str = typer.Option("table", "--format", help="table of csv"),
    out_file: Path | None = typer.Option(None, "--out", help="schrijf naar dit bestand"),
    gemeente: str | None = typer.Option(None, "--gemeente", help=GEMEENTE_HELP),
) -> None:
    """Vergelijk de ingelezen incidenten met de gepubliceerde aantallen per categorie en jaar
    (hele gemeente)."""
    from ..scope import GemeenteStore
    from ..sources import service
    from .common import areas, scoped_areas

    a = scoped_areas(gemeente, required=True)
    whole = a is areas()

    def read(store: Store) -> pd.DataFrame:
        return service.comparison_table(store if whole else GemeenteStore(store, a),
                                        gemeenten=a.gemeente_codes)

    table = read_store("cijfers", "incidenten en gepubliceerde aantallen vergelijken", read)
    _emit(table, {"year": "jaar", "category_label": "categorie", "match": "overeenkomst",
                  "incidents": "incidenten", "published": "gepubliceerd",
                  "difference": "verschil", "ratio": "verhouding",
                  "incident_source": "bron incidenten", "published_source": "bron aantallen",
                  "note": "opmerking"}, fmt, out_file)


@cbs_app.command("perception")
@handle_errors
def perception_cmd(
    fmt: str = typer.Option("table", "--format", help="table of csv"),
    out_file: Path | None = typer.Option(None, "--out", help="schrijf naar dit bestand"),
    gemeente: str | None = typer.Option(None, "--gemeente", help=SHOW_GEMEENTE_HELP),
) -> None:
    """Veiligheidsbeleving (Veiligheidsmonitor) per jaar met de betrouwbaarheidsmarge, naast
    de geregistreerde misdrijven van hetzelfde gebied en jaar."""
    from ..sources import service

    codes = _gemeenten(gemeente)
    table = read_store("cijfers", "veiligheidsbeleving en misdrijven koppelen",
                       lambda store: service.perception_table(store, gemeenten=codes))
    if fmt == "table":  # "33.0-38.0" with decimal commas for people (the CSV keeps points)
        table = table.assign(interval=table["interval"].str.replace(".", ",", regex=False))
    _emit(table, {"area_code": "gebied", "year": "jaar", "label": "indicator",
                  "value": "waarde", "unit": "eenheid", "interval": "95%-marge",
                  "crimes": "misdrijven", "crimes_per_1000": "per 1.000 inw.",
                  "table_id": "tabel", "source": "bron"}, fmt, out_file)


def register(app: typer.Typer) -> None:
    app.add_typer(cbs_app, name="cbs")
