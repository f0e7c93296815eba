"""Workers anywhere (issue 22): two ``geoveilig serve`` processes on different ports and one
``geoveilig worker``, all on one PostGIS database and nothing else shared. A job posted on one
server is polled and fetched on the other (the API processes run no jobs themselves:
``GEOVEILIG_API_JOB_THREADS=0``); an import through the CLI into the same database changes
what the other server serves within the data-version interval (1 s)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api_support import build_store, free_port

pytestmark = pytest.mark.postgres
EXE = Path(sys.executable).with_name("geoveilig")


@contextlib.contextmanager
def _processes(commands: list[list[str]], env: dict[str, str]) -> Iterator[list]:
    logs = [tempfile.TemporaryFile() for _ in commands]  # noqa: SIM115 (closed in finally)
    procs = [subprocess.Popen([str(EXE), *cmd], env=env, stdout=log, stderr=log)
             for cmd, log in zip(commands, logs, strict=True)]
    try:
        yield list(zip(procs, logs, strict=True))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        for log in logs:
            log.close()


def _up(base: str, proc: subprocess.Popen, log) -> None:  # type: ignore[no-untyped-def]
    deadline = time.time() + 300  # start-up imports take seconds, minutes on a loaded machine
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        if time.time() > deadline or proc.poll() is not None:
            log.seek(0)
            pytest.fail(f"geoveilig serve did not start: {log.read().decode()[-2000:]}")
        time.sleep(0.1)


def _counts(base: str, key: str) -> tuple[str, int]:
    r = httpx.get(f"{base}/v1/collections/wijken/items", params={"limit": 1000},
                  headers={"X-API-Key": key}, timeout=30)
    assert r.status_code == 200, r.text
    return r.headers["ETag"], sum(f["properties"]["count"] for f in r.json()["features"])


def test_two_servers_one_worker_share_jobs_and_data(tmp_path, shared_geo, areas,  # type: ignore[no-untyped-def]
                                                    demo_incidents, postgres_server) -> None:
    from geoveilig.demo import to_csv

    url = postgres_server.create()
    try:
        _settings, keys = build_store(tmp_path, shared_geo, areas, demo_incidents, url=url)
        env = {**os.environ, "GEOVEILIG_DATABASE_URL": url, "GEOVEILIG_GEO_DIR": str(shared_geo),
               "GEOVEILIG_RATE_LIMIT": "", "GEOVEILIG_API_JOB_THREADS": "0",
               "GEOVEILIG_JOB_WAIT": "0", "GEOVEILIG_DISCLOSURE_KEY": "k" * 32}
        ports = [free_port(), free_port()]
        cmds = [["serve", "--host", "127.0.0.1", "--port", str(p)] for p in ports]
        # each process has its own data dir: only the database is shared
        envs = [{**env, "GEOVEILIG_DATA_DIR": str(tmp_path / f"proc{i}")} for i in range(3)]
        with contextlib.ExitStack() as stack:
            servers = [stack.enter_context(_processes([c], e))[0]
                       for c, e in zip(cmds, envs, strict=False)]
            (worker, worker_log), = stack.enter_context(
                _processes([["worker", "--poll", "0.05"]], envs[2]))
            a, b = (f"http://127.0.0.1:{p}" for p in ports)
            for base, (proc, log) in zip((a, b), servers, strict=True):
                _up(base, proc, log)
            analyst = {"X-API-Key": keys["analyst"]}

            # --- a job posted on A is polled and fetched on B
            body = {"count": 3, "origin": "2017-06-01"}
            posted = httpx.post(f"{a}/v1/recommendations/alarms", json=body, headers=analyst,
                                timeout=30)
            assert posted.status_code == 202, posted.text
            job_id = posted.json()["jobID"]
            deadline = time.time() + 60
            while True:
                status = httpx.get(f"{b}/v1/jobs/{job_id}", headers=analyst, timeout=10)
                assert status.status_code == 200, status.text
                if status.json()["status"] in ("successful", "failed") or time.time() > deadline:
                    break
                time.sleep(0.1)
            if status.json()["status"] != "successful":
                worker_log.seek(0)
                pytest.fail(f"{status.json()} / worker: {worker_log.read().decode()[-2000:]}")
            assert worker.poll() is None
            result = httpx.get(f"{b}/v1/jobs/{job_id}/results", headers=analyst, timeout=10)
            assert result.status_code == 200
            assert result.headers["content-type"].startswith("application/geo+json")
            fc = result.json()
            assert fc["summary"]["newSites"] == 3 and len(fc["features"]) >= 3
            # the public and other callers do not see it, on either server
            assert httpx.get(f"{b}/v1/jobs/{job_id}", timeout=10).status_code == 404
            # the same request on B is the same job, answered at once from the database
            again = httpx.post(f"{b}/v1/recommendations/alarms", json=body, headers=analyst,
                               timeout=30)
            assert again.status_code == 200 and again.headers["X-Job-Id"] == job_id
            assert again.content == result.content
            # the planning run is stored: the recommendations layer on B shows its sites
            plan = httpx.get(f"{b}/v1/collections/recommendations/items",
                             params={"planId": fc["summary"]["planId"]}, headers=analyst,
                             timeout=30)
            assert plan.status_code == 200 and len(plan.json()["features"]) == len(fc["features"])

            # --- an import through the CLI changes what both servers serve
            police = keys["police"]
            before_a, before_b = _counts(a, police), _counts(b, police)
            assert before_a == before_b
            extra = demo_incidents.iloc[1::25].iloc[-300:].reset_index(drop=True)  # newest
            extra = extra.assign(incident_id=[f"extra-{i}" for i in range(len(extra))])
            csv = to_csv(extra, tmp_path / "extra.csv")
            imported = subprocess.run([str(EXE), "import", str(csv)], env=envs[2],
                                      capture_output=True, text=True, timeout=120)
            assert imported.returncode == 0, imported.stdout + imported.stderr
            done = time.monotonic()
            while (now_b := _counts(b, police)) == before_b and time.monotonic() - done < 5:
                time.sleep(0.05)
            seen = time.monotonic() - done
            assert now_b[1] > before_b[1] and now_b[0] != before_b[0]
            assert seen < 2.0, f"server B served the old data {seen:.2f} s after the import"
            assert _counts(a, police) == now_b  # both servers serve the same version
    finally:
        postgres_server.drop(url)
