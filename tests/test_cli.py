import json

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from geoveilig.api import create_app
from geoveilig.cli import app
from geoveilig.settings import Settings

runner = CliRunner()


@pytest.fixture
def env(monkeypatch, tmp_path, shared_geo):
    monkeypatch.setenv("GEOVEILIG_GEO_DIR", str(shared_geo))
    monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def test_every_command_has_dutch_help():
    for args in (["--help"], ["import", "--help"], ["demo", "--help"], ["areas", "show", "--help"],
                 ["areas", "fetch", "--help"], ["serve", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, args
    assert "Lees incidenten in" in runner.invoke(app, ["import", "--help"]).output


def test_areas_show(env):
    result = runner.invoke(app, ["areas", "show"])
    assert result.exit_code == 0
    assert "Brandevoort" in result.output and "WK079421" in result.output


def test_import_bad_file_fails_in_dutch_and_writes_rejects(env):
    f = env / "in.csv"
    f.write_text("registratienummer;soort;pleegdatum;x;y\n"
                 "a;woninginbraak;2017-01-01;173624;388270\n"
                 "b;fraude;2017-01-01;173624;388270\n", encoding="utf-8")
    rej = env / "rej.csv"
    result = runner.invoke(app, ["import", str(f), "--rejects", str(rej)])
    assert result.exit_code == 2
    assert "Import geweigerd" in result.output and "rij 3, kolom soort" in result.output
    assert "fraude" in rej.read_text(encoding="utf-8")
    result = runner.invoke(app, ["import", str(f), "--partial"])
    assert result.exit_code == 0
    assert "Ingelezen: 1, bijgewerkt: 0, ingetrokken: 0, afgewezen: 1, al aanwezig: 0" \
        in result.output
    result = runner.invoke(app, ["import", str(env / "missing.csv")])
    assert result.exit_code != 0
    result = runner.invoke(app, ["areas", "show", "--level", "land"])
    assert result.exit_code != 0


def test_import_says_what_the_near_repeat_check_covered(env):
    f = env / "mix.csv"
    f.write_text("registratienummer;soort;pleegdatum;x;y\n"
                 "oud;woninginbraak;2015-06-01;173624;388270\n"
                 "nieuw;woninginbraak;2017-01-10;173624;388270\n", encoding="utf-8")
    result = runner.invoke(app, ["import", str(f)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert ("Near-repeatcontrole: 1 recente incident(en) vanaf 12-10-2016 getoetst, meldingen "
            "voor: woninginbraak; 1 oudere incident(en) (meer dan 90 dagen voor het nieuwste) "
            "alleen opgeslagen als geschiedenis.") in said
    again = runner.invoke(app, ["import", str(f)])
    assert "Near-repeatcontrole: geen nieuwe incidenten." in again.output


def test_import_pauses_the_cycle_collector_only_while_reading(env):
    """The collector is paused while the file is read and parsed and while its rows are
    stored, and back on afterwards, also when the file is refused."""
    import gc

    from geoveilig.cli import import_cmd

    seen = []
    real, real_store = import_cmd._read, import_cmd._store

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    def spy_store(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(gc.isenabled())
        return real_store(*args, **kwargs)

    f = env / "een.csv"
    f.write_text("registratienummer;soort;pleegdatum;x;y\n"
                 "a;woninginbraak;2017-01-01;173624;388270\n", encoding="utf-8")
    bad = env / "fout.csv"
    bad.write_text("registratienummer;soort;pleegdatum;x;y\n"
                   "b;fraude;2017-01-01;173624;388270\n", encoding="utf-8")
    import_cmd._read, import_cmd._store = spy, spy_store
    try:
        assert gc.isenabled()
        assert runner.invoke(app, ["import", str(f)]).exit_code == 0
        assert gc.isenabled()
        assert runner.invoke(app, ["import", str(bad)]).exit_code == 2
        assert gc.isenabled()
    finally:
        import_cmd._read, import_cmd._store = real, real_store
    assert seen == [False, False, False, False]  # read and stored; refused when stored


def test_import_sets_native_defaults_only_before_numpy_loads_and_keeps_the_users():
    """In a fresh process the import sets ``NATIVE_DEFAULTS`` for the native libraries (no
    OpenBLAS worker threads, no transparent huge pages), except what the user set; in a
    process that loaded numpy already it changes nothing (the libraries read them once)."""
    import os
    import subprocess
    import sys

    code = ("import os, sys\n"
            "from geoveilig.cli.import_cmd import NATIVE_DEFAULTS, _native_defaults\n"
            "if sys.argv[1] == 'late':\n"
            "    import numpy\n"
            "_native_defaults()\n"
            "print(','.join(os.environ.get(k, '-') for k in sorted(NATIVE_DEFAULTS)))\n")
    env = {k: v for k, v in os.environ.items() if k not in (
        "OPENBLAS_NUM_THREADS", "NUMPY_MADVISE_HUGEPAGE", "MIMALLOC_ALLOW_THP")}

    def run(when: str, **extra: str) -> str:
        return subprocess.run([sys.executable, "-c", code, when], env={**env, **extra},
                              capture_output=True, text=True, check=True).stdout.strip()

    assert run("fresh") == "0,0,1"  # MIMALLOC_ALLOW_THP, NUMPY_MADVISE_HUGEPAGE, OPENBLAS
    assert run("fresh", OPENBLAS_NUM_THREADS="2") == "0,0,2"
    assert run("late") == "-,-,-"


_PROGRAM_END = """
import atexit, logging, logging.handlers, sys
atexit.register(lambda: print("TEARDOWN", file=sys.stderr, flush=True))
# a handler that writes only when flushed: at logging.shutdown()
target = logging.FileHandler(sys.argv[1], encoding="utf-8")
logging.getLogger("probe").addHandler(logging.handlers.MemoryHandler(1000, target=target))
logging.getLogger("probe").warning("logged before the import")
sys.argv = ["geoveilig", "import", sys.argv[2], *sys.argv[3:]]
from geoveilig.cli import main
main()
"""


def test_import_program_ends_after_its_report_with_everything_written(env):
    """The ``geoveilig`` program ends a successful import without the interpreter's teardown
    (``common.end_program``): exit code 0, the whole report printed, the rows in the store
    (closed, its WAL checkpointed), the rejects file and a buffered log written; the exit
    handlers left are not run. A refused import ends as before (code 2, handlers run)."""
    import os
    import subprocess
    import sys

    from geoveilig.store import Store

    f = env / "twee.csv"
    f.write_text("registratienummer;soort;pleegdatum;x;y\n"
                 "a;woninginbraak;2017-01-01;173624;388270\n"
                 "b;woninginbraak;2017-01-02;173650;388250\n"
                 "c;fraude;2017-01-02;173650;388250\n", encoding="utf-8")
    log, rejects = env / "probe.log", env / "afgewezen.csv"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", _PROGRAM_END, str(log), *args],
                              capture_output=True, text=True, timeout=180, env=os.environ)

    done = run(str(f), "--partial", "--rejects", str(rejects))
    assert done.returncode == 0, done.stderr
    assert "Klaar. Ingelezen: 2, bijgewerkt: 0, ingetrokken: 0, afgewezen: 1" in done.stdout
    assert "Near-repeatcontrole" in done.stdout and done.stdout.endswith("(geoveilig alerts "
                                                                       "list).\n"), done.stdout
    assert "TEARDOWN" not in done.stderr
    assert "logged before the import" in log.read_text(encoding="utf-8")
    assert "fraude" in rejects.read_text(encoding="utf-8")
    db = env / "data" / "geoveilig.sqlite"
    assert not db.with_name(db.name + "-wal").exists()  # closed: checkpointed and removed
    store = Store.sqlite(db)
    try:
        assert sorted(store.incidents()["incident_id"]) == ["a", "b"]
    finally:
        store.close()
    refused = run(str(f))
    assert refused.returncode == 2 and "Import geweigerd" in refused.stderr
    assert "TEARDOWN" in refused.stderr


def test_import_names_the_files_error_before_that_of_the_areas(monkeypatch, tmp_path):
    """The areas load while the file is still being read: an unreadable file is reported as
    such, also when the boundaries are missing too; a good file then gets the areas' error."""
    monkeypatch.setenv("GEOVEILIG_GEO_DIR", str(tmp_path / "nope"))
    monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(tmp_path / "data"))
    pdf = tmp_path / "extract.csv"
    pdf.write_bytes(b"%PDF-1.7\n" + b"x" * 100)
    result = runner.invoke(app, ["import", str(pdf)])
    assert result.exit_code == 1 and "PDF" in result.output, result.output
    assert "gebiedsindeling" not in result.output
    good = tmp_path / "goed.csv"
    good.write_text("registratienummer;soort;pleegdatum;x;y\n"
                    "a;woninginbraak;2017-01-01;173624;388270\n", encoding="utf-8")
    result = runner.invoke(app, ["import", str(good)])
    assert result.exit_code == 1 and "gebiedsindeling niet gevonden" in result.output
    assert "Traceback" not in result.output


def test_missing_geography_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("GEOVEILIG_GEO_DIR", str(tmp_path / "nope"))
    result = runner.invoke(app, ["areas", "show"])
    assert result.exit_code == 1
    assert "gebiedsindeling niet gevonden" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow  # the whole demo through the CLI; `make test-fast` skips it
def test_demo_then_health(env, shared_geo):
    from geoveilig.demo import yearly_counts

    total = int(yearly_counts().to_numpy().sum())
    result = runner.invoke(app, ["demo", "--seed", "42"])
    assert result.exit_code == 0, result.output
    assert f"{total} incidenten" in result.output
    again = runner.invoke(app, ["demo", "--seed", "42"])
    assert f"0 incidenten ingelezen, {total} waren er al" in again.output
    settings = Settings(geo_dir=shared_geo, data_dir=env / "data")
    with TestClient(create_app(settings)) as client:
        body = client.get("/health").json()
    assert body["status"] == "ok" and body["incidents"] == total and body["buurten"] == 44
    json.dumps(body)


def test_export_round_trips_through_import(env, monkeypatch):
    """``geoveilig export`` writes what ``geoveilig import`` reads back to the same incidents
    (CSV and GeoPackage); filters select as the store does; every export is audited."""
    import sqlalchemy as sa

    from geoveilig.store import Store

    src = env / "in.csv"
    src.write_text(
        "registratienummer;soort;pleegdatum;begindatum;einddatum;x;y;adres\n"
        "a;woninginbraak;2017-03-14 21:30;;;173624,5;388270,2;Kerkstraat 1\n"
        "b;woninginbraak;;2017-10-28 22:00;2017-10-29 02:30;173949,0;386938,0;\n"
        "c;fietsdiefstal;2016-07-01T12:00:00+02:00;;;173700,25;387500,75;\n"
        "d;straatroof;2017-12-31 23:59:59;;;174100,0;388000,0;Markt 2\n", encoding="utf-8")
    assert runner.invoke(app, ["import", str(src)]).exit_code == 0
    db = env / "data" / "geoveilig.sqlite"
    with Store.sqlite(db) as store:
        before = store.incidents()
    for name in ("all.csv", "all.gpkg"):
        result = runner.invoke(app, ["export", "--out", str(env / name)])
        assert result.exit_code == 0, result.output
        assert "4 incidenten geschreven" in result.output
        monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(env / f"data-{name}"))
        result = runner.invoke(app, ["import", str(env / name)])
        assert result.exit_code == 0, result.output
        with Store.sqlite(env / f"data-{name}" / "geoveilig.sqlite") as copy:
            again = copy.incidents()
        cols = [c for c in before.columns if c != "geometry"]
        pd.testing.assert_frame_equal(again[cols], before[cols])
        monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(env / "data"))
    out = env / "burglary.csv"
    result = runner.invoke(app, ["export", "--out", str(out), "--period", "2017",
                                 "--crime-type", "woninginbraak", "--area", "WK079410"])
    assert result.exit_code == 0, result.output
    exported = pd.read_csv(out, sep=";", dtype=str)
    with Store.sqlite(db) as store:
        want = store.incidents(start="2017-01-01", end="2018-01-01",
                               crime_types=["woninginbraak"], area_codes=["WK079410"])
        with store.engine.connect() as conn:
            audit = conn.execute(sa.text("SELECT action, target FROM audit_log")).all()
    assert list(exported["registratienummer"]) == list(want["incident_id"])
    assert audit == [("export-incidents", "all.csv"), ("export-incidents", "all.gpkg"),
                     ("export-incidents", "burglary.csv")]
    result = runner.invoke(app, ["export", "--out", str(env / "x.xlsx")])
    assert result.exit_code != 0 and ".csv of .gpkg" in result.output
    result = runner.invoke(app, ["export", "--out", str(env / "none.csv"), "--period", "2013"])
    assert result.exit_code == 1 and "geen incidenten" in result.output
    assert not (env / "none.csv").exists()
