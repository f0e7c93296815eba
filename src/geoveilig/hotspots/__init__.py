"""Hotspot estimates per crime type, with an honest backtest.

Library first; the CLI (``geoveilig hotspots``/``geoveilig backtest``) and the API only call it.
The engine is generic: points in any projected CRS in metres and any study-area polygon(s).

Typical use::

    from geoveilig.hotspots import make_grid, backtest, hotspot_surface
    grid = make_grid(areas)                      # 125 m cells tagged with buurt/wijk
    result = backtest(incidents, grid)           # rolling origins, all methods + naive
    print(result.summary, result.verdict)
    gdf = hotspot_surface(incidents, grid, "best", backtest=result)

Modules: :mod:`.grid`, :mod:`.kde`, :mod:`.prospective`, :mod:`.gistar`, :mod:`.learned`,
:mod:`.combined` (the stacked default and the choices made from the past),
:mod:`.emerging`, :mod:`.nearrepeat`, :mod:`.metrics`, :mod:`.backtesting` (the
:func:`backtest` function), :mod:`.surface`,
:mod:`.plot`, :mod:`.simulate` (seeded test processes).
"""

from .backtesting import (
    COVERAGES,
    DEFAULT_METHODS,
    BacktestResult,
    SuccessCriterion,
    backtest,
    backtest_by_crime_type,
    rolling_origins,
)
from .emerging import CATEGORIES, CATEGORY_LABELS, EmergingResult, emerging_hotspots, mann_kendall
from .events import Events, InsufficientData, as_events, format_window, history, parse_window
from .gistar import CLASS_LABELS, GiStar, benjamini_hochberg, gi_star, gi_star_z
from .grid import Grid, make_grid
from .kde import BANDWIDTH_RULES, kde_grid, kde_lattice, select_bandwidth
from .methods import METHOD_LABELS, METHODS, get_method, run_method
from .metrics import captured, scores
from .nearrepeat import (
    NearRepeatExtent,
    NearRepeatResult,
    elevated_extent,
    knox_test,
    recommended_bandwidths,
)
from .plot import plot_backtest
from .prospective import prospective_risk
from .surface import default_origin, hotspot_surface, risk_by_area, write_surface

__all__ = [
    "BANDWIDTH_RULES", "CATEGORIES", "CATEGORY_LABELS", "CLASS_LABELS", "COVERAGES",
    "DEFAULT_METHODS", "METHODS", "METHOD_LABELS", "BacktestResult", "EmergingResult",
    "Events", "GiStar", "Grid", "InsufficientData", "NearRepeatExtent", "NearRepeatResult",
    "SuccessCriterion", "as_events", "backtest", "backtest_by_crime_type", "benjamini_hochberg",
    "captured",
    "default_origin", "elevated_extent", "emerging_hotspots", "format_window", "get_method",
    "gi_star", "gi_star_z", "history", "hotspot_surface", "kde_grid", "kde_lattice",
    "knox_test", "make_grid", "mann_kendall", "parse_window", "plot_backtest",
    "prospective_risk", "recommended_bandwidths", "risk_by_area", "rolling_origins", "run_method",
    "scores",
    "select_bandwidth", "write_surface",
]
