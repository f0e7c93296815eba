"""Did a deployment help? A comparison that stays valid when the place was chosen *because*
crime had just been high there (see ``docs/evaluation.md``).

Deployments go where crime was just high, so the weeks before a deployment are a peak and the
weeks after fall back by themselves (regression to the mean). Comparing *during* with the weeks
just before therefore shows a "daling" where nothing happened. The design here:

* **before** is a long pre-period (default 365 days) that ends where the *selection window*
  begins (default the 91 days before the start, the weeks a planner looks at): the peak that
  chose the place is not used as the baseline;
* **controls** are chosen by the rule that chose the deployed place: for a site from a stored
  planning run the sites ranked just below it in that run (:func:`controls_from_plan`), else
  places of the same shape with the same risk at the same moment by the tool's own risk model
  (recency-weighted counts, only incidents before the start: no look-ahead)
  (:func:`controls_by_risk`). Places that share the selection share its aftermath (a near-repeat
  burst dies down in both), which the comparison then cancels. No usable control gives
  "geen vergelijkingsgebied" with the reason, never an arbitrary comparison;
* **inference on counts** (the estimate is the difference-in-differences RRR; every check
  below can only make the verdict more cautious): the ratio of rate ratios
  ``RRR = (treated during / treated before) / (controls during / controls before)``, a
  log-linear Poisson model whose variance is scaled by the over-dispersion measured between the
  control sites (quasi-Poisson, at least 1), with a t interval (degrees of freedom from the
  controls), combined with the exact conditional test of the 2 x 2 table (Fisher; its
  conditional odds ratio is the RRR) for small counts: the larger p and the wider interval;
* **power**: the minimal detectable effect (80% power, two-sided 5%) at these counts. A result
  that is not significant while that MDE exceeds ``max_mde`` is "te vroeg om te zeggen" with
  that number as the reason ("met deze aantallen is een daling kleiner dan X% niet te
  onderscheiden van toeval").

The false-alarm rate of this procedure under no true effect, with placements by the tool's own
planner on simulated Helmond burglary, is measured by ``benchmarks/bench_evaluation.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import ndimage
from scipy.stats import fisher_exact, norm
from scipy.stats import t as student_t
from scipy.stats.contingency import odds_ratio

from .. import RD_NEW
from ..errors import InvalidInput
from ..hotspots.grid import Grid
from ..spatial import require_rd
from ..times import parse_local

__all__ = ["ControlSet", "EffectEstimate", "controls_by_risk", "controls_from_plan",
           "evaluate_deployment"]

TimeLike: TypeAlias = date | datetime | str | pd.Timestamp

#: Labels of the verdict.
LABELS = ("daling", "stijging", "geen aantoonbaar effect", "te vroeg om te zeggen",
          "geen vergelijkingsgebied", "onvoldoende gegevens")

DESIGN = ("verschil-in-verschillen op aantallen: lange voorperiode vóór het selectievenster, "
          "controleplaatsen gekozen met dezelfde regel als de ingezette plaats, "
          "quasi-Poisson-toets (overdispersie tussen de controleplaatsen)")


@dataclass(frozen=True)
class ControlSet:
    """Control places for an effect evaluation: ``areas`` (polygons in RD, with ``rank`` or
    ``risk``), the Dutch ``rule`` that chose them and, when there are none, the ``reason``."""

    areas: gpd.GeoDataFrame
    rule: str
    reason: str = ""

    @property
    def empty(self) -> bool:
        return len(self.areas) == 0


@dataclass(frozen=True)
class EffectEstimate:
    """Result of ``evaluate_deployment``. ``rate_ratio`` < 1 means fewer incidents than the
    controls predict; ``estimate = rate_ratio - 1`` (e.g. -0.30 = 30% fewer). ``mde`` is the
    decline (as a positive share) these counts detect with 80% power; ``placed_by_tool`` says
    whether the place came from a stored planning run (controls = the sites ranked below it)."""

    estimate: float
    rate_ratio: float
    ci_low: float
    ci_high: float
    verdict: str
    label: str  # one of LABELS
    conclusive: bool
    counts: pd.DataFrame  # rows treated/control, columns before/during(/after)
    periods: dict[str, tuple[str, str]]
    n_treated_cells: int
    n_control_cells: int
    dispersion: float
    p_value: float = float("nan")
    mde: float = float("nan")
    design: str = DESIGN
    control_rule: str = ""
    controls_reason: str = ""
    placed_by_tool: bool = False
    after: EffectEstimate | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, object]:
        def num(v: float) -> float | None:
            return float(v) if np.isfinite(v) else None

        return {"estimate": num(self.estimate), "rate_ratio": num(self.rate_ratio),
                "ci_low": num(self.ci_low), "ci_high": num(self.ci_high),
                "p_value": num(self.p_value), "mde": num(self.mde), "verdict": self.verdict,
                "label": self.label, "conclusive": self.conclusive,
                "counts": self.counts.to_dict(), "periods": self.periods,
                "n_treated_cells": self.n_treated_cells,
                "n_control_cells": self.n_control_cells, "dispersion": self.dispersion,
                "design": self.design, "control_rule": self.control_rule,
                "controls_reason": self.controls_reason,
                "placed_by_tool": self.placed_by_tool,
                "after": self.after.as_dict() if self.after is not None else None}


def _ts(value: TimeLike, what: str) -> pd.Timestamp:
    return parse_local(value, where=what)


def _pct(x: float) -> str:
    return f"{100 * x:+.0f}%"


# ---------------------------------------------------------------------------------------------
# Controls
# ---------------------------------------------------------------------------------------------
def controls_from_plan(
    plan_sites: gpd.GeoDataFrame,
    deployed_rank: int,
    *,
    radius: float | None = None,
    n_controls: int = 10,
    exclude_ranks: list[int] | tuple[int, ...] = (),
    buffer_m: float = 250.0,
) -> ControlSet:
    """Controls for a site of a stored planning run: the sites ranked just below
    ``deployed_rank`` in the same run (``plan_sites``: columns ``rank`` and ``geometry``, RD
    points; ``radius_m`` per site when present, else ``radius``), at most ``n_controls``,
    skipping ``exclude_ranks`` (sites that were deployed too) and sites whose circle lies within
    ``buffer_m`` of the deployed circle (displacement would contaminate them)."""
    if "rank" not in plan_sites.columns:
        raise InvalidInput("planning: de plaatsen missen de kolom rank")
    require_rd(plan_sites, "planning (plaatsen)")
    sites = plan_sites.assign(rank=pd.to_numeric(plan_sites["rank"], errors="coerce"))
    own = sites.loc[sites["rank"] == int(deployed_rank)]
    if own.empty:
        raise InvalidInput(f"planning: geen plaats met rang {deployed_rank}")

    def disc(row: pd.Series) -> shapely.Geometry:
        r = row.get("radius_m") if "radius_m" in row.index else None
        r = float(r) if r is not None and pd.notna(r) and float(r) > 0 else radius
        if r is None:
            raise InvalidInput("planning: geef de straal op (geen kolom radius_m)")
        return row.geometry.buffer(float(r))

    treated = disc(own.iloc[0]).buffer(buffer_m)
    rule = (f"de plaatsen direct onder rang {deployed_rank} in dezelfde planning "
            f"(dezelfde selectieregel), op meer dan {buffer_m:g} m van de inzet")
    below = sites.loc[(sites["rank"] > int(deployed_rank))
                      & ~sites["rank"].isin([int(r) for r in exclude_ranks])].sort_values("rank")
    rows: list[int] = []
    geoms: list[shapely.Geometry] = []
    skipped = 0
    for _, row in below.iterrows():
        g = disc(row)
        if g.intersects(treated) or any(g.intersects(o) for o in geoms):
            skipped += 1
            continue
        rows.append(int(row["rank"]))
        geoms.append(g)
        if len(rows) >= n_controls:
            break
    reason = ""
    if not rows:
        reason = (f"geen vergelijkingsgebied: de planning heeft geen plaatsen onder rang "
                  f"{deployed_rank}" + (f" buiten de bufferzone ({skipped} te dichtbij)"
                                        if skipped else "")
                  + "; plan meer plaatsen dan er worden ingezet om een vergelijking te hebben")
    return ControlSet(gpd.GeoDataFrame({"rank": rows}, geometry=geoms, crs=RD_NEW), rule,
                      reason)


def controls_by_risk(
    incidents: gpd.GeoDataFrame,
    area: shapely.Geometry,
    moment: TimeLike,
    *,
    n_controls: int = 10,
    cell_size: float = 125.0,
    buffer_m: float = 250.0,
    lookback_days: float = 365.0,
    half_life_days: float = 60.0,
) -> ControlSet:
    """Controls for a place that was not chosen by a stored plan: copies of ``area`` moved over
    the grid whose risk at ``moment`` is closest to the area's own, by the tool's own risk model
    (recency-weighted counts per cell as in ``placement.interim``: incidents in the
    ``lookback_days`` before ``moment``, half-life ``half_life_days``; nothing after it). The
    copies keep ``buffer_m`` from the area and do not overlap each other."""
    require_rd(incidents, "incidenten (controlegebieden)")
    t0 = _ts(moment, "moment")
    rule = (f"plaatsen met hetzelfde risico op {t0.date()} volgens het eigen risicomodel "
            f"(recentheidsgewogen aantallen, {lookback_days:g} dagen terug, alleen gegevens "
            f"van vóór de start), op meer dan {buffer_m:g} m van de inzet")
    t = pd.to_datetime(incidents["occurred_at"])
    age = ((t0 - t) / pd.Timedelta(days=1)).to_numpy(dtype=float)
    recent = (age > 0) & (age <= lookback_days)
    x = incidents.geometry.x.to_numpy()
    y = incidents.geometry.y.to_numpy()
    empty = gpd.GeoDataFrame({"risk": []}, geometry=[], crs=RD_NEW)
    if not recent.any():
        return ControlSet(empty, rule, f"geen vergelijkingsgebied: geen incidenten in de "
                                       f"{lookback_days:g} dagen vóór {t0.date()}, dus geen "
                                       "risico om plaatsen op te vergelijken")
    ax0, ay0, ax1, ay1 = area.bounds
    grid = Grid.over_bounds((min(x.min(), ax0), min(y.min(), ay0),
                             max(x.max(), ax1), max(y.max(), ay1)), cell_size, RD_NEW,
                            extra_cells=1)
    nx, ny, x0, y0 = grid.nx, grid.ny, grid.x0, grid.y0
    cell = grid.cell_of(x, y)  # every incident lies on this grid

    def raster(values: np.ndarray) -> np.ndarray:
        """Per-cell values as an (nx, ny) array indexed [column, row]."""
        return grid.to_raster(values).T

    w = 0.5 ** (age[recent] / half_life_days)
    risk = raster(np.bincount(cell[recent], weights=w, minlength=grid.n_cells))
    # cells with any incident at all before the moment
    seen = raster(np.bincount(cell[age > 0], minlength=grid.n_cells).astype(float)) > 0
    # the area as a footprint of cells (centres inside; at least the nearest cell)
    inside = shapely.contains_xy(area, raster(grid.cx), raster(grid.cy))
    if not inside.any():
        c = area.centroid
        inside[int((c.x - x0) // cell_size), int((c.y - y0) // cell_size)] = True
    ii, jj = np.nonzero(inside)
    ci, cj = int(np.round(ii.mean())), int(np.round(jj.mean()))
    fp = np.zeros((2 * max(ci - ii.min(), ii.max() - ci) + 1,
                   2 * max(cj - jj.min(), jj.max() - cj) + 1), dtype=bool)
    hi_, hj_ = fp.shape[0] // 2, fp.shape[1] // 2
    fp[ii - ci + hi_, jj - cj + hj_] = True
    own = float(risk[inside].sum())
    window = ndimage.correlate(risk, fp.astype(float), mode="constant", cval=0.0)
    covered = ndimage.correlate(seen.astype(float), fp.astype(float), mode="constant") > 0
    # candidate centres: the whole footprint on the grid, somewhere incidents were ever seen
    ok = covered.copy()
    ok[:hi_, :] = ok[nx - (fp.shape[0] - hi_) + 1:, :] = False
    ok[:, :hj_] = ok[:, ny - (fp.shape[1] - hj_) + 1:] = False
    shift_x = (np.arange(nx) - ci) * cell_size
    shift_y = (np.arange(ny) - cj) * cell_size
    zone = area.buffer(buffer_m)
    cand_i, cand_j = np.nonzero(ok)
    order = np.lexsort((cand_j, cand_i, np.abs(window[cand_i, cand_j] - own)))
    geoms: list[shapely.Geometry] = []
    risks: list[float] = []
    for k in order:
        i, j = int(cand_i[k]), int(cand_j[k])
        if i == ci and j == cj:
            continue
        g = shapely.affinity.translate(area, float(shift_x[i]), float(shift_y[j]))
        if g.intersects(zone) or any(g.intersects(o) for o in geoms):
            continue
        geoms.append(g)
        risks.append(float(window[i, j]))
        if len(geoms) >= n_controls:
            break
    reason = "" if geoms else ("geen vergelijkingsgebied: er is buiten de bufferzone geen "
                               "plaats van deze vorm met gegevens")
    return ControlSet(gpd.GeoDataFrame({"risk": risks}, geometry=geoms, crs=RD_NEW), rule,
                      reason)


# ---------------------------------------------------------------------------------------------
# Inference
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Test:
    rr: float
    lo: float
    hi: float
    p: float
    mde: float


def _selection_adjusted(tb: float, ts: float, td: float, cb: np.ndarray, cs: np.ndarray,
                        cd: np.ndarray, ratio: float, alpha: float, power: float
                        ) -> tuple[_Test, float] | None:
    """The explicit selection correction: a quasi-Poisson log-linear model over the treated
    and the control sites, ``log E[during_i] = log(before_i + 0.5) + log(ratio) + b0
    + b1 * x_i + delta * treated_i`` with ``x_i`` the log excess of the selection window over
    the pre-period (how hot the site was when it was chosen). The controls give ``b1``: how
    much of a selection peak carries over into the next weeks (near-repeat) or falls back
    (regression to the mean); ``exp(delta)`` is the treated site's ratio beyond that. None
    when the model cannot be fitted (fewer than 4 control sites with incidents)."""
    before = np.r_[tb, cb].astype(float)
    sel = np.r_[ts, cs].astype(float)
    y = np.r_[td, cd].astype(float)
    ctrl = np.arange(len(y)) > 0
    if int(((cb + cs + cd) > 0).sum()) < 4 or y[ctrl].sum() == 0:
        return None
    x = np.log(sel + 0.5) - np.log(before + 0.5) - np.log(ratio)
    X = np.c_[np.ones(len(y)), x, (~ctrl).astype(float)]
    off = np.log(before + 0.5)
    beta_ = np.array([np.log(max(y[ctrl].sum(), 0.5) / np.exp(off[ctrl]).sum()), 0.0, 0.0])
    for _ in range(50):  # IRLS
        eta = np.clip(off + X @ beta_, -30, 30)
        mu = np.exp(eta)
        z = eta - off + (y - mu) / mu
        xtw = X.T * mu
        try:
            new = np.linalg.solve(xtw @ X, xtw @ z)
        except np.linalg.LinAlgError:
            return None
        if np.max(np.abs(new - beta_)) < 1e-9:
            beta_ = new
            break
        beta_ = new
    mu = np.exp(np.clip(off + X @ beta_, -30, 30))
    df = len(y) - 3
    if df < 1:
        return None
    phi = max(1.0, float(np.sum((y - mu) ** 2 / mu) / df))
    try:
        cov = phi * np.linalg.inv((X.T * mu) @ X)
    except np.linalg.LinAlgError:
        return None
    # treated during = 0 has no finite MLE for delta: use the continuity-corrected count
    d_hat = float(beta_[2]) if td > 0 else float(
        np.log(0.5) - np.log(np.exp(off[0] + beta_[0] + beta_[1] * x[0])))
    se = float(np.sqrt(max(cov[2, 2], 1.0 / (td + 0.5) * phi)))
    q = float(student_t.ppf(1 - alpha / 2, df))
    p = float(2 * student_t.sf(abs(d_hat) / se, df))
    expected = float(np.exp(off[0] + beta_[0] + beta_[1] * x[0]))
    se0 = float(np.sqrt(max(cov[2, 2] - phi / max(mu[0], 0.5) + phi / (expected + 0.5),
                            phi / (expected + 0.5))))
    mde = float(1 - np.exp(-(q + float(norm.ppf(power))) * se0))
    lo, hi = (float(np.exp(min(v, 700.0))) for v in (d_hat - q * se, d_hat + q * se))
    return _Test(float(np.exp(d_hat)), lo, hi, p, mde), phi


def _did(tb: float, td: float, cb: np.ndarray, cd: np.ndarray, alpha: float,
         power: float) -> tuple[_Test, float]:
    """Quasi-Poisson ratio of rate ratios for one treated and m control sites."""
    cb_s, cd_s = float(cb.sum()), float(cd.sum())
    n_i = cb + cd
    use = n_i > 0
    phi, df = 1.0, np.inf
    if use.sum() >= 2 and cb_s > 0 and cd_s > 0:
        pi = cd_s / (cb_s + cd_s)
        x2 = float(np.sum((cd[use] - n_i[use] * pi) ** 2 / (n_i[use] * pi * (1 - pi))))
        df = float(use.sum() - 1)
        phi = max(1.0, x2 / df)
    q = float(student_t.ppf(1 - alpha / 2, df)) if np.isfinite(df) else float(
        norm.ppf(1 - alpha / 2))
    a, b, c, d = (v + 0.5 for v in (tb, td, cb_s, cd_s))  # continuity correction
    log_rr = np.log(b / a) - np.log(d / c)
    se = np.sqrt(phi * (1 / a + 1 / b + 1 / c + 1 / d))
    stat = abs(log_rr) / se
    p = float(2 * (student_t.sf(stat, df) if np.isfinite(df) else norm.sf(stat)))
    # power: the treated count expected during without an effect, at these counts
    expected = tb * cd_s / cb_s if cb_s > 0 else td
    se0 = np.sqrt(phi * (1 / a + 1 / (expected + 0.5) + 1 / c + 1 / d))
    z_pow = float(norm.ppf(power))
    mde = float(1 - np.exp(-(q + z_pow) * se0))
    lo, hi = float(np.exp(log_rr - q * se)), float(np.exp(log_rr + q * se))
    # small counts: the exact conditional test of the 2 x 2 table (treated/controls x
    # during/before; its odds ratio is the ratio of rate ratios) and its exact interval; the
    # verdict takes the more cautious of the two (larger p, wider interval)
    table = [[round(td), round(tb)], [round(cd_s), round(cb_s)]]
    if min(sum(table[0]), sum(table[1]), table[0][0] + table[1][0],
           table[0][1] + table[1][1]) > 0:
        p = max(p, float(fisher_exact(table).pvalue))
        ci = odds_ratio(table, kind="conditional").confidence_interval(1 - alpha)
        lo, hi = min(lo, float(ci.low)), max(hi, float(ci.high))
    else:
        p, lo, hi = 1.0, 0.0, float("inf")
    return _Test(float(np.exp(log_rr)), lo, hi, p, mde), phi


def _verdict(test: _Test, alpha: float, max_mde: float, counts: tuple[float, float],
             ongoing: bool) -> tuple[str, str, bool]:
    tail = " De inzet loopt nog; kijk later opnieuw." if ongoing else ""
    ci = f"(95%-betrouwbaarheidsinterval {_pct(test.lo - 1)} tot {_pct(test.hi - 1)})"
    mde = (f"met deze aantallen ({int(counts[0])} incidenten in de voorperiode, "
           f"{int(counts[1])} tijdens) is een daling kleiner dan {100 * test.mde:.0f}% niet "
           "te onderscheiden van toeval")
    p = f"p = {test.p:.3f}".replace(".", ",")
    if test.p < alpha and test.hi < 1:
        return ("daling",
                f"Waarschijnlijk effect: tijdens de inzet ongeveer {_pct(test.rr - 1)} "
                f"incidenten vergeleken met wat de controleplaatsen doen vermoeden {ci}, {p}."
                f"{tail}", True)
    if test.p < alpha and test.lo > 1:
        return ("stijging",
                f"Meer incidenten dan verwacht: ongeveer {_pct(test.rr - 1)} vergeleken met de "
                f"controleplaatsen {ci}, {p}; de inzet heeft geen daling opgeleverd.{tail}",
                True)
    if not np.isfinite(test.rr):
        return ("te vroeg om te zeggen",
                "Te vroeg om te zeggen: in het gebied is in de voorperiode en tijdens de inzet "
                "geen enkel incident geteld; daaruit is geen effect te schatten, er zijn meer "
                f"maanden gegevens (of een groter gebied) nodig.{tail}", False)
    if not test.mde <= max_mde:
        return ("te vroeg om te zeggen",
                f"Te vroeg om te zeggen: {mde}. De schatting ({_pct(test.rr - 1)}; "
                f"{ci[1:-1]}) zegt daarom nog niets; er zijn meer maanden gegevens "
                f"nodig.{tail}", False)
    return ("geen aantoonbaar effect",
            f"Geen aantoonbaar effect: het verschil met de controleplaatsen "
            f"({_pct(test.rr - 1)}) valt binnen het toeval {ci}, {p}; {mde}.{tail}", True)


def _count_in(geoms: list[shapely.Geometry], x: np.ndarray, y: np.ndarray,
              sel: np.ndarray) -> np.ndarray:
    xs, ys = x[sel], y[sel]
    return np.array([float(shapely.contains_xy(g, xs, ys).sum()) for g in geoms])


def evaluate_deployment(
    incidents: gpd.GeoDataFrame,
    *,
    start: TimeLike,
    end: TimeLike | None = None,
    area: shapely.Geometry | None = None,
    point: tuple[float, float] | shapely.Point | None = None,
    radius: float | None = None,
    crime_types: list[str] | tuple[str, ...] | None = None,
    selection_days: float = 91,
    pre_days: float = 365,
    data_end: TimeLike | None = None,
    data_start: TimeLike | None = None,
    controls: ControlSet | None = None,
    plan_sites: gpd.GeoDataFrame | None = None,
    deployed_rank: int | None = None,
    cell_size: float = 125.0,
    buffer_m: float = 250.0,
    n_controls: int = 10,
    alpha: float = 0.05,
    power: float = 0.8,
    max_mde: float = 0.5,
) -> EffectEstimate:
    """Effect of a deployment on the incidents of ``crime_types`` (all when None).

    The place is ``area`` (polygon, RD metres) or ``point`` + ``radius``. The period runs from
    ``start`` to ``end`` (None or later than ``data_end`` = still running: up to ``data_end``,
    default just after the last incident). *Before* is the ``pre_days`` ending
    ``selection_days`` before ``start`` (the selection window itself is left out); *after*
    (when ``end`` lies before ``data_end``) runs from ``end`` for at most the deployment's
    length. Controls: ``controls``, else the sites ranked below ``deployed_rank`` in
    ``plan_sites`` (:func:`controls_from_plan`; the deployment is then *placed by the tool*),
    else places of the same risk at ``start`` (:func:`controls_by_risk`). A result that is not
    significant at ``alpha`` is "te vroeg om te zeggen" while the minimal detectable decline
    (``power``) exceeds ``max_mde``."""
    require_rd(incidents, "incidenten (effectmeting)")
    place = _deployment_area(area, point, radius)
    if selection_days < 0 or pre_days <= 0:
        raise InvalidInput("selectievenster moet 0 of meer en voorperiode meer dan 0 dagen zijn")
    if plan_sites is not None and deployed_rank is None:
        raise InvalidInput("geef de rang van de ingezette plaats in de planning op")
    inc = incidents
    if crime_types is not None:
        inc = inc.loc[inc["crime_type"].isin(list(crime_types))]
    t = pd.Series(pd.to_datetime(inc["occurred_at"]))
    p = _periods(t, start=start, end=end, data_end=data_end, data_start=data_start,
                 selection_days=selection_days, pre_days=pre_days)

    chosen: ControlSet
    if controls is not None:
        chosen = controls
    elif plan_sites is not None and deployed_rank is not None:
        rad = float(radius) if radius is not None else float(np.sqrt(place.area / np.pi))
        chosen = controls_from_plan(plan_sites, int(deployed_rank), radius=rad,
                                    n_controls=n_controls, buffer_m=buffer_m)
    else:
        chosen = controls_by_risk(inc, place, p.start, n_controls=n_controls,
                                  cell_size=cell_size, buffer_m=buffer_m)
    geoms: list[shapely.Geometry] = list(chosen.areas.geometry)

    def estimate(**figures: Any) -> EffectEstimate:
        return EffectEstimate(
            periods=p.iso, n_treated_cells=max(1, round(place.area / cell_size ** 2)),
            n_control_cells=len(geoms), control_rule=chosen.rule,
            placed_by_tool=plan_sites is not None, **figures)

    missing = _missing_data(p, chosen, selection_days)
    if missing is not None:
        nan = float("nan")
        return estimate(estimate=nan, rate_ratio=nan, ci_low=nan, ci_high=nan,
                        label=missing[0], verdict=missing[1], conclusive=False,
                        counts=pd.DataFrame(index=["treated", "control"]), dispersion=nan,
                        controls_reason=chosen.reason)

    counts = _Counts.of(inc, t, place, geoms, p.periods)
    test, phi, (label, verdict, conclusive) = counts.judge("during", p.ongoing, alpha, power,
                                                           max_mde)
    after = None
    if "after" in p.periods:
        ta, phi_a, (lab_a, ver_a, con_a) = counts.judge("after", False, alpha, power, max_mde)
        after = estimate(estimate=ta.rr - 1, rate_ratio=ta.rr, ci_low=ta.lo, ci_high=ta.hi,
                         verdict="Na afloop: " + ver_a, label=lab_a, conclusive=con_a,
                         counts=counts.frame, dispersion=phi_a, p_value=ta.p, mde=ta.mde)
    return estimate(estimate=test.rr - 1, rate_ratio=test.rr, ci_low=test.lo, ci_high=test.hi,
                    verdict=verdict, label=label, conclusive=conclusive, counts=counts.frame,
                    dispersion=phi, p_value=test.p, mde=test.mde,
                    controls_reason=chosen.reason, after=after)


# --- the steps of evaluate_deployment ---------------------------------------------------------
def _deployment_area(area: shapely.Geometry | None,
                     point: tuple[float, float] | shapely.Point | None,
                     radius: float | None) -> shapely.Geometry:
    """The place of the deployment: ``area``, or the disc of ``radius`` around ``point``."""
    if area is None:
        if point is None or radius is None:
            raise InvalidInput("geef een gebied (polygoon) of een punt met straal op")
        if float(radius) <= 0:
            raise InvalidInput(f"straal moet groter dan 0 meter zijn (kreeg {radius})")
        p = point if isinstance(point, shapely.Point) else shapely.Point(*point)
        area = p.buffer(float(radius))
    if area.is_empty or area.area <= 0:
        raise InvalidInput("het gebied van de inzet is leeg")
    return area


@dataclass(frozen=True)
class _Periods:
    """The comparison periods (``before``, ``selection`` when used, ``during``, ``after``
    when the deployment ended before the data), as timestamps and as ISO dates."""

    start: pd.Timestamp
    first: pd.Timestamp
    ongoing: bool
    periods: dict[str, tuple[pd.Timestamp, pd.Timestamp]]
    iso: dict[str, tuple[str, str]]


def _periods(t: pd.Series, *, start: TimeLike, end: TimeLike | None,
             data_end: TimeLike | None, data_start: TimeLike | None, selection_days: float,
             pre_days: float) -> _Periods:
    t0 = _ts(start, "start")
    last = _ts(data_end, "data_end") if data_end is not None else (
        pd.Timestamp(t.max()) + pd.Timedelta(seconds=1) if len(t) else t0)
    first = _ts(data_start, "data_start") if data_start is not None else (
        pd.Timestamp(t.min()) if len(t) else t0)
    t1 = _ts(end, "end") if end is not None else last
    ongoing = end is None or t1 > last
    t1 = min(t1, last)
    if t1 <= t0:
        raise InvalidInput(f"de inzet begint ({t0.date()}) na het einde van de gegevens of van "
                           f"de inzet ({t1.date()}): er is nog niets te meten")
    during = t1 - t0
    sel_lo = t0 - pd.Timedelta(days=selection_days)
    periods = {"before": (sel_lo - pd.Timedelta(days=pre_days), sel_lo), "during": (t0, t1)}
    if selection_days > 0:
        periods["selection"] = (sel_lo, t0)
    if not ongoing and last > t1:
        periods["after"] = (t1, min(last, t1 + during))
    iso = {k: (a.date().isoformat(), b.date().isoformat()) for k, (a, b) in periods.items()}
    return _Periods(t0, first, ongoing, periods, iso)


def _missing_data(p: _Periods, controls: ControlSet, selection_days: float
                  ) -> tuple[str, str] | None:
    """Label and verdict when there is nothing fair to compare, else None."""
    if p.periods["before"][0] < p.first.normalize():
        return ("onvoldoende gegevens",
                f"Onvoldoende gegevens: de voorperiode ({p.iso['before'][0]} tot "
                f"{p.iso['before'][1]}, vóór het selectievenster van {selection_days:g} "
                f"dagen) begint vóór de eerste gegevens ({p.first.date()}); zonder die "
                "voorperiode is geen eerlijke vergelijking mogelijk.")
    if controls.empty:
        why = controls.reason.removeprefix("geen vergelijkingsgebied: ")
        return ("geen vergelijkingsgebied",
                f"Geen vergelijkingsgebied: {why}. Zonder vergelijking is niet te "
                "scheiden wat de inzet deed en wat vanzelf gebeurde.")
    return None


@dataclass(frozen=True)
class _Counts:
    """Incidents per period in the treated place (``table[name][0]``), in all controls
    together (``table[name][1]``) and per control site (``per_site[name]``)."""

    periods: dict[str, tuple[pd.Timestamp, pd.Timestamp]]
    table: dict[str, tuple[float, float]]
    per_site: dict[str, np.ndarray]

    @classmethod
    def of(cls, inc: gpd.GeoDataFrame, t: pd.Series, area: shapely.Geometry,
           geoms: list[shapely.Geometry],
           periods: dict[str, tuple[pd.Timestamp, pd.Timestamp]]) -> _Counts:
        x = np.asarray(inc.geometry.x, dtype=float)
        y = np.asarray(inc.geometry.y, dtype=float)
        shapely.prepare(area)
        for g in geoms:
            shapely.prepare(g)
        table: dict[str, tuple[float, float]] = {}
        per_site: dict[str, np.ndarray] = {}
        for name, (lo, hi) in periods.items():
            sel = ((t >= lo) & (t < hi)).to_numpy(dtype=bool)
            tr = float(shapely.contains_xy(area, x[sel], y[sel]).sum())
            cs = _count_in(geoms, x, y, sel)
            table[name] = (tr, float(cs.sum()))
            per_site[name] = cs
        return cls(periods, table, per_site)

    @property
    def frame(self) -> pd.DataFrame:
        """Rows treated/control, one column per period."""
        return pd.DataFrame(self.table, index=["treated", "control"])

    def judge(self, name: str, ongoing: bool, alpha: float, power: float, max_mde: float
              ) -> tuple[_Test, float, tuple[str, str, bool]]:
        """The test of period ``name`` against *before*, its dispersion and verdict."""
        table, per_site = self.table, self.per_site
        test, phi = _did(table["before"][0], table[name][0], per_site["before"],
                         per_site[name], alpha, power)
        if "selection" in self.periods:
            lens = {k: (b - a) / pd.Timedelta(days=1) for k, (a, b) in self.periods.items()}
            adj = _selection_adjusted(
                table["before"][0], table["selection"][0], table[name][0],
                per_site["before"], per_site["selection"], per_site[name],
                lens["selection"] / lens["before"], alpha, power)
            if adj is not None:
                # the estimate is the difference-in-differences; the selection correction
                # only makes the verdict more cautious (larger p, wider interval, larger MDE)
                a_t, a_phi = adj
                test = _Test(test.rr, min(a_t.lo, test.lo), max(a_t.hi, test.hi),
                             max(a_t.p, test.p), max(a_t.mde, test.mde))
                phi = max(phi, a_phi)
        if table["before"][0] + table[name][0] == 0:  # nothing to estimate from
            test = _Test(float("nan"), 0.0, float("inf"), 1.0, test.mde)
        v = _verdict(test, alpha, max_mde, (table["before"][0], table[name][0]), ongoing)
        return test, phi, v
