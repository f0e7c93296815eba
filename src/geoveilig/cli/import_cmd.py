"""``geoveilig import FILE [--partial --rejects FILE --update]``.

Only ``typer`` is imported at module level: the library (pandas, Arrow, the store) is imported
when the command runs, so ``geoveilig import`` starts without loading the analysis modules."""

from __future__ import annotations

import gc
import importlib
import os
import sys
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
    from ..textfile import CsvText


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
    _native_defaults()
    from .common import progress_steps

    with _no_cycle_collection():
        with progress_steps("import", 2) as step:
            step(f"{file.name} lezen en controleren")
            parsed, store, sha = _read(file, crs)
            step("opslaan en meldingen bepalen")
            summary, hook = _store(file, parsed, store, sha, partial=partial,
                                   rejects=rejects, update=update)
        _report(summary, hook)
    from .common import end_program

    end_program()  # stored, closed and reported: no teardown of the libraries' modules


#: Settings of the native libraries for an import process, made before numpy and Arrow load
#: (each reads its own once), unless the user set them. The import does no linear algebra, so
#: OpenBLAS need not start a worker thread per core that busy-waits for a while after loading
#: (~0.1 s of a core at start-up). Numpy and Arrow's allocator (mimalloc) ask the kernel for
#: transparent huge pages for large buffers; where the kernel gives them only on request
#: (``madvise``, Debian's default), each first touch then clears 2 MB, mostly of memory the
#: import never uses (a quarter of an import's CPU time measured with ``perf``). Without them
#: an import of 1,000,000 rows took ~0.3-0.5 s less (interleaved runs, median).
NATIVE_DEFAULTS = {"OPENBLAS_NUM_THREADS": "1", "NUMPY_MADVISE_HUGEPAGE": "0",
                   "MIMALLOC_ALLOW_THP": "0"}


def _native_defaults() -> None:
    """``NATIVE_DEFAULTS`` in this process's environment (not when numpy or Arrow is loaded
    already: the command runs in a process that loaded them before, as in a test)."""
    if "numpy" in sys.modules or "pyarrow" in sys.modules:
        return
    for name, value in NATIVE_DEFAULTS.items():
        os.environ.setdefault(name, value)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused while the libraries are imported, the file is parsed
    and its rows are stored with their alerts: loading ~900 modules allocates ~240,000
    objects, which otherwise trigger dozens of full collections (~0.2 s CPU), and the alerts'
    objects made while the rows are written triggered collections of ~0.15 s more (measured
    with ``gc.callbacks``); the data is held in arrays, not in cycles. Reference counting
    frees memory as usual; collection resumes afterwards. In the ``geoveilig`` program, which
    ends next (``common.PROGRAM``), the objects alive then are frozen first (as ``main`` does
    at the end): the first collection would otherwise walk every object made meanwhile
    (~70 ms)."""
    from . import common

    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            if common.PROGRAM:
                gc.freeze()
            gc.enable()


def _read(file: Path, crs: str | None) -> tuple[ParseResult, Store, str]:
    """The file parsed, the store opened and the file's checksum. The file's bytes are not
    kept while storing (bounded memory; the rejects file reads the file again, it needs only
    the rejected rows).

    The file is read from the start on a second thread (``_read_file``: Arrow and the
    standard library only, the CSV rows parsed by Arrow's threads without the GIL, then the
    parse's first columnwise steps, ``textfile.prepare_columns``) while this thread loads
    pandas and the validation, the settings and the areas; then the store opens with the
    modules of the import's alerts (``_prepare``) while the rows are checked. Loading modules
    holds the GIL: opening the store earlier, beside the settings and areas, made both slower
    (the start of the checks came ~0.1 s later; median of 12 interleaved runs of 10⁶ rows
    2.90 against 2.74 s). The file's errors come first, then those of the areas, as when each
    was read before anything else."""
    import contextlib
    from concurrent.futures import Future, ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        reading = pool.submit(_read_file, file)
        from ..incidents import parse_incidents
        from .common import areas

        preparing: Future[Store] | None = None
        try:
            try:  # loaded while the file is still being read and prepared
                known, refused = areas(), None
            except Exception as exc:  # the file's errors come first
                refused = exc
            data, text, sha = reading.result()
            if refused is not None:
                raise refused
            preparing = pool.submit(_prepare)
            parsed = parse_incidents(data, filename=file.name,
                                     crs=crs,  # type: ignore[arg-type]
                                     areas=known, text=text)
        except BaseException:
            if preparing is not None:
                with contextlib.suppress(Exception):
                    preparing.result().close()
            raise
        return parsed, preparing.result(), sha


def _read_file(file: Path) -> tuple[bytes, CsvText | None, str]:
    """The file's bytes (refused by its first bytes when it is no incident file, before it is
    read whole), a CSV file's rows as Arrow reads them (``prepare_columns``: the parse's first
    columnwise steps done here), and the file's SHA-256."""
    import hashlib
    import threading

    from ..textfile import SNIFF_BYTES, prepare_columns, read_csv_text, sniff

    with file.open("rb") as fh:
        fmt = sniff(fh.read(SNIFF_BYTES), file.name)
    data = file.read_bytes()
    digest: list[str] = []
    hashing = threading.Thread(target=lambda: digest.append(hashlib.sha256(data).hexdigest()))
    hashing.start()  # without the GIL, beside the rows' reading
    try:
        text = prepare_columns(read_csv_text(data, file.name)) if fmt == "csv" else None
    finally:
        hashing.join()
    return data, text, digest[0] if digest else hashlib.sha256(data).hexdigest()


def _prepare() -> Store:
    """The store opened (the first time created by its migrations) and the modules of the
    import's alerts loaded."""
    from .common import open_store

    store = open_store()
    try:
        importlib.import_module("geoveilig.alerts.service")
        return store
    except BaseException:
        store.close()
        raise


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
