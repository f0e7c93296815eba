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


#: English words of running text (messages, help): a Dutch text has none of them, outside
#: option names, command names and the values an option takes (``--format table``)
ENGLISH_WORDS = {
    "the", "and", "with", "without", "from", "for", "this", "that", "file", "files", "rows",
    "row", "column", "error", "warning", "written", "saved", "loaded", "done", "not", "found",
    "missing", "invalid", "unknown", "message", "exit", "usage", "default", "required",
    "value", "values", "must", "should", "cannot", "please", "true", "false", "None", "NaN",
    "True", "False", "to", "are", "yes", "all", "only", "by", "new", "old", "data", "date",
    "name", "type", "count", "level", "output", "input", "format", "help", "option"}
OPTION_VALUES = {"table"}
COMMAND_NAMES = {name for path, _ in COMMANDS for name in path}


def _english(text: str) -> list[str]:
    plain = re.sub(r"--[\w-]+", "", text)
    words = set(re.findall(r"[A-Za-z]+", plain)) - COMMAND_NAMES - OPTION_VALUES
    return ENGLISH.findall(text) + [n for n in INTERNAL.findall(text) if n not in FILE_COLUMNS] \
        + sorted(words & ENGLISH_WORDS)


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


def _file_arguments(command: object) -> list[object]:
    params = getattr(command, "params", [])
    return [p for p in params if p.param_type_name == "argument"
            and p.display_type(None) == "<pad>"]


#: commands that read a file named on the command line (and need nothing else)
FILE_COMMANDS = [p for p, c in COMMANDS if _file_arguments(c)
                 and not [q for q in c.params  # type: ignore[attr-defined]
                          if q.required and q.param_type_name == "option"]]


def test_the_commands_that_read_a_file_are_found():
    assert {("import",), ("restore",), ("prevention", "import"),
            ("deployments", "import")} <= set(FILE_COMMANDS)


@pytest.mark.parametrize("path", FILE_COMMANDS, ids=lambda p: " ".join(p))
def test_a_missing_file_is_dutch(env, path):
    """The other kind of failure: a file that is not there (a Dutch line, no traceback)."""
    missing = str(env / "bestaat-niet.csv")
    result = runner.invoke(app, [*path, missing])
    assert result.exit_code in (1, 2), result.output
    assert "Fout: " in result.output and "bestaat niet" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not _english(result.output.replace(missing, "")), result.output


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


def test_program_end_spares_the_collector_its_last_walk():
    """``main`` leaves the objects still alive out of the cycle collector's reach (its walk
    over all of them at shut-down costs an import of 10⁶ rows ~0.4 s), also when the command
    ends with an error; the exit code stays the command's own."""
    probe = ("import gc, sys\nfrom geoveilig.cli import main\nsys.argv = {args!r}\n"
             "try:\n    main()\nexcept SystemExit as exc:\n"
             "    print('FROZEN', gc.get_freeze_count() > 0, exc.code, file=sys.stderr)\n")
    for args, code in ((["geoveilig", "--help"], 0), (["geoveilig", "bestaatniet"], 2)):
        proc = subprocess.run([sys.executable, "-c", probe.format(args=args)],
                              capture_output=True, text=True, check=True, timeout=120)
        assert f"FROZEN True {code}" in proc.stderr, proc.stderr


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


# --- the normal output of the commands that print tables -------------------------------------

#: English words of a table or summary for people: booleans and missing values as pandas
#: prints them, and the single-word internal column names (``layers.FIELDS``,
#: ``cli.tables.LABELS``) that are not Dutch words as well
TABLE_ENGLISH = {"True", "False", "NaN", "NaT", "None", "nan", "<NA>"}
DUTCH_TOO = {"code", "status", "buurten", "id", "max", "mean"}
#: a decimal point (not a thousands separator: those have three digits after them)
DECIMAL_POINT = re.compile(r"(?<![\d.])(?:\d{1,3}\.\d{1,2}|0\.\d+)(?![\d.])")


def _internal_words() -> set[str]:
    from geoveilig.cli.tables import LABELS
    from geoveilig.layers import FIELDS

    return {n for n in [*FIELDS, *LABELS] if "_" not in n and n.isalpha()} - DUTCH_TOO


def _english_in_table(text: str) -> list[str]:
    text = re.sub(r"--[\w-]+", "", text)  # option names are the command's own vocabulary
    # the English synonyms that ``geoveilig import`` accepts are data (``crimetypes``)
    text = re.sub(r"(?m)^  synoniem: .*$", "", text)
    words = set(re.findall(r"[<>\w]+", text)) - COMMAND_NAMES - OPTION_VALUES
    return sorted(
        (words & (TABLE_ENGLISH | _internal_words() | ENGLISH_WORDS))
        | {n for n in INTERNAL.findall(text) if n not in FILE_COLUMNS}
        | set(DECIMAL_POINT.findall(text)))


CUT = "2017-10-01"


@pytest.fixture(scope="module")
def people_env(tmp_path_factory, shared_geo, areas, demo_incidents):
    """A store with two years of demo burglaries and HIC, the demo prevention registry,
    alerts (written by ``geoveilig import`` of the last months) and published counts (from a
    local CBS server), for the commands that print tables."""
    import pandas as pd

    from geoveilig.demo import to_csv
    from geoveilig.demo.prevention import demo_prevention_groups
    from geoveilig.store import Store
    from geoveilig.store.prevention import load_demo_registry
    from tests.cbs_fake import FakeCbs, install_perception, install_police
    from tests.storehelp import parsed

    tmp = tmp_path_factory.mktemp("people")
    when = demo_incidents["occurred_at"]
    inc = demo_incidents.loc[
        demo_incidents["crime_type"].isin(["woninginbraak", "straatroof", "overval"])
        & (when >= pd.Timestamp("2016-01-01", tz="Europe/Amsterdam"))]
    cut = pd.Timestamp(CUT, tz="Europe/Amsterdam")
    store = Store.sqlite(tmp / "geoveilig.sqlite")
    try:
        store.import_incidents(parsed(inc.loc[inc["occurred_at"] < cut]),
                               source_name="oud.csv", content_sha256="a", synthetic=True)
        load_demo_registry(store, demo_prevention_groups(areas, seed=42,
                                                         incidents=demo_incidents),
                           source_name="demo", known_buurten=list(areas.buurten["code"]))
    finally:
        store.close()
    env = {"GEOVEILIG_DATA_DIR": str(tmp), "GEOVEILIG_GEO_DIR": str(shared_geo)}
    csv = to_csv(inc.loc[inc["occurred_at"] >= cut], tmp / "nieuw.csv")
    res = runner.invoke(app, ["import", str(csv)], env=env)
    assert res.exit_code == 0 and "nieuwe melding" in res.output, res.output
    server = FakeCbs(page_size=500)
    try:
        install_police(server)
        install_perception(server)
        res = runner.invoke(app, ["cbs", "fetch", "--tables", "47022NED,81877NED"],
                            env={**env, "GEOVEILIG_CBS_URL": server.url,
                                 "GEOVEILIG_POLICE_URL": server.url})
    finally:
        server.close()
    assert res.exit_code == 0, res.output
    # plan 1 and a deployment from it, for plans show and deployments list
    res = runner.invoke(app, ["recommend", "buurttent", "--count", "2", "--year", "2017",
                              "--out", str(tmp / "plan1.geojson")], env=env)
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["deployments", "add", "--plan", "1", "--ranks", "1"], env=env)
    assert res.exit_code == 0, res.output
    return {**env, "tmp": tmp}


#: every command that prints a table or a summary for people (its normal output)
TABLE_COMMANDS = [
    ["recommend", "alarms", "--count", "3", "--out", "{tmp}/alarms.geojson"],
    ["recommend", "buurttent", "--count", "3", "--year", "2017", "--out",
     "{tmp}/tent.geojson"],
    ["recommend", "witte-voeten", "--count", "4"],
    ["alerts", "list"], ["alerts", "show", "1"], ["alerts", "backtest"],
    ["prevention", "coverage"], ["prevention", "coverage", "--level", "buurt"],
    ["prevention", "growth", "--start", "2016-01-01"], ["prevention", "gaps"],
    ["cbs", "show"], ["cbs", "mapping"], ["cbs", "perception"],
    ["cbs", "rates", "--level", "wijk", "--year", "2017"],
    ["plans", "list"], ["plans", "show", "1"], ["deployments", "list"],
    ["areas", "show"], ["crimetypes"],
]


@pytest.mark.parametrize("args", TABLE_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_tables_and_summaries_are_dutch(people_env, args):
    """What a command prints for people: Dutch headers, decimal commas, ja/nee and "–"; no
    internal column names, no ``True``/``NaN``, no decimal points."""
    args = [a.format(tmp=people_env["tmp"]) for a in args]
    env = {k: v for k, v in people_env.items() if k != "tmp"}
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip()
    assert not _english_in_table(result.stdout), (_english_in_table(result.stdout),
                                                   result.stdout)


def test_the_finder_finds_what_pandas_prints():
    """The check above fails on a pandas table of the internal columns."""
    import pandas as pd

    frame = pd.DataFrame({"rank": [1], "expected_covered": [1.05], "ok": [True],
                          "distance_to_existing_m": [float("nan")]})
    found = _english_in_table(frame.to_string(index=False))
    assert {"rank", "expected_covered", "distance_to_existing_m", "True", "NaN",
            "1.05"} <= set(found)
