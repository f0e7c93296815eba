"""Serving details.

``HTTP_PROTOCOL`` is uvicorn's HTTP protocol with ``TCP_NODELAY`` set on every accepted
connection: the httptools parser (C, ``NoDelayHttpToolsProtocol``) when installed, as it is
with geoveilig's dependencies, or the pure-Python h11 one (``NoDelayH11Protocol``). asyncio
sets TCP_NODELAY itself for sockets it creates, but with ``uvicorn --workers N`` the workers
get the listening socket from the parent process and asyncio's check
(``sock.proto == IPPROTO_TCP``) fails, so Nagle's algorithm stays on for kept-alive
connections and adds ~40 ms to responses (uvicorn issue #3149). Use it with
``uvicorn --http geoveilig.api.server:NoDelayHttpToolsProtocol``; ``geoveilig serve`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol


def _no_delay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        _no_delay(transport)
        super().connection_made(transport)


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is a dependency
    HTTP_PROTOCOL = "geoveilig.api.server:NoDelayH11Protocol"
else:
    class NoDelayHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            _no_delay(transport)
            super().connection_made(transport)

    HTTP_PROTOCOL = "geoveilig.api.server:NoDelayHttpToolsProtocol"
