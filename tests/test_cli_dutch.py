"""The command line speaks Dutch: every command's and subcommand's ``--help`` and a failure case
of each (missing option or argument, bad value, unknown option) show no English Typer/Click text
and no internal names; ``geoveilig --help`` imports no command module."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from geoveilig.cli import _COMMANDS, _SUMMARIES, _build, app
from geoveilig.cli.dutch import message

runner = CliRunner()

#: English frame text of Typer/Click/rich, and the type labels they print
ENGLISH = re.compile(
    r"Usage|Options|Commands|Arguments|Show this message|\[required\]|default:|Error|"
    r"Try '|Missing|Invalid value|No such|Did you mean|Possible options|Input should|"
    r"is not a valid|Aborted|env var|<str>|<int>|<float>|<path>|<bool>|<datetime>|"
    r"\bTEXT\b|\bINTEGER\b|\bFLOAT\b|\bPATH\b|\[OPTIONS\]|\bCOMMAND\b|\bARGS\b|\bFILE\b")
#: internal (Python) names: snake_case identifiers and {placeholders}
INTERNAL = re.compile(r"\b[a-z]+_[a-z_]+\b|\{[a-z_]+\}")
#: column names of files the user writes or reads (named in the help on purpose)
FILE_COLUMNS = {"fout_kolom", "fout_reden", "group_id"}


def _leaves(command: object, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    rows = [(path, command)]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        rows.extend(_leaves(sub, (*path, name)))
    return rows


COMMANDS = _leaves(typer.main.get_command(app))


def _english(text: str) -> list[str]:
    return ENGLISH.findall(text) + [n for n in INTERNAL.findall(text) if n not in FILE_COLUMNS]


@pytest.fixture
def env(monkeypatch, tmp_path, shared_geo):
    monkeypatch.setenv("GEOVEILIG_GEO_DIR", str(shared_geo))
    monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def test_the_command_table_is_covered():
    names = {path[0] for path, _ in COMMANDS if len(path) == 1}
    assert names == set(_COMMANDS)
    assert len(COMMANDS) > 40  # groups with their subcommands


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "root")
def test_help_is_dutch(path):
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Gebruik: geoveilig" in result.output and "Toon deze hulp en stop." in result.output
    assert not _english(result.output), (_english(result.output), result.output)


def _failure(command: object) -> list[str]:
    """Arguments that make ``command`` fail before it runs: a missing required option or
    argument, else a bad number, else an unknown option."""
    params = [p for p in command.params if p.name != "help"]  # type: ignore[attr-defined]
    if any(p.required for p in params):
        return []
    for p in params:
        label = p.display_type(None) if hasattr(p, "display_type") else ""
        if p.opts and p.opts[0].startswith("--") and label in ("<geheel getal>", "<getal>"):
            return [p.opts[0], "veel"]
    return ["--bestaat-niet"]


@pytest.mark.parametrize("path", [p for p, c in COMMANDS if not hasattr(c, "commands")],
                         ids=lambda p: " ".join(p))
def test_failure_is_dutch(env, path):
    command = dict(COMMANDS)[path]
    args = _failure(command)
    result = runner.invoke(app, [*path, *args])
    assert result.exit_code == 2, result.output
    assert "Fout: " in result.output and f"Hulp: 'geoveilig {' '.join(path)} --help'" \
        in result.output
    assert not _english(result.output), (_english(result.output), result.output)
    if not args:
        assert "ontbreekt" in result.output
    elif args[1:] == ["veel"]:
        assert f"ongeldige waarde voor '{args[0]}'" in result.output


@pytest.mark.parametrize(("args", "expected"), [
    (["hotspot"], "onbekende opdracht 'hotspot'. Bedoelde u 'hotspots'?"),
    (["keys", "lst"], "onbekende opdracht 'lst'. Bedoelde u 'list'?"),
    (["backtest", "--crime-typ", "x"], "onbekende optie --crime-typ. Bedoelde u --crime-type?"),
    (["hotspots", "--crime-type", "x"], "optie '--out' ontbreekt."),
    (["backtest", "--crime-type", "x", "--origins", "q"],
     "ongeldige waarde voor '--origins': geef een geheel getal"),
    (["hotspots", "--crime-type", "x", "--out", "a", "--cell-size", "q"],
     "ongeldige waarde voor '--cell-size': geef een getal"),
    (["keys", "revoke"], "argument 'SLEUTEL' ontbreekt."),
    (["keys", "list", "extra"], "onverwacht extra argument (extra)"),
])
def test_messages_in_dutch_through_the_lazy_root(env, args, expected):
    """``geoveilig`` itself (``main``) loads commands lazily; its messages are Dutch too."""
    result = runner.invoke(_build([]), args)
    assert result.exit_code == 2
    assert expected in result.output, result.output
    assert not _english(result.output), result.output


def test_unknown_messages_pass_unchanged_and_known_ones_translate():
    assert message("iets eigens") == "iets eigens"
    assert message("Missing option '--out'.") == "optie '--out' ontbreekt."
    assert message("Invalid value for '--n': Input should be greater than or equal to 1") \
        == "ongeldige waarde voor '--n': minstens 1"


def test_root_help_lists_every_command_from_the_summaries():
    full = typer.main.get_command(app)
    for name, command in full.commands.items():  # type: ignore[attr-defined]
        assert _SUMMARIES.get(name) == command.get_short_help_str(10_000), name
    result = runner.invoke(_build([]), ["--help"])
    assert result.exit_code == 0
    for name in _COMMANDS:
        assert f"  {name} " in result.output
    assert not _english(result.output)


def test_constants_written_out_for_a_fast_help_match_the_library():
    from geoveilig.cli import deployments_cmd, map_cmd, recommend_cmd
    from geoveilig.placement.service import KEEP_EXISTING
    from geoveilig.store.deployments import KINDS, STATUSES
    from geoveilig.web.export import EXPORT_LAYERS

    assert map_cmd.LAYERS == EXPORT_LAYERS
    assert tuple(KINDS) == deployments_cmd.KIND_NAMES
    assert deployments_cmd.STATUS_NAMES == STATUSES
    assert recommend_cmd.KEEP_EXISTING == KEEP_EXISTING


_PROBE = """
import sys
sys.argv = ["geoveilig", *{args!r}]
from geoveilig.cli import main
try:
    main()
except SystemExit:
    pass
heavy = sorted(m for m in ("pandas", "geopandas", "sqlalchemy", "rich", "pydantic_settings",
                           "geoveilig.store", "geoveilig.hotspots")
               if m in sys.modules)
commands = sorted(m for m in sys.modules if m.startswith("geoveilig.cli.") and m.endswith("_cmd"))
print("MODULES", heavy, commands, file=sys.stderr)
"""


@pytest.mark.parametrize(("args", "heavy", "commands"), [
    (["--help"], [], []),
    ([], [], []),
    (["hotspots", "--help"], [], ["geoveilig.cli.hotspots_cmd"]),
    (["keys", "list", "--help"], [], ["geoveilig.cli.keys_cmd"]),
])
def test_start_up_imports_only_what_the_command_needs(args, heavy, commands):
    """What makes ``--help`` fast, checked without timing: no command module for the root
    help, and no pandas, SQLAlchemy, rich or store for a command's help."""
    proc = subprocess.run([sys.executable, "-c", _PROBE.format(args=args)],
                          capture_output=True, text=True, check=True, timeout=120)
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MODULES"))
    assert line == f"MODULES {heavy} {commands}", proc.stderr


def test_tables_for_people():
    import pandas as pd

    from geoveilig.cli.tables import cell, table

    assert cell(float("nan")) == "–" and cell(None) == "–" and cell(pd.NA) == "–"
    assert cell(True) == "ja" and cell(False) == "nee"
    assert cell(1.5, 2) == "1,50" and cell(12345.678, 1) == "12.345,7" and cell(7) == "7"
    frame = pd.DataFrame({"method": ["naive"], "pai_5": [float("nan")], "ok": [True]})
    text = table(frame, {"method": "methode", "pai_5": "PAI 5%", "ok": "criterium gehaald"})
    assert text.splitlines()[0].split() == ["methode", "PAI", "5%", "criterium", "gehaald"]
    assert "NaN" not in text and "True" not in text and "ja" in text


def test_areas_show_speaks_dutch(env):
    result = runner.invoke(app, ["areas", "show", "--level", "buurt"])
    assert result.exit_code == 0
    assert "oppervlakte (km²)" in result.output and "area_km2" not in result.output
    assert re.search(r"\d,\d{3}\b", result.output)  # decimal comma
