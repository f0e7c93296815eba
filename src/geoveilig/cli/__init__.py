"""The ``geoveilig`` command line. Commands are thin: they read settings and files, call the
library and print Dutch messages. Each command group lives in its own module with a
``register(app)`` function."""

from __future__ import annotations

import typer

from . import (
    areas_cmd,
    backup_cmd,
    demo_cmd,
    deployments_cmd,
    export_cmd,
    hotspots_cmd,
    import_cmd,
    keys_cmd,
    map_cmd,
    plans_cmd,
    prevention_cmd,
    recommend_cmd,
    report_cmd,
    serve_cmd,
)

app = typer.Typer(
    name="geoveilig",
    help="geoveilig: misdaadcijfers per wijk en buurt, hotspots en inzetadvies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (areas_cmd, import_cmd, export_cmd, demo_cmd, serve_cmd, prevention_cmd, report_cmd,
               map_cmd, hotspots_cmd, recommend_cmd, plans_cmd, deployments_cmd, backup_cmd,
               keys_cmd):
    module.register(app)


def main() -> None:
    app()
