"""The FastAPI application. ``create_app`` only assembles: routers call the library."""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
