"""``geoveilig map --out kaart.html``: a self-contained HTML map for the council."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import GEMEENTE_HELP, handle_errors, out, progress_steps, scoped, settings

#: ``web.export.EXPORT_LAYERS``, written out so that ``--help`` does not import the map code
#: (tests/test_cli_dutch.py checks that they are the same)
LAYERS = ("misdrijven", "verandering", "preventie-dekking", "preventiegroepen")


@handle_errors
def map_command(
    out_file: Path = typer.Option(..., "--out", help="het HTML-bestand om te schrijven"),
    year: int = typer.Option(2017, "--year", help="jaar van de cijfers"),
    crime_type: str = typer.Option("hic", "--crime-type",
                                   help="misdrijftype of groep (bijv. hic, woninginbraak)"),
    layers: str = typer.Option(",".join(LAYERS), "--layers",
                               help="kaartlagen, komma-gescheiden: " + ", ".join(LAYERS)),
    date: str | None = typer.Option(
        None, "--date", help="peildatum preventiegroepen (standaard 31-12 van het jaar)"),
    offline: bool = typer.Option(False, "--offline",
                                 help="geen online achtergrondkaart, alleen grenzen"),
    exact: bool = typer.Option(
        False, "--exact", help="exacte aantallen, alleen voor intern gebruik; standaard de "
        "aantallen zoals het publiek ze ziet (licht verstoord, 1-4 verborgen; zie "
        "docs/privacy.md)"),
    gemeente: str | None = typer.Option(None, "--gemeente", help=GEMEENTE_HELP),
) -> None:
    """Schrijf een kaart als één HTML-bestand (geen server of internet nodig) met
    cijfers per wijk en de dekking van preventiegroepen. Alleen geaggregeerde gegevens: geen
    incidentlocaties."""
    from ..store.prevention import load_registry
    from ..web.export import export_layers
    from ..web.folium_map import static_map

    s = settings()
    with progress_steps("kaart", 3) as step:
        step("grenzen en gegevens lezen")
        a, store = scoped(gemeente, s=s)
        try:
            incidents = store.incidents()
            registry = load_registry(store)
        finally:
            store.close()
        chosen = [w.strip() for w in layers.split(",") if w.strip()]
        from .. import disclosure

        policy = None if exact else disclosure.policy_for(s.disclosure_key,
                                                          s.data_dir / "disclosure.key")
        step("lagen maken")
        map_layers = export_layers(a, incidents, registry, year=year, crime_type=crime_type,
                                   date=date, which=chosen, policy=policy)
        step("kaart opmaken")
        html = static_map(a, map_layers, title=f"geoveilig – {a.gemeente_name} {year}",
                          note="Bron incidenten: " + _source_note(store_is_demo(incidents)),
                          online_base=not offline)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(html, encoding="utf-8")
    out.print(f"Kaart geschreven: {out_file} ({len(map_layers)} lagen)")


def store_is_demo(incidents) -> bool:
    ids = incidents["incident_id"]
    return bool(len(ids)) and bool(ids.str.startswith("DEMO-").all())


def _source_note(demo: bool) -> str:
    return "SYNTHETISCHE demo-gegevens (geen echte incidenten)" if demo else "politieregistratie"


def register(app: typer.Typer) -> None:
    app.command("map")(map_command)
