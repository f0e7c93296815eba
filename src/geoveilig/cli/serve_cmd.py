"""``geoveilig serve [--host H --port P]``."""

from __future__ import annotations

import typer

from .common import handle_errors, out, settings


@handle_errors
def serve(
    host: str = typer.Option("127.0.0.1", help="adres om op te luisteren"),
    port: int = typer.Option(8000, help="poort"),
) -> None:
    """Start de webservice (API en kaart)."""
    import uvicorn

    from ..api import create_app

    app = create_app(settings())
    out.print(f"geoveilig draait op http://{host}:{port}/ (stoppen met Ctrl+C)")
    uvicorn.run(app, host=host, port=port, log_level="info")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
