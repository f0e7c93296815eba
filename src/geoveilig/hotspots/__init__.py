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

import importlib
from typing import Any

#: public name -> the submodule that defines it. The submodules are imported on first use
#: (PEP 562), so ``from geoveilig.hotspots import make_grid`` (the alerts of an import) does not
#: load scipy.stats, scikit-learn and matplotlib of the methods, the backtest and the plots.
_LAZY: dict[str, str] = {
    **dict.fromkeys(("COVERAGES", "DEFAULT_METHODS", "BacktestResult", "SuccessCriterion",
                     "backtest", "backtest_by_crime_type", "rolling_origins"), "backtesting"),
    **dict.fromkeys(("CATEGORIES", "CATEGORY_LABELS", "EmergingResult", "emerging_hotspots",
                     "mann_kendall"), "emerging"),
    **dict.fromkeys(("Events", "InsufficientData", "as_events", "format_window", "history",
                     "parse_window"), "events"),
    **dict.fromkeys(("CLASS_LABELS", "GiStar", "gi_star", "gi_star_z"), "gistar"),
    "benjamini_hochberg": "fdr",
    **dict.fromkeys(("Grid", "make_grid"), "grid"),
    **dict.fromkeys(("BANDWIDTH_RULES", "kde_grid", "kde_lattice", "select_bandwidth"), "kde"),
    **dict.fromkeys(("METHOD_LABELS", "METHODS", "get_method", "run_method"), "methods"),
    **dict.fromkeys(("captured", "scores"), "metrics"),
    **dict.fromkeys(("NearRepeatExtent", "NearRepeatResult", "elevated_extent", "knox_test",
                     "recommended_bandwidths"), "nearrepeat"),
    "plot_backtest": "plot",
    "prospective_risk": "prospective",
    **dict.fromkeys(("default_origin", "hotspot_surface", "risk_by_area", "write_surface"),
                    "surface"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
