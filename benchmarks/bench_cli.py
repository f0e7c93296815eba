"""How fast the ``geoveilig`` command answers, as a process (start-up included).

Each command runs as a new process with bytecode compiled (``PYTHONDONTWRITEBYTECODE`` removed
from the environment); the figure is the median wall time of ``--repeat`` runs (default 5),
with the median CPU time (user + sys) beside it: on a shared machine the wall time follows the
load, the CPU time much less. References side by side: ``python -c pass`` (the floor: what any
Python program costs here) and the eager command line (every command module imported, as
``geoveilig`` did before the lazy root group).

Targets (issue 20): ``--help`` and ``keys list`` < 0.5 s, every command's ``--help`` < 1 s,
``hotspots`` with its backtest verdict < 5 s on the demo data (backtest cached in the store),
``backtest`` (26 origins, all methods) < 10 s. ``hotspots``/``backtest`` are measured cold
(``--refresh``: the backtest computed from scratch, median of ``--repeat`` runs as well) and
warm (from the store's cache).

Run: ``GEOVEILIG_GEO_DIR=../shared/geo .venv/bin/python benchmarks/bench_cli.py``
(``--data-dir DIR`` reuses a store that already holds the demo data; otherwise ``geoveilig
demo`` fills a temporary one; ``--quick``: 3 repeats, no cold runs). Prints a table and one
JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
GEOVEILIG = [PY, "-c", "from geoveilig.cli import main; main()"]
EAGER = [PY, "-c", "import sys; from geoveilig.cli import app; app(sys.argv[1:], "
         "prog_name='geoveilig')"]
COMMANDS = ("areas", "import", "export", "crimetypes", "demo", "serve", "prevention", "report",
            "map", "hotspots", "backtest", "nearrepeat", "recommend", "backup", "restore", "keys",
            "cbs", "alerts", "plans", "deployments")


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["GEOVEILIG_DATA_DIR"] = str(data_dir)
    env.setdefault("GEOVEILIG_GEO_DIR", str(ROOT.parent / "shared" / "geo"))
    env.pop("GEOVEILIG_DATABASE_URL", None)
    return env


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + sys) seconds of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[3:]) or cmd}: exit {proc.returncode}\n{proc.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _median(cmd: list[str], env: dict[str, str], repeat: int) -> tuple[float, float]:
    runs = [_run(cmd, env) for _ in range(repeat)]
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    repeat = 3 if args.quick else args.repeat
    tmp = tempfile.TemporaryDirectory(prefix="bench_cli_")
    data_dir = args.data_dir or Path(tmp.name)
    env = _env(data_dir)
    if args.data_dir is None:
        _run([*GEOVEILIG, "demo"], env)
    out = Path(tmp.name) / "hotspots.geojson"
    rows: list[tuple[str, float, float, float | None]] = []  # name, wall, cpu, target

    def measure(name: str, cmd: list[str], target: float | None, n: int = repeat) -> None:
        wall, cpu = _median(cmd, env, n)
        rows.append((name, wall, cpu, target))
        print(f"  {name:<44} {wall:7.3f} s  cpu {cpu:6.3f} s", file=sys.stderr, flush=True)

    measure("python -c pass (floor)", [PY, "-c", "pass"], None)
    measure("geoveilig --help", [*GEOVEILIG, "--help"], 0.5)
    measure("reference: eager CLI --help (all modules)", [*EAGER, "--help"], None)
    measure("geoveilig keys list", [*GEOVEILIG, "keys", "list"], 0.5)
    for name in COMMANDS:
        measure(f"geoveilig {name} --help", [*GEOVEILIG, name, "--help"], 1.0)
    hot = [*GEOVEILIG, "hotspots", "--crime-type", "woninginbraak", "--out", str(out)]
    back = [*GEOVEILIG, "backtest", "--crime-type", "woninginbraak"]
    if not args.quick:
        # cold = the backtest computed from scratch (--refresh), median of --repeat runs too
        measure("geoveilig hotspots, cold (--refresh)", [*hot, "--refresh"], None)
        measure("geoveilig backtest, cold (--refresh)", [*back, "--refresh"], 10.0)
    measure("geoveilig hotspots (backtest from the store)", hot, 5.0)
    measure("geoveilig backtest (from the store)", back, 10.0)

    width = max(len(r[0]) for r in rows)
    print(f"\n{'command':<{width}}  {'wall (median)':>13}  {'cpu (median)':>12}  target")
    for name, wall, cpu, target in rows:
        verdict = "" if target is None else f"< {target:g} s {'ok' if wall < target else 'MISSED'}"
        print(f"{name:<{width}}  {wall:11.3f} s  {cpu:10.3f} s  {verdict}")
    load = os.getloadavg()
    print(f"load average during the run: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on "
          f"{os.cpu_count()} cores")
    print(json.dumps({"benchmark": "cli", "repeat": repeat, "load": load,
                      "results": [{"command": n, "wall_s": round(w, 4), "cpu_s": round(c, 4),
                                   "target_s": t, "met": None if t is None else w < t}
                                  for n, w, c, t in rows]}, ensure_ascii=False))
    tmp.cleanup()


if __name__ == "__main__":
    main()
