"""``geoveilig import FILE [--partial --rejects FILE --update]``.

Only ``typer`` is imported at module level: the library (pandas, Arrow, the store) is imported
when the command runs, so ``geoveilig import`` starts without loading the analysis modules."""

from __future__ import annotations

import gc
import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from .common import handle_errors

if TYPE_CHECKING:
    from ..alerts.service import AlertHook
    from ..incidents import ParseResult
    from ..store import ImportSummary, Store


@handle_errors
def import_file(
    file: Path = typer.Argument(
        ..., metavar="BESTAND", help="CSV (; , of tab), Excel (.xlsx), GeoJSON of "
                                          "GeoPackage met incidenten"),
    partial: bool = typer.Option(False, "--partial",
                                 help="lees de geldige rijen in, ook als er foute rijen zijn"),
    rejects: Path | None = typer.Option(
        None, "--rejects",
        help="schrijf de afgewezen rijen onveranderd naar dit bestand (zelfde kolommen, "
             "scheidingsteken en codering als de invoer, plus fout_kolom en fout_reden); "
             "verbeter ze en lees het bestand opnieuw in"),
    update: bool = typer.Option(
        False, "--update",
        help="verwerk correcties: een bekend registratienummer met andere inhoud "
             "(herclassificatie, verbeterde locatie) vervangt de opgeslagen versie, die in de "
             "historie bewaard blijft; status 'ingetrokken' trekt een incident in"),
    crs: str | None = typer.Option(None, "--crs",
                                   help="coördinaten: 'rd' (EPSG:28992) of 'wgs84' (lon/lat); "
                                        "standaard automatisch herkend"),
) -> None:
    """Lees incidenten in (CSV met ; , of tab in UTF-8, Windows-1252 of UTF-16, Excel .xlsx,
    GeoJSON of GeoPackage; Nederlandse of Engelse kolomnamen, ook politie-exports met
    begindatum/begintijd en einddatum/eindtijd). Standaard wordt niets ingelezen als er één
    foute rij is. Misdrijftypen: zie 'geoveilig crimetypes'."""
    if not file.is_file():
        raise typer.BadParameter(f"bestand '{file}' bestaat niet", param_hint="BESTAND")
    from .common import progress_steps

    with progress_steps("import", 2) as step:
        step(f"{file.name} lezen en controleren")
        with _no_cycle_collection():
            parsed, store, sha = _read(file, crs)
        step("opslaan en meldingen bepalen")
        summary, hook = _store(file, parsed, store, sha, partial=partial, rejects=rejects,
                               update=update)
    _report(summary, hook)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused while the libraries are imported and the file is
    parsed: loading ~900 modules allocates ~240,000 objects, which otherwise trigger dozens
    of full collections (~0.2 s CPU); the parsing holds its data in arrays, not in cycles.
    Reference counting frees memory as usual; collection resumes afterwards."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _read(file: Path, crs: str | None) -> tuple[ParseResult, Store, str]:
    """The file parsed, the store opened and the file's checksum. The file's bytes are not
    kept while storing (bounded memory; the rejects file reads the file again, it needs only
    the rejected rows)."""
    import contextlib
    import hashlib
    from concurrent.futures import ThreadPoolExecutor

    from ..incidents import SNIFF_BYTES, parse_incidents, sniff
    from .common import areas, open_store

    with file.open("rb") as fh:  # refuse a wrong file type before reading it all
        sniff(fh.read(SNIFF_BYTES), file.name)
    data = file.read_bytes()

    def prepare(data: bytes) -> tuple[Store, str]:
        """The store opened (the first time created by its migrations), the modules of the
        import's alerts loaded and the file's checksum."""
        store = open_store()
        try:
            importlib.import_module("geoveilig.alerts.service")
            return store, hashlib.sha256(data).hexdigest()
        except BaseException:
            store.close()
            raise

    # That runs on a second thread while the file is parsed: parsing runs mostly in Arrow
    # and numpy, without the GIL, so both cores work.
    with ThreadPoolExecutor(1) as pool:
        preparing = pool.submit(prepare, data)
        try:
            parsed = parse_incidents(data, filename=file.name,
                                     crs=crs,  # type: ignore[arg-type]
                                     areas=areas())
        except BaseException:
            with contextlib.suppress(Exception):
                preparing.result()[0].close()
            raise
        store, sha = preparing.result()
    return parsed, store, sha


def _store(file: Path, parsed: ParseResult, store: Store, sha: str, *, partial: bool,
           rejects: Path | None, update: bool) -> tuple[ImportSummary, AlertHook]:
    """Store the parsed rows with their alerts; the rejects written where asked."""
    import getpass

    from ..alerts.service import import_with_alerts
    from ..errors import ImportRejected
    from ..incidents import write_rejects
    from .common import areas, console

    console.print("Kolommen: " + ", ".join(f"{field} ← {col}"
                                           for field, col in parsed.columns.items()),
                  highlight=False, soft_wrap=True)
    if parsed.ignored_columns:
        console.print(f"Genegeerde kolommen: {', '.join(parsed.ignored_columns)}",
                      highlight=False, soft_wrap=True)
    try:
        # the alerts outbox is written in the import's transaction (geoveilig.alerts)
        summary, hook = import_with_alerts(store, areas(), parsed, source_name=file.name,
                                           content_sha256=sha, partial=partial,
                                           update=update, actor=getpass.getuser())
    except ImportRejected as exc:
        if rejects is not None:
            n = write_rejects(file.read_bytes(), file.name, exc.rejects, rejects)
            console.print(f"{n} afgewezen rij(en) geschreven naar {rejects}", highlight=False)
        raise
    finally:
        store.close()
    if rejects is not None and len(summary.rejects):
        n = write_rejects(file.read_bytes(), file.name, summary.rejects, rejects)
        console.print(f"{n} afgewezen rij(en) geschreven naar {rejects}", highlight=False)
    return summary, hook


def _report(summary: ImportSummary, hook: AlertHook) -> None:
    """The import's summary: counts, per gemeente, what the near-repeat check covered and
    the alerts raised (delivered when delivery is configured)."""
    from .common import areas, open_store, out

    out.print(f"Klaar. Ingelezen: {summary.accepted}, bijgewerkt: {summary.updated}, "
              f"ingetrokken: {summary.withdrawn}, afgewezen: {summary.rejected}, "
              f"al aanwezig: {summary.already_present}.", highlight=False, soft_wrap=True)
    gemeenten = areas().gemeente
    if len(gemeenten) > 1:  # several gemeenten configured: where the rows went
        names = dict(zip(gemeenten["code"], gemeenten["name"], strict=True))
        out.print("Per gemeente: " + ", ".join(
            f"{names.get(code, code)} ({code}) {n}" for code, n in summary.per_gemeente.items())
            + ".", highlight=False, soft_wrap=True)
    out.print(hook.checked(), highlight=False, soft_wrap=True)
    if hook.alert_ids:
        from ..alerts.delivery import AlertSettings, deliver

        out.print(f"{len(hook.alert_ids)} nieuwe melding(en) van verhoogd risico "
                  "(geoveilig alerts list).")
        config = AlertSettings().config()
        if config.configured:
            store = open_store()
            try:
                out.print(deliver(store, config, ids=hook.alert_ids).message())
            finally:
                store.close()


def register(app: typer.Typer) -> None:
    app.command("import")(import_file)
