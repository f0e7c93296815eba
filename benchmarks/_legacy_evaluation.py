"""REFERENCE ONLY (benchmarks): the effect evaluation as it was before issue 15, kept so
``bench_evaluation.py`` can show its false alarms side by side with the current design.

Did a deployment help? Difference-in-differences on incident counts.

For a deployment with a place (an area polygon, or a point plus radius) and a period, the
incidents in the covered area *before* and *during* (and *after*, when the deployment ended and
the data reach further) are compared with matched control cells: grid cells outside the area
(and outside a buffer against displacement) whose count in the years before that is most
like that of the covered cells. The estimate is the ratio of rate ratios

    RR = (treated during / treated before) / (control during / control before)

with a 95% confidence interval for log RR from Poisson counts, widened by the over-dispersion
(negative-binomial-like extra variation) measured on the control cells. ``RR - 1`` is the
relative change attributable to the deployment. The verdict is plain Dutch and says
"te vroeg om te zeggen" when the data cannot tell (too few incidents or a wide interval).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.stats import norm

from geoveilig.errors import CrsError, InvalidInput
from geoveilig.times import local_timestamp

__all__ = ["EffectEstimate", "evaluate_deployment"]

TimeLike = date | datetime | str | pd.Timestamp


@dataclass(frozen=True)
class EffectEstimate:
    """Result of ``evaluate_deployment``. ``rate_ratio`` < 1 means fewer incidents than the
    controls predict; ``estimate = rate_ratio - 1`` (e.g. -0.30 = 30% fewer)."""

    estimate: float
    rate_ratio: float
    ci_low: float
    ci_high: float
    verdict: str
    label: str  # "daling", "stijging", "geen aantoonbaar effect", "te vroeg om te zeggen"
    conclusive: bool
    counts: pd.DataFrame  # rows treated/control, columns before/during(/after)
    periods: dict[str, tuple[str, str]]
    n_treated_cells: int
    n_control_cells: int
    dispersion: float
    after: EffectEstimate | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, object]:
        return {"estimate": self.estimate, "rate_ratio": self.rate_ratio,
                "ci_low": self.ci_low, "ci_high": self.ci_high, "verdict": self.verdict,
                "label": self.label, "conclusive": self.conclusive,
                "counts": self.counts.to_dict(), "periods": self.periods,
                "n_treated_cells": self.n_treated_cells,
                "n_control_cells": self.n_control_cells, "dispersion": self.dispersion}


def _ts(value: TimeLike, what: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{what}: ongeldige datum '{value}'") from exc
    return local_timestamp(ts)


def _pct(x: float) -> str:
    return f"{100 * x:+.0f}%"


def _verdict(rr: float, lo: float, hi: float, n_treated: float, n_control: float,
             min_incidents: int,
             max_ci_ratio: float, ongoing: bool) -> tuple[str, str, bool]:
    tail = " De inzet loopt nog; kijk later opnieuw." if ongoing else ""
    ci = f"(95%-betrouwbaarheidsinterval {_pct(lo - 1)} tot {_pct(hi - 1)})"
    if n_treated < min_incidents or n_control < min_incidents:
        return ("te vroeg om te zeggen",
                f"Te vroeg om te zeggen: in het gebied zijn maar {int(n_treated)} incidenten "
                f"geteld (voor en tijdens samen); daarmee is geen effect vast te stellen.{tail}",
                False)
    if hi < 1:
        return ("daling",
                f"Waarschijnlijk effect: tijdens de inzet ongeveer {_pct(rr - 1)} incidenten "
                f"vergeleken met wat vergelijkbare gebieden doen vermoeden {ci}.{tail}", True)
    if lo > 1:
        return ("stijging",
                f"Meer incidenten dan verwacht: ongeveer {_pct(rr - 1)} vergeleken met "
                f"vergelijkbare gebieden {ci}; de inzet heeft geen daling opgeleverd.{tail}",
                True)
    if hi / lo > max_ci_ratio:
        return ("te vroeg om te zeggen",
                f"Te vroeg om te zeggen: de schatting ({_pct(rr - 1)}) is te onzeker {ci}; "
                f"er zijn meer maanden gegevens nodig.{tail}", False)
    return ("geen aantoonbaar effect",
            f"Geen aantoonbaar effect: het verschil met vergelijkbare gebieden ({_pct(rr - 1)}) "
            f"valt binnen het toeval {ci}.{tail}", True)


def evaluate_deployment(
    incidents: gpd.GeoDataFrame,
    *,
    start: TimeLike,
    end: TimeLike | None = None,
    area: shapely.Geometry | None = None,
    point: tuple[float, float] | shapely.Point | None = None,
    radius: float | None = None,
    crime_types: list[str] | tuple[str, ...] | None = None,
    before_days: int | None = None,
    baseline_days: int = 730,
    data_end: TimeLike | None = None,
    cell_size: float = 125.0,
    buffer_m: float = 250.0,
    n_controls: int | None = None,
    min_incidents: int = 10,
    max_ci_ratio: float = 2.5,
) -> EffectEstimate:
    """Effect of a deployment on the incidents of ``crime_types`` (all when None).

    The place is ``area`` (polygon, RD metres) or ``point`` + ``radius``. The period runs from
    ``start`` to ``end`` (None or later than ``data_end`` = still running: up to ``data_end``,
    default the last incident). *Before* has the same length as *during* unless ``before_days``
    is given; *after* (when ``end`` lies before ``data_end``) runs from ``end`` for at most the
    same length. Control cells are ``n_controls`` (default 5 x the covered cells, at least 20)
    grid cells of ``cell_size`` m outside the area + ``buffer_m``, matched on their count in the
    ``baseline_days`` that precede the before-period."""
    if incidents.crs is None or incidents.crs.to_epsg() != 28992:
        raise CrsError("incidenten: verwacht EPSG:28992 (RD New) voor een effectmeting")
    if area is None:
        if point is None or radius is None:
            raise InvalidInput("geef een gebied (polygoon) of een punt met straal op")
        if float(radius) <= 0:
            raise InvalidInput(f"straal moet groter dan 0 meter zijn (kreeg {radius})")
        p = point if isinstance(point, shapely.Point) else shapely.Point(*point)
        area = p.buffer(float(radius))
    if area.is_empty or area.area <= 0:
        raise InvalidInput("het gebied van de inzet is leeg")
    inc = incidents
    if crime_types is not None:
        inc = inc.loc[inc["crime_type"].isin(list(crime_types))]
    t = pd.to_datetime(inc["occurred_at"])
    t0 = _ts(start, "start")
    last = _ts(data_end, "data_end") if data_end is not None else (
        t.max() + pd.Timedelta(seconds=1) if len(t) else t0)
    t1 = _ts(end, "end") if end is not None else last
    ongoing = end is None or t1 > last
    t1 = min(t1, last)
    if t1 <= t0:
        raise InvalidInput(f"de inzet begint ({t0.date()}) na het einde van de gegevens of van "
                           f"de inzet ({t1.date()}): er is nog niets te meten")
    during = t1 - t0
    before = pd.Timedelta(days=before_days) if before_days else during
    periods = {"before": (t0 - before, t0), "during": (t0, t1)}
    if not ongoing and last > t1:
        periods["after"] = (t1, min(last, t1 + during))
    # matching baseline: the years *before* the before-period (matching on the before-period
    # itself would bias the comparison through regression to the mean)
    base = (t0 - before - pd.Timedelta(days=baseline_days), t0 - before)

    # grid cells over the data extent (and the area)
    x = inc.geometry.x.to_numpy()
    y = inc.geometry.y.to_numpy()
    ax0, ay0, ax1, ay1 = area.bounds
    x0 = np.floor(min(x.min() if len(x) else ax0, ax0) / cell_size) * cell_size
    y0 = np.floor(min(y.min() if len(y) else ay0, ay0) / cell_size) * cell_size
    nx = int(np.ceil((max(x.max() if len(x) else ax1, ax1) - x0) / cell_size)) + 1
    ny = int(np.ceil((max(y.max() if len(y) else ay1, ay1) - y0) / cell_size)) + 1
    cell = (np.floor((x - x0) / cell_size).astype(np.int64) * ny
            + np.floor((y - y0) / cell_size).astype(np.int64))
    n_cells = nx * ny
    gx, gy = np.meshgrid(x0 + (np.arange(nx) + 0.5) * cell_size,
                         y0 + (np.arange(ny) + 0.5) * cell_size, indexing="ij")
    centres = shapely.points(gx.ravel(), gy.ravel())
    shapely.prepare(area)
    treated_cell = shapely.contains(area, centres)
    # incidents inside the area count for the treated group (exact), cells for the controls
    inside = shapely.contains_xy(area, x, y)
    near = shapely.dwithin(area, centres, buffer_m + cell_size / np.sqrt(2))
    if not treated_cell.any():
        treated_cell[np.argmin(shapely.distance(area.centroid, centres))] = True

    def count(lo: pd.Timestamp, hi: pd.Timestamp, mask: np.ndarray | None = None) -> np.ndarray:
        sel = ((t >= lo) & (t < hi)).to_numpy()
        if mask is not None:
            sel &= mask
        return np.bincount(cell[sel], minlength=n_cells)

    base_counts = count(*base)
    n_t = int(treated_cell.sum())
    ctrl_pool = np.flatnonzero(~near & ~treated_cell)
    if len(ctrl_pool) == 0:
        raise InvalidInput("geen controlecellen buiten het gebied: het gebied beslaat alle data")
    target = base_counts[treated_cell].mean()
    n_c = min(len(ctrl_pool), n_controls or max(20, 5 * n_t))
    # match on the baseline level (log scale), ties broken by cell id for determinism
    dist = np.abs(np.log1p(base_counts[ctrl_pool]) - np.log1p(target))
    ordered = ctrl_pool[np.lexsort((ctrl_pool, dist))]
    # enough control incidents: the controls' before-count must reach 2x the treated one
    b_lo, b_hi = periods["before"]
    tr_before = float(np.sum(((t >= b_lo) & (t < b_hi)).to_numpy() & inside))
    cum = np.cumsum(count(b_lo, b_hi)[ordered])
    enough = np.flatnonzero(cum >= max(2 * tr_before, 4 * min_incidents))
    n_c = max(n_c, int(enough[0]) + 1 if len(enough) else len(ordered))
    ctrl = ordered[:n_c]

    table = {}
    per_cell = {}
    for name, (lo, hi) in periods.items():
        table[name] = (float(np.sum(((t >= lo) & (t < hi)).to_numpy() & inside)),
                       float(count(lo, hi)[ctrl].sum()))
        per_cell[name] = count(lo, hi)[ctrl]
    counts = pd.DataFrame(table, index=["treated", "control"])

    # over-dispersion of the change between before and during across control cells
    cb, cd = per_cell["before"].astype(float), per_cell["during"].astype(float)
    n_i = cb + cd
    use = n_i > 0
    phi = 1.0
    if use.sum() > 2 and cd.sum() > 0 and cb.sum() > 0:
        pi = cd.sum() / n_i.sum()
        x2 = np.sum((cd[use] - n_i[use] * pi) ** 2 / (n_i[use] * pi * (1 - pi)))
        phi = max(1.0, float(x2 / (use.sum() - 1)))

    def did(after_name: str) -> tuple[float, float, float, float, float]:
        tb, cb_ = counts.loc["treated", "before"], counts.loc["control", "before"]
        ta, ca = counts.loc["treated", after_name], counts.loc["control", after_name]
        tb, cb_, ta, ca = (v + 0.5 for v in (tb, cb_, ta, ca))  # continuity correction
        log_rr = np.log(ta / tb) - np.log(ca / cb_)
        se = np.sqrt(phi * (1 / ta + 1 / tb + 1 / ca + 1 / cb_))
        z = norm.ppf(0.975)
        n_treated = counts.loc["treated", "before"] + counts.loc["treated", after_name]
        n_control = min(counts.loc["control", "before"], counts.loc["control", after_name])
        return float(np.exp(log_rr)), float(np.exp(log_rr - z * se)), \
            float(np.exp(log_rr + z * se)), float(n_treated), float(n_control)

    iso = {k: (a.date().isoformat(), b.date().isoformat()) for k, (a, b) in periods.items()}
    rr, lo, hi, n_tr, n_co = did("during")
    label, verdict, conclusive = _verdict(rr, lo, hi, n_tr, n_co, min_incidents, max_ci_ratio,
                                          ongoing)
    after = None
    if "after" in periods:
        rr_a, lo_a, hi_a, n_a, n_ca = did("after")
        lab_a, ver_a, con_a = _verdict(rr_a, lo_a, hi_a, n_a, n_ca, min_incidents, max_ci_ratio,
                                       False)
        after = EffectEstimate(
            estimate=rr_a - 1, rate_ratio=rr_a, ci_low=lo_a, ci_high=hi_a,
            verdict="Na afloop: " + ver_a, label=lab_a, conclusive=con_a, counts=counts,
            periods=iso, n_treated_cells=n_t, n_control_cells=len(ctrl), dispersion=phi)
    return EffectEstimate(
        estimate=rr - 1, rate_ratio=rr, ci_low=lo, ci_high=hi, verdict=verdict, label=label,
        conclusive=conclusive, counts=counts, periods=iso, n_treated_cells=n_t,
        n_control_cells=len(ctrl), dispersion=phi, after=after)
