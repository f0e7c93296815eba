"""``geoveilig worker [--once] [--max-jobs N] [--lease S] [--poll S]``: run queued jobs.

A worker needs only the database URL (``GEOVEILIG_DATABASE_URL``, PostgreSQL) and the
boundaries (``GEOVEILIG_GEO_DIR``): it can run on any machine. It claims the oldest queued job
(``FOR UPDATE SKIP LOCKED``), runs it with a heartbeat that extends its lease, and writes the
result to the database, where every API worker reads it. A worker that dies leaves its job
to be taken again when the lease runs out (once; then the job fails with a Dutch reason).
Stop it with Ctrl+C or SIGTERM: it finishes the job it is running first."""

from __future__ import annotations

import signal
import threading

import typer

from .common import areas, handle_errors, open_store, out, settings


@handle_errors
def worker(
    once: bool = typer.Option(False, "--once", help="stop als de wachtrij leeg is"),
    max_jobs: int | None = typer.Option(None, "--max-jobs", min=1,
                                        help="stop na zoveel berekeningen"),
    lease: float | None = typer.Option(None, "--lease", min=1.0,
                                       help="seconden dat een claim zonder hartslag geldt "
                                            "(standaard GEOVEILIG_JOB_LEASE, 30)"),
    poll: float = typer.Option(0.5, "--poll", min=0.01,
                               help="seconden tussen twee blikken op een lege wachtrij"),
) -> None:
    """Voer berekeningen uit de wachtrij in de database uit (planning, backtest, effect)."""
    from ..errors import InvalidInput
    from ..jobs import JobEnv, run_worker, worker_name

    s = settings()
    store = open_store(s)
    try:
        if store.engine.dialect.name != "postgresql":
            raise InvalidInput("geoveilig worker heeft een PostgreSQL-database nodig "
                               "(GEOVEILIG_DATABASE_URL); met de ingebouwde SQLite-opslag "
                               "voert geoveilig serve de berekeningen zelf uit",
                               where="GEOVEILIG_DATABASE_URL")
        from .. import disclosure
        from ..api.jobs import load_handlers
        from ..layers import hotspot_grid

        load_handlers()
        area_set = areas(s)
        # the grid (GEOVEILIG_GRID_SIZE) and the disclosure control as the API's; making the
        # grid also warms up: the first job pays for its own work only
        env = JobEnv(area_set, store, hotspot_grid(area_set, s.grid_size),
                     disclosure.policy_for(s.disclosure_key, s.data_dir / "disclosure.key"))
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        name = worker_name()
        out.print(f"geoveilig worker {name} wacht op berekeningen (stoppen met Ctrl+C)",
                  highlight=False)
        ran = run_worker(env, stop=stop, lease=lease or s.job_lease, poll=poll,
                         max_jobs=max_jobs, name=name, until_empty=once)
        out.print(f"gestopt na {ran} berekening(en)", highlight=False)
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
