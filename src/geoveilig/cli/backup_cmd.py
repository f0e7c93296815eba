"""``geoveilig backup --out FILE`` and ``geoveilig restore FILE``."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import handle_errors, open_store, out, progress_steps


@handle_errors
def backup_command(
    out_file: Path = typer.Option(..., "--out", help="het back-upbestand dat wordt geschreven"),
) -> None:
    """Maak een back-up van de hele database: bij SQLite een consistente kopie van het
    databasebestand, bij PostgreSQL een bundel (zip met een Parquet-bestand per tabel)."""
    from ..store.backup import backup

    store = open_store()
    try:
        with progress_steps("back-up", 1) as step:
            step(f"{out_file.name} schrijven")
            summary = backup(store, out_file)
    finally:
        store.close()
    out.print(f"Back-up geschreven: {summary.message()}", highlight=False)


@handle_errors
def restore_command(
    file: Path = typer.Argument(
        ..., metavar="BESTAND", help="back-upbestand (SQLite-kopie of bundel)"),
) -> None:
    """Zet een back-up terug in een LEGE database (GEOVEILIG_DATABASE_URL of de standaard
    SQLite-database); een database met gegevens wordt niet overschreven."""
    from ..store.backup import restore

    store = open_store()
    try:
        with progress_steps("terugzetten", 1) as step:
            step(f"{file.name} terugzetten")
            summary = restore(store, file)
    finally:
        store.close()
    out.print(f"Teruggezet: {summary.message()}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)
