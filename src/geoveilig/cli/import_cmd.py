"""``geoveilig import FILE [--partial --rejects FILE]``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import typer

from ..alerts.delivery import AlertSettings, deliver
from ..alerts.service import import_with_alerts
from ..errors import ImportRejected
from ..incidents import parse_incidents
from .common import areas, console, handle_errors, open_store, out


@handle_errors
def import_file(
    file: Path = typer.Argument(..., help="CSV, GeoJSON of GeoPackage met incidenten"),
    partial: bool = typer.Option(False, "--partial",
                                 help="lees de geldige rijen in, ook als er foute rijen zijn"),
    rejects: Path | None = typer.Option(None, "--rejects",
                                        help="schrijf de afgewezen rijen naar dit CSV-bestand"),
    crs: str | None = typer.Option(None, "--crs",
                                   help="coördinaten: 'rd' (EPSG:28992) of 'wgs84' (lon/lat); "
                                        "standaard automatisch herkend"),
) -> None:
    """Lees incidenten in (CSV met ; of , en Nederlandse of Engelse kolomnamen, GeoJSON of
    GeoPackage). Standaard wordt niets ingelezen als er één foute rij is."""
    if not file.is_file():
        raise typer.BadParameter(f"bestand '{file}' bestaat niet", param_hint="FILE")
    data = file.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    with console.status(f"{file.name} lezen en controleren..."):
        parsed = parse_incidents(data, filename=file.name, crs=crs,  # type: ignore[arg-type]
                                 areas=areas())
    store = open_store()
    try:
        with console.status("opslaan..."):
            # the alerts outbox is written in the import's transaction (geoveilig.alerts)
            summary, hook = import_with_alerts(store, areas(), parsed, source_name=file.name,
                                               content_sha256=sha, partial=partial)
    except ImportRejected as exc:
        if rejects is not None:
            exc.rejects.to_csv(rejects, index=False)  # type: ignore[attr-defined]
            console.print(f"Afgewezen rijen geschreven naar {rejects}")
        raise
    finally:
        store.close()
    if rejects is not None and len(summary.rejects):
        summary.rejects.to_csv(rejects, index=False)
        console.print(f"{summary.rejected} afgewezen rij(en) geschreven naar {rejects}")
    out.print(f"Klaar. Ingelezen: {summary.accepted}, afgewezen: {summary.rejected}, "
              f"al aanwezig: {summary.already_present}.")
    if hook.alert_ids:
        out.print(f"{len(hook.alert_ids)} nieuwe melding(en) van verhoogd risico "
                  f"(geoveilig alerts list).")
        config = AlertSettings().config()
        if config.configured:
            store = open_store()
            try:
                out.print(deliver(store, config, ids=hook.alert_ids).message())
            finally:
                store.close()


def register(app: typer.Typer) -> None:
    app.command("import")(import_file)
