"""The method interface and the registry of forecasting methods.

A method is a function ``f(incidents, grid, origin, window, **params) -> np.ndarray`` returning
one risk value per active cell of ``grid`` (higher = more risk) for the window
``[origin, origin + window)``. ``incidents`` is an incident GeoDataFrame or
:class:`~geoveilig.hotspots.events.Events`; every method itself keeps only the events strictly
before ``origin`` (:func:`~geoveilig.hotspots.events.history`), so passing later data cannot
change its answer (the leakage test checks this for every method).

Methods:

``naive``
    the count per cell in the last period before the origin (``lookback``; default ``auto``:
    chosen by rolling likelihood before the origin). The baseline always in the backtest.
``kde``
    retrospective kernel density of the events in ``lookback`` (default 365 days) before the
    origin; ``bandwidth`` ``likelihood`` (default: metres chosen by rolling likelihood before
    the origin), a rule or metres (see :mod:`.kde`). Risk = expected events per cell.
``prospective``
    Bowers-Johnson-Pease near-repeat weighting (:mod:`.prospective`).
``gistar``
    Getis-Ord Gi* z-score of the counts in ``lookback`` (default 365 days) (:mod:`.gistar`).
``learned``
    gradient boosting on lagged counts (:mod:`.learned`).
``emerging``
    final-bin space-time Gi* z of the emerging hot spot analysis (:mod:`.emerging`).
``combined``
    the stacked forecast of recent counts, near repeats, KDE and the learned model, weights
    fitted on rolling windows before the origin (:mod:`.combined`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..errors import InvalidInput
from .combined import choose_bandwidth, choose_lookback, method_combined
from .emerging import method_emerging
from .events import history, parse_window, to_epoch
from .gistar import gi_star
from .grid import Grid
from .kde import kde_grid
from .learned import method_learned
from .prospective import method_prospective

Method = Callable[..., np.ndarray]


def method_naive(incidents: object, grid: Grid, origin: pd.Timestamp, window: pd.Timedelta,
                 *, lookback: object | None = "auto") -> np.ndarray:
    """Counts per cell in ``[origin - lookback, origin)``; ``lookback="auto"`` (default) is
    chosen by rolling likelihood on the windows before the origin
    (:func:`~geoveilig.hotspots.combined.choose_lookback`), ``None`` = the window."""
    ev = history(incidents, origin, crs=grid.crs, min_events=1, method="naive")
    if isinstance(lookback, str) and lookback == "auto":
        from .events import as_events

        full = as_events(incidents, grid.crs)
        days = choose_lookback(full, grid, to_epoch(origin),
                               int(window.total_seconds())).value
        lb = pd.Timedelta(days=days)
    else:
        lb = window if lookback is None else parse_window(lookback, "lookback")
    return grid.counts(ev.between(pd.Timestamp(origin) - lb, origin))


def method_kde(incidents: object, grid: Grid, origin: pd.Timestamp, window: pd.Timedelta,
               *, lookback: object = "365d", bandwidth: str | float = "likelihood",
               oversample: int | None = None) -> np.ndarray:
    """Expected events per cell from a Gaussian KDE of the events in the lookback period;
    ``bandwidth="likelihood"`` (default): metres chosen by rolling likelihood on the windows
    before the origin (:func:`~geoveilig.hotspots.combined.choose_bandwidth`)."""
    ev = history(incidents, origin, crs=grid.crs, min_events=1, method="kde")
    lb = parse_window(lookback, "lookback")
    recent = ev.between(pd.Timestamp(origin) - lb, origin)
    if len(recent) == 0:
        return np.zeros(grid.n_cells)
    if bandwidth == "likelihood":
        from .events import as_events

        full = as_events(incidents, grid.crs)
        bandwidth = choose_bandwidth(full, grid, to_epoch(origin), int(window.total_seconds()),
                                     lookback_days=lb / pd.Timedelta(days=1)).value
    dens, _ = kde_grid(recent, grid, bandwidth, oversample=oversample)
    return dens * grid.cell_area


def method_gistar(incidents: object, grid: Grid, origin: pd.Timestamp, window: pd.Timedelta,
                  *, lookback: object = "365d", neighbour_distance: float | None = None,
                  alpha: float = 0.05) -> np.ndarray:
    """Gi* z-score of the cell counts in the lookback period."""
    ev = history(incidents, origin, crs=grid.crs, min_events=1, method="gistar")
    lb = parse_window(lookback, "lookback")
    y = grid.counts(ev.between(pd.Timestamp(origin) - lb, origin))
    return gi_star(y, grid.neighbours(neighbour_distance), alpha=alpha).z


METHODS: dict[str, Method] = {
    "naive": method_naive,
    "kde": method_kde,
    "prospective": method_prospective,
    "gistar": method_gistar,
    "learned": method_learned,
    "emerging": method_emerging,
    "combined": method_combined,
}

#: Dutch names for reports and maps.
METHOD_LABELS = {
    "naive": "naïef (aantallen vorige periode)",
    "kde": "kerndichtheid (retrospectief)",
    "prospective": "prospectief (near-repeat)",
    "gistar": "Getis-Ord Gi*",
    "learned": "lerend model (gradient boosting)",
    "emerging": "opkomende hotspots (ruimte-tijd Gi*)",
    "combined": "gecombineerd (gestapeld: herhaling, near-repeat, KDE, lerend model)",
}


def get_method(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise InvalidInput(f"onbekende methode {name!r}; kies uit {', '.join(METHODS)}",
                           where="method") from None


def run_method(name: str, incidents: object, grid: Grid, origin: object, window: object,
               params: dict[str, object] | None = None) -> np.ndarray:
    """Run a registered method with parsed origin/window; the result has one finite value per
    active cell."""
    from .events import as_timestamp

    fn = get_method(name)
    risk = np.asarray(fn(incidents, grid, as_timestamp(origin), parse_window(window),
                         **(params or {})), float)
    if risk.shape != (grid.n_cells,):
        raise RuntimeError(f"method {name} returned shape {risk.shape}")
    return np.nan_to_num(risk, nan=0.0, posinf=0.0, neginf=0.0)
