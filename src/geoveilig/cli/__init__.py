"""The ``geoveilig`` command line. Commands are thin: they read settings and files, call the
library and print Dutch messages. Each command group lives in its own module with a
``register(app)`` function.

Start-up: ``geoveilig COMMAND`` imports only the module of that command (``_COMMANDS``), so
``geoveilig import big.csv`` does not load the analysis, the web app or plotting, and
``geoveilig --help`` imports no command module at all: it lists the commands from
``_SUMMARIES`` (``tests/test_cli_dutch.py`` checks these against the commands' own help).
``app`` (the whole command line, for tests) is built on first use. The Typer/Click frame is
Dutch (:mod:`geoveilig.cli.dutch`)."""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

from .dutch import install as _install_dutch

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
#: the first sentence of each command's help, for ``geoveilig --help`` without importing the
#: command modules (a command missing here is imported to ask; the test lists it)
_SUMMARIES: dict[str, str] = {
    "areas": "CBS wijk- en buurtgrenzen ophalen en bekijken.",
    "import": "Lees incidenten in (CSV met ; , of tab in UTF-8, Windows-1252 of UTF-16, Excel "
              ".xlsx, GeoJSON of GeoPackage; Nederlandse of Engelse kolomnamen, ook "
              "politie-exports met begindatum/begintijd en einddatum/eindtijd).",
    "export": "Schrijf de opgeslagen incidenten weg in het importformaat (CSV met ; of "
              "GeoPackage in RD New), met de toegekende buurt- en wijkcode.",
    "crimetypes": "Toon elk misdrijftype met alle namen, politiecodes, politieklassen en "
                  "synoniemen die 'geoveilig import' en --crime-type accepteren (hoofdletters "
                  "en meervoud maken niet uit).",
    "demo": "Maak SYNTHETISCHE demo-incidenten voor Helmond (2012 t/m het eerste kwartaal van "
            "2018) en lees ze in via de gewone import.",
    "serve": "Start de webservice (OGC API - Features onder /v1, voor QGIS en de kaart).",
    "prevention": "Buurtpreventieteams en WhatsApp-preventiegroepen: register, dekking per wijk "
                  "en buurt, groei en witte vlekken.",
    "report": "Maak de tabel 'Hoe staat de stad ervoor?': aantallen, verschil met 1 en 5 jaar "
              "eerder, -* bij kleine aantallen en significantie, per gemeente, wijk of buurt.",
    "map": "Schrijf een kaart als één HTML-bestand (geen server of internet nodig) met cijfers "
           "per wijk en de dekking van preventiegroepen.",
    "hotspots": "Maak een risicokaart (125 m-cellen) voor een misdrijftype, met het oordeel "
                "van de backtest erbij.",
    "backtest": "Toets de hotspotmethoden op het verleden (trefkans, PAI, PEI) en kies de "
                "beste.",
    "nearrepeat": "Near-repeattest (Knox): na een incident verhoogd risico dichtbij en kort "
                  "daarna?",
    "recommend": "Inzetadvies: mobiele alarmsystemen, flexibele camera's en "
                 "BuurtTent-bezoeken.",
    "backup": "Maak een back-up van de hele database: bij SQLite een consistente kopie van het "
              "databasebestand, bij PostgreSQL een bundel (zip met een Parquet-bestand per "
              "tabel).",
    "restore": "Zet een back-up terug in een LEGE database (GEOVEILIG_DATABASE_URL of de "
               "standaard SQLite-database); een database met gegevens wordt niet "
               "overschreven.",
    "keys": "API-sleutels voor de webservice (rollen analyst en police).",
    "cbs": "Gepubliceerde cijfers van politie en CBS: misdrijven per wijk en buurt, "
           "kerncijfers en veiligheidsbeleving.",
    "alerts": "Meldingen van verhoogd risico (near-repeat) voor preventiegroepen: tonen, "
              "(opnieuw) versturen, toetsen.",
    "plans": "Opgeslagen plannen (elke adviesrun): lijst, details, export.",
    "deployments": "Inzet (alarmsystemen, camera's, BuurtTent): vastleggen, plaatsen, "
                   "beëindigen, annuleren, in- en uitvoer.",
    "worker": "Voer berekeningen uit de wachtrij in de database uit (planning, backtest, "
              "effect).",
}
_HELP = "geoveilig: misdaadcijfers per wijk en buurt, hotspots en inzetadvies."


def _registered(module: str) -> dict[str, Any]:
    """The click commands that ``module`` registers, by name."""
    sub = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @sub.callback()
    def _group() -> None:  # a group also when the module registers one command
        pass

    importlib.import_module(f"{__name__}.{module}").register(sub)
    return dict(typer.main.get_command(sub).commands)  # type: ignore[attr-defined]


class LazyGroup(TyperGroup):
    """The root group: a command's module is imported when that command is asked for; the
    command list in ``--help`` comes from ``_SUMMARIES``."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(dict.fromkeys([*self.commands, *_COMMANDS]))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in _COMMANDS:
            for name, command in _registered(_COMMANDS[cmd_name]).items():
                self.commands.setdefault(name, command)
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except typer._click.exceptions.UsageError as exc:
            from difflib import get_close_matches

            close = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if close and "Did you mean" not in exc.message:
                exc.message = (exc.message.rstrip(".") + ". Did you mean "
                               + ", ".join(repr(c) for c in close) + "?")
            raise

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        from typer._click.utils import make_default_short_help

        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            if name in self.commands or name not in _SUMMARIES:
                command = self.get_command(ctx, name)
                if command is None or command.hidden:
                    continue
                rows.append((name, command.get_short_help_str(limit)))
            else:
                rows.append((name, make_default_short_help(_SUMMARIES[name], limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _build(modules: list[str]) -> typer.Typer:
    _install_dutch()
    app = typer.Typer(name="geoveilig", help=_HELP, no_args_is_help=True, cls=LazyGroup,
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
    """The ``geoveilig`` program: the root group loads only the command that is run.

    When the command is done, every object still alive is moved out of the cycle collector's
    reach (``gc.freeze``): the process ends next, and the collection Python runs while it
    shuts down would otherwise walk all of them (after an import of 10⁶ rows ~0.4 s of CPU,
    for nothing). Memory is still freed by reference counting; output is already written."""
    from . import common

    common.PROGRAM = True
    try:
        _build([])(prog_name="geoveilig")
    finally:
        import gc

        gc.freeze()
