"""Map-ready hotspot surfaces: one GeoDataFrame row per active cell.

Columns: ``cell_id``, ``buurt_code``, ``wijk_code``, ``share_in_area``, ``risk``, ``rank``
(1 = highest risk; ties share the best rank), ``percentile`` (0-100, share of cells with a
risk at or below this one), ``gi_z``, ``gi_p``, ``gi_q`` (BH), ``gi_class``
(``hot``/``cold``/``not-significant``), ``gi_label`` (Dutch), ``gi_empty``, ``method``,
``method_label``, ``window`` (e.g. ``14d``), ``origin`` and ``window_end`` (ISO 8601), and, when a
backtest is given, ``criterion_met``, ``backtest_score``, ``backtest_low`` and ``backtest_high``.
With method ``emerging`` also ``emerging_category`` and its Dutch label.
The Gi* columns always describe the counts in ``gi_lookback`` (default 365 days) before the
origin, whatever the method. ``gdf.attrs["hotspots"]`` holds the same metadata as a dict, with
the backtest's Dutch ``verdict`` sentence: it is the same for every cell, so it is stated once,
there (and by :func:`write_surface` once per file), not in each of the ~3,800 features.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InvalidInput
from .backtesting import BacktestResult, _nl
from .combined import choices
from .emerging import CATEGORY_LABELS, emerging_hotspots
from .events import InsufficientData, as_events, as_timestamp, format_window, parse_window
from .gistar import CLASS_LABELS, gi_star
from .grid import Grid
from .methods import METHOD_LABELS, get_method, run_method


def default_origin(incidents: object) -> pd.Timestamp:
    """Midnight after the last incident (Europe/Amsterdam)."""
    ev = as_events(incidents)
    if len(ev) == 0:
        raise InsufficientData("geen incidenten om een hotspotkaart op te baseren")
    return (ev.last + pd.Timedelta(days=1)).normalize()


def hotspot_surface(
    incidents: object,
    grid: Grid,
    method: str = "prospective",
    *,
    origin: object | None = None,
    window: object = "14d",
    params: dict[str, object] | None = None,
    backtest: BacktestResult | None = None,
    gi_lookback: object = "365d",
    gi_neighbour_distance: float | None = None,
    alpha: float = 0.05,
) -> gpd.GeoDataFrame:
    """The risk surface of ``method`` for ``[origin, origin + window)`` (see module docstring).

    ``method="best"`` takes ``backtest.best_method``. Raises ``InsufficientData`` instead of
    returning a surface without information (every cell the same risk), and ``InvalidInput``
    for a backtest whose windows reach past the origin (its choice would have seen the
    future: run it with ``end=origin``)."""
    if method == "best" and backtest is None:
        raise InsufficientData("methode 'best' heeft een backtest nodig")
    ev = as_events(incidents, grid.crs)
    origin_ts = default_origin(ev) if origin is None else as_timestamp(origin)
    if backtest is not None and backtest.end > origin_ts:
        raise InvalidInput(
            f"de backtest loopt tot {backtest.end:%Y-%m-%d %H:%M}, na het startmoment "
            f"{origin_ts:%Y-%m-%d %H:%M}: de keuze zou gegevens van na het startmoment "
            "gebruiken (vooruitkijken); draai de backtest met eind = het startmoment",
            where="origin")
    if method == "best":
        method = backtest.best_method  # type: ignore[union-attr]
    get_method(method)
    win = parse_window(window)
    risk = run_method(method, ev, grid, origin_ts, win, params)
    if np.ptp(risk) == 0:
        raise InsufficientData(
            f"methode {method} geeft geen verschil tussen cellen voor {origin_ts:%Y-%m-%d} "
            "(te weinig recente incidenten); kies een andere methode of een langere periode",
            where="method")
    past = ev.before(origin_ts).between(origin_ts - parse_window(gi_lookback, "gi_lookback"),
                                        origin_ts)
    gi = gi_star(grid.counts(past), grid.neighbours(gi_neighbour_distance), alpha=alpha)
    out = grid.cells().drop(columns=["row", "col"])
    s = pd.Series(risk)
    out["risk"] = risk
    out["rank"] = s.rank(ascending=False, method="min").astype(int).to_numpy()
    out["percentile"] = (s.rank(method="max", pct=True) * 100).to_numpy()
    out["gi_z"] = gi.z
    out["gi_p"] = gi.p
    out["gi_q"] = gi.q
    out["gi_class"] = gi.classes
    out["gi_label"] = [CLASS_LABELS[c] for c in gi.classes]
    out["gi_empty"] = gi.empty
    out["method"] = method
    out["method_label"] = METHOD_LABELS.get(method, method)
    out["window"] = format_window(win)
    out["origin"] = origin_ts.isoformat()
    out["window_end"] = (origin_ts + win).isoformat()
    if method == "emerging":
        em = emerging_hotspots(ev, grid, origin_ts, **(params or {}))  # type: ignore[arg-type]
        out["emerging_category"] = em.category
        out["emerging_label"] = [CATEGORY_LABELS[c] for c in em.category]
    meta: dict[str, object] = {
        "method": method, "method_label": METHOD_LABELS.get(method, method),
        "origin": origin_ts.isoformat(), "window": format_window(win),
        "params": dict(params or {}), "cell_size": grid.cell_size, "crs": str(grid.crs),
        "n_events_before_origin": len(ev.before(origin_ts)),
        "gi_lookback": format_window(parse_window(gi_lookback)), "alpha": alpha,
    }
    chosen = choices(ev, grid, origin_ts, win, method, params)
    if chosen:
        meta["choices"] = chosen
    if backtest is not None:
        v = backtest.verdict_for(method)
        meta["backtest"] = v
        if v.get("backtested"):
            out["criterion_met"] = bool(v["criterion_met"])
            out["backtest_score"] = v["score"]
            out["backtest_low"] = v["score_low"]
            out["backtest_high"] = v["score_high"]
            meta["verdict"] = str(v["verdict"]) if method == backtest.best_method else (
                f"Methode {method}: {str(v['metric']).upper().replace('_', '@')}% = "
                f"{_nl(v['score'])} ({_nl(v['score_low'])}-{_nl(v['score_high'])}); criterium "
                f"{'gehaald' if v['criterion_met'] else 'niet gehaald'}. {backtest.verdict}")
        else:
            out["criterion_met"] = False
            meta["verdict"] = f"Methode {method} is niet getoetst in de backtest."
    out.attrs["hotspots"] = meta
    return out


def risk_by_area(surface: gpd.GeoDataFrame, level: str = "buurt") -> pd.DataFrame:
    """Aggregate a surface to buurten or wijken (by each cell's code): ``risk_sum``,
    ``risk_mean``, ``cells``, ``hot_cells`` (Gi* hot spots) and ``risk_share`` (of the total).
    For count-like methods (naive, kde, prospective, learned) ``risk_sum`` is an expected count
    or weight per area, usable e.g. for the prevention gap ranking."""
    if level not in ("buurt", "wijk"):
        raise InvalidInput(f"kies buurt of wijk, niet {level!r}", where="level")
    col = f"{level}_code"
    frame = pd.DataFrame({"code": surface[col], "risk": surface["risk"],
                          "hot": surface["gi_class"] == "hot"})
    out = frame.groupby("code", dropna=True).agg(risk_sum=("risk", "sum"),
                                                 risk_mean=("risk", "mean"),
                                                 cells=("risk", "size"),
                                                 hot_cells=("hot", "sum")).reset_index()
    total = out["risk_sum"].sum()
    out["risk_share"] = out["risk_sum"] / total if total else np.nan
    return out.sort_values("risk_sum", ascending=False, ignore_index=True)


def _plain(value: object) -> object:
    """``value`` as strict JSON takes it (NaN/inf -> null, numpy scalars unwrapped)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_surface(surface: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write a surface to GeoJSON (``.geojson``/``.json``) or GeoPackage (``.gpkg``) in its
    CRS, with the metadata of ``surface.attrs["hotspots"]`` (method, origin, window, the
    backtest and its verdict) stated once: a top-level ``metadata`` member of the GeoJSON
    FeatureCollection, or the layer's metadata in the GeoPackage."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = _plain(surface.attrs.get("hotspots", {}))
    frame = surface.copy()
    frame.attrs = {}
    if path.suffix.lower() == ".gpkg":
        path.unlink(missing_ok=True)
        frame.to_file(path, driver="GPKG", layer="hotspots", engine="pyogrio",
                      layer_metadata={"geoveilig_hotspots": json.dumps(meta, ensure_ascii=False)})
        return path
    frame.to_file(path, driver="GeoJSON")
    # the member goes right after the opening brace of GDAL's FeatureCollection (no re-parse of
    # the megabytes of features)
    text = path.read_text(encoding="utf-8")
    start = text.index("{") + 1
    member = '"metadata": ' + json.dumps(meta, ensure_ascii=False, allow_nan=False) + ",\n"
    path.write_text(text[:start] + "\n" + member + text[start:].lstrip("\n"), encoding="utf-8")
    return path
