"""``geoveilig serve [--host H --port P --workers N]``."""

from __future__ import annotations

import os

import typer

from .common import handle_errors, out, settings


@handle_errors
def serve(
    host: str = typer.Option("127.0.0.1", help="adres om op te luisteren"),
    port: int = typer.Option(8000, help="poort"),
    workers: int = typer.Option(1, help="aantal werkprocessen"),
) -> None:
    """Start de webservice (OGC API - Features onder /v1, voor QGIS en de kaart)."""
    import uvicorn

    from ..ports import require_free_port

    require_free_port(host, port)
    from ..api.server import HTTP_PROTOCOL

    s = settings()
    out.print(f"geoveilig draait op http://{host}:{port}/v1 (stoppen met Ctrl+C)")
    if workers > 1:
        # workers import the app themselves; they read the same GEOVEILIG_* environment
        os.environ.setdefault("GEOVEILIG_DATA_DIR", str(s.data_dir))
        os.environ.setdefault("GEOVEILIG_GEO_DIR", str(s.geo_dir))
        uvicorn.run("geoveilig.api.app:create_app", factory=True, host=host, port=port,
                    workers=workers, http=HTTP_PROTOCOL, log_level="info")
        return
    from ..api import create_app

    uvicorn.run(create_app(s), host=host, port=port, http=HTTP_PROTOCOL, log_level="info")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
