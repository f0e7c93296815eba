"""The ``geoveilig`` command line. Commands are thin: they read settings and files, call the
library and print Dutch messages. Each command group lives in its own module with a
``register(app)`` function.

Start-up: ``geoveilig COMMAND`` imports only the module of that command (``_COMMANDS``), so
``geoveilig import big.csv`` does not load the analysis, the web app or plotting. ``app`` (the
whole command line, for ``--help`` and tests) is built on first use."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer

#: top-level command or group name -> the module that registers it
_COMMANDS: dict[str, str] = {
    "areas": "areas_cmd", "import": "import_cmd", "export": "export_cmd",
    "crimetypes": "crimetypes_cmd", "demo": "demo_cmd", "serve": "serve_cmd",
    "prevention": "prevention_cmd", "report": "report_cmd", "map": "map_cmd",
    "hotspots": "hotspots_cmd", "backtest": "hotspots_cmd", "nearrepeat": "hotspots_cmd",
    "recommend": "recommend_cmd", "backup": "backup_cmd", "restore": "backup_cmd",
    "keys": "keys_cmd", "cbs": "cbs_cmd", "alerts": "alerts_cmd",
    "plans": "plans_cmd", "deployments": "deployments_cmd", "worker": "worker_cmd",
}
_HELP = "geoveilig: misdaadcijfers per wijk en buurt, hotspots en inzetadvies."


def _build(modules: list[str]) -> typer.Typer:
    app = typer.Typer(name="geoveilig", help=_HELP, no_args_is_help=True,
                      add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:  # a group also when only one command is registered
        pass

    for name in modules:
        importlib.import_module(f"{__name__}.{name}").register(app)
    return app


def __getattr__(name: str) -> Any:
    if name == "app":
        app = _build(list(dict.fromkeys(_COMMANDS.values())))
        globals()["app"] = app
        return app
    raise AttributeError(name)


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else None
    module = _COMMANDS.get(command or "")
    if module is not None:
        _build([module])(prog_name="geoveilig")
        return
    __getattr__("app")(prog_name="geoveilig")
