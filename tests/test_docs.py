"""The user documentation stays true: every relative link in the README and ``docs/``
resolves, no page sends the reader outside the repository, every ``geoveilig ...`` command
quoted in them exists with the options quoted (``--help`` runs on each distinct command path),
and the crime-type list of docs/own-data.md is the catalogue of ``geoveilig.crimetypes``."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: pages linked before they are written (checked once present); none today
PENDING: set[str] = set()

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|!\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
_SPAN = re.compile(r"`([^`\n]+)`")
_COMMAND = re.compile(r"(?:^|[\s/(])geoveilig((?:\s+[^\s#]+)*)")


def _anchors(markdown: str) -> set[str]:
    """GitHub's ids of the headings of a page (lower case, punctuation dropped, '-' for
    spaces)."""
    body = _FENCE.sub("", markdown)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
            for h in re.findall(r"^#+\s+(.*)$", body, re.M)}


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_every_page_is_reachable_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = {m.group(1) for m in _LINK.finditer(readme) if m.group(1)}
    for page in PAGES[1:]:
        if page.name == "architecture.md":
            continue  # the maintainer's page, linked from CONTRIBUTING and development.md
        assert f"docs/{page.name}" in linked, f"README does not link docs/{page.name}"


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_relative_links_resolve(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    bad = []
    for m in _LINK.finditer(text):
        target = m.group(1) or m.group(2)
        if re.match(r"^[a-z]+:", target):
            continue
        if target.startswith("#"):
            if target[1:] not in _anchors(text):
                bad.append(f"{target} (no such heading)")
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        rel = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
        if not path.is_relative_to(ROOT):
            bad.append(f"{target} (outside the repository)")
        elif not path.exists() and rel not in PENDING:
            bad.append(target)
        elif "#" in target and path.suffix == ".md" and path.exists():
            anchor = target.split("#", 1)[1]
            if anchor not in _anchors(path.read_text(encoding="utf-8")):
                bad.append(f"{target} (no such heading)")
    assert not bad, f"{_rel(page)}: links that do not resolve: {bad}"


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_no_page_sends_the_reader_outside_the_repository(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    for needle in ("../shared", "shared/seed", "shared/geo", "DESIGN.md"):
        assert needle not in text, f"{_rel(page)} mentions {needle}"


def _quoted_commands() -> dict[str, set[str]]:
    """Every ``geoveilig ...`` in a code span or code block -> the pages quoting it."""
    found: dict[str, set[str]] = {}
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        chunks = [m.group(1) for m in _FENCE.finditer(text)]
        rest = _FENCE.sub("", text)
        chunks += [m.group(1) for m in _SPAN.finditer(rest)]
        for chunk in chunks:
            for line in chunk.splitlines():
                line = line.split("  #", 1)[0].split(" # ", 1)[0]
                for part in re.split(r" && | ; | \| ", line):
                    for m in _COMMAND.finditer(part):
                        found.setdefault("geoveilig" + m.group(1), set()).add(_rel(page))
    return found


def _resolve(root: Any, words: list[str]) -> tuple[list[str], Any, list[str]]:
    """Walk the subcommands named at the start of ``words``; return the path, the command and
    the rest. A group followed by a word that is not one of its commands is an error.
    (Typer carries its own copy of click: groups are recognised by their ``commands``.)"""
    path: list[str] = []
    cmd = root
    rest = list(words)
    while hasattr(cmd, "commands") and rest and not rest[0].startswith("-"):
        word = rest[0]
        sub = cmd.commands.get(word)
        if sub is None:
            raise KeyError(f"geen commando '{' '.join([*path, word])}'")
        path.append(word)
        cmd = sub
        rest.pop(0)
    return path, cmd, rest


def test_every_quoted_command_exists_with_its_options() -> None:
    from geoveilig.cli import app

    root = typer.main.get_command(app)
    quoted = _quoted_commands()
    assert len(quoted) > 40  # the pages do quote the CLI
    problems: list[str] = []
    paths: dict[tuple[str, ...], Any] = {}
    for text, pages in sorted(quoted.items()):
        words = [w for w in re.split(r"[\s\[\]]+", text.replace("\\|", "|"))[1:] if w]
        try:
            path, cmd, rest = _resolve(root, words)
        except KeyError as exc:
            problems.append(f"{text!r} in {sorted(pages)}: {exc}")
            continue
        paths[tuple(path)] = cmd
        known = {opt for p in cmd.params for opt in [*p.opts, *p.secondary_opts]} | {"--help"}
        for word in rest:
            for opt in re.findall(r"(?:^|\|)(--?[a-z][a-z0-9-]*)", word):
                if opt not in known:
                    problems.append(f"{text!r} in {sorted(pages)}: no option {opt}")
    assert not problems, "\n".join(problems)
    runner = CliRunner()
    for path in sorted(paths):
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output or "Gebruik" in result.output


def test_the_command_check_catches_what_does_not_exist() -> None:
    from geoveilig.cli import app

    root = typer.main.get_command(app)
    with pytest.raises(KeyError):
        _resolve(root, ["areas", "download"])
    path, cmd, rest = _resolve(root, ["deployments", "add", "--plan", "3"])
    assert path == ["deployments", "add"] and rest == ["--plan", "3"]
    assert "--plan" in {o for p in cmd.params for o in p.opts}


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_crimetypes",
                                                  ROOT / "docs" / "gen_crimetypes.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_crime_type_list_in_the_docs_is_the_catalogue() -> None:
    from geoveilig import crimetypes

    gen = _generator()
    page = (ROOT / "docs" / "own-data.md").read_text(encoding="utf-8")
    assert gen.current(page) == gen.tables(), (
        "docs/own-data.md is out of date: run .venv/bin/python docs/gen_crimetypes.py")
    for ct in crimetypes.CRIME_TYPES:  # and the generator itself leaves nothing out
        assert f"| `{ct.slug}` | {ct.label} |" in page
        for syn in ct.synonyms:
            assert syn in page
    for group in crimetypes.GROUPS:
        assert f"| `{group}` |" in page


def test_readme_starts_with_the_two_commands_and_stays_short() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first = _FENCE.search(text)
    assert first is not None and text.index("```") < 200
    lines = [ln.split("#", 1)[0].strip() for ln in first.group(1).splitlines()]
    assert lines == ["make demo", "make test"]
    assert len(text.splitlines()) <= 160


def _marked_block(text: str, marker: str) -> str:
    """The fenced block right after ``<!-- marker -->``."""
    after = text.split(f"<!-- {marker} -->", 1)[1]
    m = _FENCE.search(after)
    assert m is not None and after[:m.start()].strip() == "", marker
    return m.group(1)


def test_the_rejects_example_prints_what_the_page_says(shared_geo, tmp_path, monkeypatch) -> None:
    page = (ROOT / "docs" / "own-data.md").read_text(encoding="utf-8")
    (tmp_path / "meldingen.csv").write_text(_marked_block(page, "example: meldingen.csv"),
                                            encoding="utf-8")
    expected = _marked_block(page, "output: geoveilig import meldingen.csv")
    monkeypatch.setenv("GEOVEILIG_GEO_DIR", str(shared_geo))
    monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(typer_app(), ["import", "meldingen.csv"])
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    for line in expected.splitlines():
        assert " ".join(line.split()) in said, line
    rejects = CliRunner().invoke(typer_app(), ["import", "meldingen.csv", "--partial",
                                               "--rejects", "fouten.csv"])
    assert rejects.exit_code == 0
    assert "Klaar. Ingelezen: 2, bijgewerkt: 0, ingetrokken: 0, afgewezen: 3, al aanwezig: 0." \
        in " ".join(rejects.output.split())
    assert "Klaar. Ingelezen: 2, bijgewerkt: 0, ingetrokken: 0,\nafgewezen: 3, al aanwezig: 0." \
        in page
    header = (tmp_path / "fouten.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.endswith(";fout_kolom;fout_reden")


def typer_app():  # type: ignore[no-untyped-def]
    from geoveilig.cli import app

    return app


@pytest.mark.slow  # a served demo and GDAL's command-line tools
def test_the_gdal_commands_of_the_api_page_work(tmp_path, shared_geo, areas,
                                                demo_incidents) -> None:
    import shlex
    import shutil
    import subprocess

    import pyogrio

    from tests.api_support import build_store, running_server

    if shutil.which("ogrinfo") is None or shutil.which("ogr2ogr") is None:
        pytest.fail("ogrinfo/ogr2ogr not found: install gdal-bin (.ci/run does)")
    page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    commands = [shlex.split(line) for line in _marked_block(page, "verified: gdal").splitlines()
                if line.strip()]
    assert [c[0] for c in commands].count("ogr2ogr") >= 2 and len(commands) >= 5
    _settings, keys = build_store(tmp_path, shared_geo, areas, demo_incidents)
    with running_server(tmp_path, shared_geo) as base:
        for args in commands:
            args = [a.replace("http://127.0.0.1:8000", base).replace("SLEUTEL", keys["analyst"])
                    for a in args]
            done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True,
                                  timeout=120)
            assert done.returncode == 0, (args, done.stderr[-2000:])
            if args[0] == "ogrinfo":
                assert "wijken" in done.stdout, (args, done.stdout[-2000:])
            else:
                out = tmp_path / args[3]
                frame = pyogrio.read_dataframe(out)
                assert len(frame) > 0, args
                if "wijken" in out.name:
                    assert set(frame["code"]) == set(areas.wijken["code"])
        # the analyst layer is refused without the key (it does not exist for the public)
        keyless = [a.replace("http://127.0.0.1:8000", base) for a in commands[3][:6]]
        keyless[3] = "zonder_sleutel.gpkg"
        refused = subprocess.run(keyless, cwd=tmp_path, capture_output=True, text=True,
                                 timeout=120)
        assert refused.returncode != 0


def test_the_api_page_shows_real_gdal_output_and_small_qgis_images() -> None:
    """``make docs-qgis`` (docs/qgis_screenshots.py) wrote what the API page shows: every GDAL
    command it runs with its own output (no empty layer, no key), and the QGIS screenshots,
    each under 300 KB."""
    spec = importlib.util.spec_from_file_location("qgis_screenshots",
                                                  ROOT / "docs" / "qgis_screenshots.py")
    assert spec is not None and spec.loader is not None
    shots = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shots)
    page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    block = page.split(shots.START, 1)[1].split(shots.END, 1)[0]
    for args, expect in shots.gdal_commands(shots.DOC_BASE):
        shown = "$ " + " ".join(shots._quote(a) for a in args)
        assert shown in block, f"{shown} ontbreekt: draai make docs-qgis"
        output = block.split(shown, 1)[1].split("```", 1)[0]
        assert expect in output, (shown, output)
    counts = [int(n) for n in re.findall(r"Feature Count: (\d+)", block)]
    assert len(counts) >= 3 and min(counts) > 0
    assert "SLEUTEL" in block and "gv_" not in block  # the key never reaches the docs
    images = re.findall(r"\]\(img/(qgis-[^)]+\.png)\)", page)
    assert len(set(images)) >= 5
    for name in images:
        size = (ROOT / "docs" / "img" / name).stat().st_size
        assert 0 < size < shots.MAX_PNG_BYTES, (name, size)
