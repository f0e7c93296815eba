"""Progress on stderr for commands that take seconds: shown when stderr is a terminal (here a
pseudo-terminal), never when it is a pipe, and the machine output on stdout is the same
either way."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from geoveilig.areas import load_areas
from geoveilig.cli import app

MAIN = "from geoveilig.cli import main; main()"


def _run(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """``geoveilig ARGS`` in a new process with stderr on a pseudo-terminal (stdout a pipe):
    exit code, stdout, what the terminal got."""
    full_env = {**os.environ, **env, "TERM": "xterm-256color", "COLUMNS": "140"}
    master, slave = pty.openpty()
    with subprocess.Popen([sys.executable, "-c", MAIN, *args], env=full_env,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=slave) as proc:
        os.close(slave)
        chunks: list[bytes] = []
        while True:  # drain the terminal while the command runs (a full pty would block it)
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the command closed its end
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        out = proc.stdout.read().decode() if proc.stdout else ""
        code = proc.wait(timeout=300)
    os.close(master)
    return code, out, b"".join(chunks).decode(errors="replace")


@pytest.fixture(scope="module")
def env(tmp_path_factory, shared_geo) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("progress")
    areas = load_areas(shared_geo)
    poly = shapely.union_all(np.asarray(areas.buurten.geometry.values))
    rng = np.random.default_rng(3)
    minx, miny, maxx, maxy = poly.bounds
    xy = rng.uniform((minx, miny), (maxx, maxy), (1500, 2))
    xy = xy[shapely.contains_xy(poly, xy[:, 0], xy[:, 1])]
    t = pd.Timestamp("2017-01-01") + pd.to_timedelta(rng.random(len(xy)) * 400, unit="D")
    pd.DataFrame({"registratienummer": [f"P{i}" for i in range(len(xy))],
                  "misdrijf": "woninginbraak", "datum": t.strftime("%Y-%m-%d %H:%M"),
                  "x": xy[:, 0].round(1), "y": xy[:, 1].round(1)}
                 ).to_csv(tmp / "incidenten.csv", index=False)
    return {"GEOVEILIG_DATA_DIR": str(tmp / "data"), "GEOVEILIG_GEO_DIR": str(shared_geo),
            "TMP": str(tmp)}


def test_import_shows_its_stages_on_a_terminal(env):
    code, out, err = _run(["import", str(Path(env["TMP"]) / "incidenten.csv")], env)
    assert code == 0, err
    assert "Klaar. Ingelezen:" in out  # the result on stdout, as without a terminal
    assert "import" in err and "2/2" in err and "stappen" in err, err
    assert "opslaan en meldingen bepalen" in err
    assert "stappen" not in out


def test_progress_goes_to_a_terminal_only_and_leaves_stdout_alone(env):
    """``prevention coverage --format csv`` on a small register: the same CSV on stdout
    with and without a terminal; the stages only on the terminal."""
    registry = Path(env["TMP"]) / "groepen.csv"
    registry.write_text("group_id;type;buurten;active_since\n"
                        "t1;bpt;BU07941900|BU07941909;2016-01-01\n"
                        "w1;whatsapp;BU07941000;2016-06-01\n", encoding="utf-8")
    runner = CliRunner()  # in this process: stderr is not a terminal here either
    plain = {k: v for k, v in env.items() if k != "TMP"}
    result = runner.invoke(app, ["prevention", "import", str(registry)], env=plain)
    assert result.exit_code == 0 and "stappen" not in result.stderr, result.output
    args = ["prevention", "coverage", "--date", "2018-01-01", "--format", "csv"]
    piped = runner.invoke(app, args, env=plain)
    assert piped.exit_code == 0, piped.output
    assert "stappen" not in piped.stderr and "━" not in piped.stderr  # no bar off a terminal
    code, tty_out, tty_err = _run(args, env)
    assert code == 0, tty_err
    assert tty_out == piped.stdout and tty_out.startswith("code,name,")  # machine output
    assert "dekking" in tty_err and "2/2" in tty_err and "dekking berekenen" in tty_err


@pytest.mark.parametrize(("args", "stage"), [
    (["plans", "list"], "plannen lezen"),
    (["deployments", "list"], "inzet lezen"),
    (["alerts", "list"], "meldingen lezen"),
    (["cbs", "show"], "tabellen lezen"),
    (["areas", "show"], "grenzen lezen"),
])
def test_listing_commands_show_a_stage_while_they_start(env, args, stage):
    """The listing commands spend their seconds on start-up (the store, pandas): the stage
    shows from the start on a terminal; the listing itself stays on stdout."""
    code, out, err = _run(args, env)
    assert code == 0, err
    assert stage in err and "1/1" in err, err
    assert stage not in out and out.strip()
