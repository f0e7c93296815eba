"""Shared plumbing of the CLI commands: settings, store, areas, Dutch error output."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from ..errors import GeoveiligError, ImportRejected

if TYPE_CHECKING:  # imported when used: a command that needs neither starts faster (and
    # ``--help`` needs none: pydantic-settings alone costs ~0.3 s)
    from ..areas import Areas
    from ..settings import Settings
    from ..store import Store

class _Console:
    """A rich ``Console`` made on first use (``--help`` then does not import rich)."""

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._console: Any = None

    def _console_or_new(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._kwargs)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self._console_or_new(), name)


console: Any = _Console(stderr=True)
out: Any = _Console()

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

#: Set by ``geoveilig.cli.main``: this process is the ``geoveilig`` program and ends when the
#: command is done (not so when a test runs a command in its own process).
PROGRAM = False


def settings() -> Settings:
    from ..settings import get_settings

    return get_settings()


def open_store(s: Settings | None = None) -> Store:
    from ..store import Store

    s = s or settings()
    return Store(s.resolved_database_url())


@functools.lru_cache(maxsize=4)
def _areas_cached(geo_dir: str, gemeente: str, data_dir: str) -> Areas:
    from ..areacache import load_cached

    return load_cached(Path(geo_dir), gemeente, Path(data_dir) / "cache")


def areas(s: Settings | None = None) -> Areas:
    """The configured boundaries (validated once per change of their files: ``areacache``)."""
    s = s or settings()
    return _areas_cached(str(s.geo_dir), s.gemeente, str(s.data_dir))


#: ``--gemeente`` of the commands that work on one gemeente or some (``scoped``)
GEMEENTE_HELP = ("CBS-gemeentecode, bijv. GM0794 (nodig als er meer gemeenten zijn "
                 "ingesteld in GEOVEILIG_GEMEENTE)")


def scoped_areas(gemeente: str | None, *, required: bool = True,
                 s: Settings | None = None) -> Areas:
    """The configured areas limited to ``--gemeente`` (``scope.select_areas``): with several
    gemeenten configured and none given, all of them, or a Dutch error naming the choices when
    the command is about one (``required``)."""
    from ..errors import GeoveiligError
    from ..scope import select_areas

    try:
        return select_areas(areas(s), gemeente, required=required)
    except GeoveiligError as exc:
        exc.where = "--gemeente"
        raise


def scoped(gemeente: str | None, *, required: bool = True,
           s: Settings | None = None) -> tuple[Areas, Any]:
    """``scoped_areas`` and the store opened as those gemeenten see it (``scope``: a view
    whose incident queries ask for their wijken only; the store itself when they are all
    configured gemeenten). Close it as a store."""
    from ..scope import GemeenteStore

    s = s or settings()
    a = scoped_areas(gemeente, required=required, s=s)
    store = open_store(s)
    return a, (store if a is areas(s) else GemeenteStore(store, a))


def end_program() -> None:
    """End the ``geoveilig`` program now, successfully, without the interpreter's teardown
    (``PROGRAM`` only: a command run in a test's process returns as usual). For a command
    whose work is done and written: its store closed, its files closed, its output below
    flushed here. What Python would still do at exit is done first (the logging handlers
    flushed, ``logging.shutdown``; the thread pools are shut down already by their ``with``)
    and only then the thousand modules of an import are not torn down one by one (~0.1 s,
    ~4% of an import of 10⁶ rows: ``benchmarks/bench_import.py``)."""
    if not PROGRAM:
        return
    import logging
    import os

    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    logging.shutdown()
    os._exit(0)


def fail(message: str, code: int = 1) -> None:
    console.print(f"[bold red]Fout:[/] {message}", highlight=False)
    raise typer.Exit(code)


def handle_errors(func: F) -> F:
    """Turn domain errors into a Dutch message and a non-zero exit code, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ImportRejected as exc:
            console.print(f"[bold red]Import geweigerd:[/] {exc}", highlight=False)
            rejects = exc.rejects
            for rec in rejects.head(20).itertuples(index=False):  # type: ignore[attr-defined]
                console.print(f"  rij {rec.row}, kolom {rec.column}: {rec.reason}"
                              + (f" ('{rec.value}')" if rec.value else ""), highlight=False)
            if len(rejects) > 20:  # type: ignore[arg-type]
                console.print(f"  ... en nog {len(rejects) - 20} meldingen "  # type: ignore[arg-type]
                              "(schrijf ze weg met --rejects BESTAND)", highlight=False)
            raise typer.Exit(2) from None
        except GeoveiligError as exc:
            console.print(f"[bold red]Fout:[/] {exc}", highlight=False)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            console.print("Afgebroken.")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def _shown(enabled: bool | None) -> bool:
    """Whether progress is shown: on a terminal (stderr), or when asked (``enabled``)."""
    return bool(enabled) or console.is_terminal


@contextmanager
def progress_bar(label: str, unit: str, enabled: bool | None = None) -> Iterator[Any]:
    """A Dutch progress bar on stderr for work that takes seconds: shown on a terminal, or
    when ``enabled`` (``--progress``/``--voortgang``); yields ``update(done, total)`` (a no-op
    when hidden, so the output of scripts and pipes stays clean)."""
    if not _shown(enabled):
        yield lambda done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn(unit))
    with Progress(*columns, console=console._console_or_new(), transient=False) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@contextmanager
def progress_steps(label: str, total: int, enabled: bool | None = None
                   ) -> Iterator[Callable[..., None]]:
    """Progress in stages for work that takes seconds but has no count of its own (read the
    data, compute, write): the same bar as :func:`progress_bar`, counting stages, with the
    current stage and the time so far (``advies  ━━━━━━━╸━━━  2/3 stappen  risico berekenen
    0:00:04``). Yields ``step(text)``: the next stage begins (``step(text, advance=False)``:
news of the current stage). Hidden as the bar is."""
    if not _shown(enabled):
        yield lambda text, advance=True: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (SpinnerColumn(), TextColumn(label), BarColumn(), MofNCompleteColumn(),
               TextColumn("stappen"), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console._console_or_new(), transient=False) as bar:
        task = bar.add_task("", total=total)
        started = [0]

        def step(text: str, advance: bool = True) -> None:
            # the stage that begins counts as done once the next one starts (or at the end)
            if advance:
                bar.update(task, completed=started[0])
                started[0] += 1
            bar.update(task, description=text)

        yield step
        bar.update(task, completed=total)


def read_store(label: str, stage: str, read: Callable[[Store], T]) -> T:
    """``read(store)`` as one stage of progress (``progress_steps``): the store is opened
    within the stage, so the seconds of start-up show, and closed afterwards."""
    with progress_steps(label, 1) as step:
        step(stage)
        with open_store() as store:
            return read(store)
