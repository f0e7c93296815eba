"""``geoveilig areas fetch|show``."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import console, handle_errors, out, progress_steps, settings
from .tables import table

#: Dutch column headers of ``areas show``
_HEADERS = {"code": "code", "name": "naam", "buurten": "buurten", "wijk_code": "wijk",
            "gemeente_code": "gemeente", "area_km2": "oppervlakte (km²)"}

areas_app = typer.Typer(help="CBS wijk- en buurtgrenzen ophalen en bekijken.",
                        no_args_is_help=True)


@areas_app.command("show")
@handle_errors
def show(
    level: str = typer.Option("wijk", "--level", help="gemeente, wijk of buurt"),
    gemeente: str | None = typer.Option(
        None, "--gemeente", help="gemeentecode(s), komma-gescheiden, of 'alle' (standaard "
                                 "GEOVEILIG_GEMEENTE)"),
) -> None:
    """Toon de ingelezen wijken of buurten met hun code, naam en oppervlakte."""
    from .. import areas as areas_mod

    if level not in areas_mod.LEVELS:
        raise typer.BadParameter(f"kies gemeente, wijk of buurt, niet '{level}'",
                                 param_hint="--level")
    s = settings()
    with progress_steps("grenzen", 1) as step:
        step("grenzen lezen")
        a = areas_mod.load_areas(s.geo_dir, gemeente=s.gemeente)
        if gemeente is not None:
            a = a.select(gemeente)
    if len(a.gemeente) == 1:
        out.print(f"Gemeente {a.gemeente_name} ({a.gemeente_code}), grenzen {a.year or '?'} "
                  f"uit {a.source}")
    else:
        out.print(f"{len(a.gemeente)} gemeenten: {a.choices()}; grenzen {a.year or '?'} "
                  f"uit {a.source}", soft_wrap=True)
    if level == "wijk":
        frame = a.summary()
    else:
        gdf = a.layer(level)
        frame = gdf.drop(columns="geometry").assign(area_km2=gdf.area / 1e6)
    headers = {c: _HEADERS.get(c, c) for c in frame.columns}
    out.print(table(frame, headers, digits=2 if level == "wijk" else 3), highlight=False,
              soft_wrap=True)
    for w in a.warnings:
        console.print(f"[yellow]Let op:[/] {w}", highlight=False)


@areas_app.command("fetch")
@handle_errors
def fetch(
    gemeente: str = typer.Option("GM0794", help="CBS-gemeentecode, bijv. GM0794 (Helmond); "
                                                "meer gemeenten komma-gescheiden "
                                                "(GM0794,GM0772)"),
    year: int = typer.Option(2017, help="jaar van de wijk- en buurtkaart"),
    out_dir: Path | None = typer.Option(None, "--out",
                                        help="map om de GeoJSON-bestanden in te schrijven "
                                             "(standaard GEOVEILIG_GEO_DIR)"),
) -> None:
    """Haal wijk-, buurt- en gemeentegrenzen op bij PDOK (internet nodig)."""
    from .. import areas as areas_mod

    s = settings()
    a = areas_mod.fetch_pdok(gemeente, year, s.pdok_url)
    paths = areas_mod.save_areas(a, out_dir or s.geo_dir)
    out.print(f"{len(a.wijken)} wijken en {len(a.buurten)} buurten van {a.gemeente_name} "
              f"opgeslagen: " + ", ".join(str(p) for p in paths))
    for w in a.warnings:
        console.print(f"[yellow]Let op:[/] {w}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(areas_app, name="areas")
