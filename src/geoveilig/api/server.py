"""Serving details. ``NoDelayH11Protocol`` is uvicorn's h11 protocol with ``TCP_NODELAY`` set
on every accepted connection. asyncio sets it itself for sockets it creates, but with
``uvicorn --workers N`` the workers get the listening socket from the parent process and
asyncio's check (``sock.proto == IPPROTO_TCP``) fails, so Nagle's algorithm stays on for
kept-alive connections and adds ~40 ms to responses (uvicorn issue #3149). Use it with
``uvicorn --http geoveilig.api.server:NoDelayH11Protocol``; ``geoveilig serve`` does."""

from __future__ import annotations

import asyncio
import contextlib
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol

HTTP_PROTOCOL = "geoveilig.api.server:NoDelayH11Protocol"


class NoDelayH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
