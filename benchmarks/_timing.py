"""Timing for the benchmark scripts."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def best_of(fn: Callable[[], T], repeat: int = 1) -> tuple[float, T]:
    """The fastest of ``repeat`` calls of ``fn`` in seconds, and its (last) result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out  # type: ignore[return-value]
