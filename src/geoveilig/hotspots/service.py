"""Orchestration shared by the CLI and the API for hotspot work that is worth keeping: a
backtest cached in the store (``store.backtests``) per data version and parameters.

The key (:func:`backtest_key`) is a SHA-256 over what the backtest reads and everything that
changes its answer: the events themselves (coordinates and times, so any import, correction or
withdrawal that changes them makes a new key; this is the data version that matters here), the
grid, the methods and their parameters, window, step, number of origins, seed, criterion and
**where it ends** (``end``, the forecast origin, or the explicit origins). A verdict is
therefore never reused for another origin: the look-ahead rule holds for cached results as for
fresh ones. ``CACHE_VERSION`` changes when the methods change their output.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import __version__
from .backtesting import BacktestResult, backtest
from .events import as_events, as_timestamp
from .grid import Grid

if TYPE_CHECKING:
    from ..store import Store

#: bump when a method's output changes for the same input
CACHE_VERSION = 2  # 2: learned model with shared features, weighted zero rows


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return repr(value)


def backtest_key(incidents: object, grid: Grid, methods: list[str] | tuple[str, ...] | None,
                 **kwargs: Any) -> str:
    """The cache key of ``backtest(incidents, grid, methods, **kwargs)`` (module docstring)."""
    ev = as_events(incidents, grid.crs)
    h = hashlib.sha256()
    h.update(f"geoveilig {__version__} backtest cache {CACHE_VERSION}\n".encode())
    for arr in (ev.t, ev.x, ev.y, grid.flat, grid.share_in_area):
        h.update(np.ascontiguousarray(arr).tobytes())
        h.update(b"|")
    h.update(repr((grid.x0, grid.y0, grid.cell_size, grid.nx, grid.ny, str(grid.crs))).encode())
    params = dict(kwargs)
    if params.get("end") is not None:
        params["end"] = as_timestamp(params["end"], "end").isoformat()
    if params.get("origins") is not None:
        params["origins"] = [as_timestamp(o).isoformat() for o in params["origins"]]
    criterion = params.pop("criterion", None)
    if criterion is not None:
        params["criterion"] = repr(criterion)
    for name in ("window", "step"):
        if name in params:
            params[name] = str(params[name])
    params["methods"] = list(methods) if methods else None
    h.update(json.dumps(_canonical(params), sort_keys=True).encode())
    return h.hexdigest()


def cached_backtest(store: Store, incidents: object, grid: Grid,
                    methods: list[str] | tuple[str, ...] | None = None, *,
                    refresh: bool = False,
                    progress: Callable[[int, int], None] | None = None,
                    processes: int = 1,
                    **kwargs: Any) -> tuple[BacktestResult, bool]:
    """``backtest(incidents, grid, methods, **kwargs)`` from the store's cache when the same
    data and parameters were backtested before, else computed and stored. Returns the result
    and whether it came from the cache. ``refresh``: compute again (and replace).
    ``processes`` (worker processes of the backtest) does not change the answer and is not
    part of the key."""
    from ..store.backtests import get_backtest, put_backtest

    key = backtest_key(incidents, grid, methods, **kwargs)
    if not refresh:
        found = get_backtest(store, key)
        if found is not None:
            return found, True
    if progress is not None:
        kwargs["progress"] = progress
    result = backtest(incidents, grid, methods, processes=processes, **kwargs)
    put_backtest(store, key, result)
    return result, False
