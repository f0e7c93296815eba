"""``geoveilig serve`` and ``make demo`` on a port that is already taken: one Dutch line with
the fix, before anything is loaded or announced."""

from __future__ import annotations

import socket
import subprocess
import sys

from typer.testing import CliRunner

from geoveilig.cli import app


def _taken() -> tuple[socket.socket, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock, sock.getsockname()[1]


def test_serve_on_a_taken_port_says_so_in_dutch() -> None:
    sock, port = _taken()
    try:
        result = CliRunner().invoke(app, ["serve", "--port", str(port)])
    finally:
        sock.close()
    assert result.exit_code == 1
    assert f"poort {port} op 127.0.0.1 is al in gebruik" in result.output
    assert f"PORT={port + 1} make demo" in result.output
    assert "draait op" not in result.output and "Traceback" not in result.output
    assert "Address already in use" not in result.output


def test_the_make_demo_port_check() -> None:
    sock, port = _taken()
    try:
        taken = subprocess.run([sys.executable, "-m", "geoveilig.ports", "127.0.0.1",
                                str(port)], capture_output=True, text=True)
    finally:
        sock.close()
    assert taken.returncode == 1 and "is al in gebruik" in taken.stderr
    free = subprocess.run([sys.executable, "-m", "geoveilig.ports", "127.0.0.1",
                           str(port)], capture_output=True, text=True)
    assert free.returncode == 0 and free.stderr == ""
