"""Whether the service can listen on a port, checked before anything heavy is imported
(``make demo`` runs ``python -m geoveilig.ports HOST PORT`` first; ``geoveilig serve`` calls
:func:`require_free_port`)."""

from __future__ import annotations

import socket
import sys

from .errors import GeoveiligError


class PortInUse(GeoveiligError):
    code = "port-in-use"


def require_free_port(host: str, port: int) -> None:
    """Raise :class:`PortInUse` (one Dutch line with the fix) when ``host:port`` cannot be
    bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise PortInUse(
                f"poort {port} op {host} is al in gebruik; kies een andere poort: "
                f"'geoveilig serve --port {port + 1}' of 'PORT={port + 1} make demo'"
            ) from None


def main(argv: list[str]) -> int:
    try:
        require_free_port(argv[0], int(argv[1]))
    except PortInUse as exc:
        print(f"Fout: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
