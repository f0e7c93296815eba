"""The simulation study that keeps the effect evaluation honest (``docs/evaluation.md``).

Simulated burglary on the Helmond grid (a stationary Poisson process, or a self-exciting
near-repeat process, ``hotspots.simulate``) at Helmond's rate; every so many weeks the tool's
own planner (prospective risk of the coming window from the incidents *before* the origin,
then the coverage core of ``recommend_alarms``, lazy greedy) places an alarm at its best
site; the evaluation then judges the deployment with the sites ranked below it in the same
run as controls. With ``effect`` < 1 the incidents inside the deployed circle during the
deployment are thinned to that share (a true reduction). One row per deployment: the label,
the estimate, its p-value and the MDE.

``benchmarks/bench_evaluation.py`` runs the full study; ``tests/test_evaluation_study.py`` a
small seeded one.
"""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.stats import beta

from ..hotspots import hotspot_surface, make_grid
from ..hotspots.simulate import poisson_incidents, self_exciting_incidents
from .coverage import MCLP
from .evaluation import EffectEstimate, evaluate_deployment
from .policies import DEFAULT_RADIUS_M, _demand

__all__ = ["PROCESSES", "clopper_pearson", "simulate_deployments"]

PROCESSES = ("poisson", "self-exciting")

#: Woninginbraken per year in Helmond (2017, the seed table).
HELMOND_BURGLARIES_PER_YEAR = 469


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial (Clopper-Pearson) interval for k successes out of n."""
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def _history(process: str, polygon: shapely.Geometry, days: float, rate: float,
             seed: int) -> gpd.GeoDataFrame:
    if process == "poisson":
        return poisson_incidents(polygon, round(rate * days / 365), days=days, seed=seed)
    if process == "self-exciting":
        # background such that the total (background / (1 - offspring mean)) is ``rate``
        offspring = 0.5
        bg = round(rate * days / 365 * (1 - offspring))
        return self_exciting_incidents(polygon, bg, days=days, offspring_mean=offspring,
                                       decay_days=7.0, sigma_m=60.0, seed=seed)
    raise ValueError(f"unknown process {process!r}")


Evaluator = Callable[..., object]


def _plan_sites(cells: gpd.GeoDataFrame, count: int, radius: float) -> gpd.GeoDataFrame:
    """The sites ``recommend_alarms(cells, count, radius=radius, solver="greedy")`` picks, in
    its rank order, from the same coverage core (``MCLP`` lazy greedy) without the LP bound
    and the explanation columns it adds for people (they do not change the sites, and the
    bound's linear programme costs most of the planner's time)."""
    xy, risk, _dem = _demand(cells)
    sites, _how = MCLP.from_points(xy, risk, xy, radius, count).heuristic(swap=False)
    return gpd.GeoDataFrame({"rank": np.arange(1, len(sites) + 1), "radius_m": radius},
                            geometry=gpd.points_from_xy(xy[sites, 0], xy[sites, 1]),
                            crs=cells.crs)


def simulate_deployments(
    areas: object,
    process: str,
    *,
    n_histories: int,
    seed: int = 0,
    effects: tuple[float, ...] = (1.0,),
    rate_per_year: float = HELMOND_BURGLARIES_PER_YEAR,
    years: float = 4.0,
    first_day: float = 500.0,
    every_days: float = 91.0,
    duration_days: float = 42.0,
    radius: float = DEFAULT_RADIUS_M["alarm"],
    n_controls: int = 10,
    window: str = "28d",
    wijken: tuple[str, ...] | None = None,
    extra: dict[str, Evaluator] | None = None,
) -> pd.DataFrame:
    """Deployments placed by the planner on ``n_histories`` simulated histories of ``process``
    (see the module docstring), each judged once per true effect in ``effects`` (1.0 = none,
    0.7 = 30% fewer incidents inside the circle during the deployment). ``wijken`` limits the
    study area to those wijk codes (a faster, smaller grid). ``extra`` maps a name to another
    evaluator ``f(incidents, start=, end=, point=, radius=, data_end=)`` run on the same
    placements (e.g. a reference implementation): ``label_<name>``, ``rate_ratio_<name>``."""
    buurten = areas.buurten  # type: ignore[attr-defined]
    whole = shapely.union_all(np.asarray(buurten.geometry.values))
    if wijken is not None:
        buurten = buurten.loc[buurten["wijk_code"].isin(list(wijken))]
    polygon = shapely.union_all(np.asarray(buurten.geometry.values))
    rate = rate_per_year * polygon.area / whole.area  # the same density as the whole city
    grid = make_grid(areas if wijken is None else polygon, 125.0, areas=areas)
    days = 365.0 * years
    rows = []
    for h in range(n_histories):
        inc = _history(process, polygon, days, rate, seed * 1000 + h)
        u = np.random.default_rng(seed * 1000 + h + 7).random(len(inc))
        t_start = pd.Timestamp(inc["occurred_at"].min()).normalize()
        t = pd.to_datetime(inc["occurred_at"])
        origin_day = first_day
        while origin_day + duration_days <= days:
            t0 = t_start + pd.Timedelta(days=origin_day)
            t1 = t0 + pd.Timedelta(days=duration_days)
            origin_day += every_days
            before = inc.loc[t < t0]
            surface = hotspot_surface(before, grid, "prospective", origin=t0, window=window)
            cells = surface.loc[surface["buurt_code"].notna()].reset_index(drop=True)
            cells["risk"] = cells["risk"].clip(lower=0.0)
            sites = _plan_sites(cells, 1 + n_controls, radius)
            site = sites.loc[sites["rank"] == 1].geometry.iloc[0]
            upto_mask = (t < t1).to_numpy()
            inside = ((t >= t0).to_numpy()
                      & (shapely.distance(site, np.asarray(inc.geometry.values)) < radius))
            for effect in effects:
                upto = inc.loc[upto_mask & ~(inside & (u >= effect))]
                est: EffectEstimate = evaluate_deployment(
                    upto, start=t0, end=t1, point=site, radius=radius, data_end=t1,
                    plan_sites=sites, deployed_rank=1, n_controls=n_controls)
                c = est.counts
                row = {"process": process, "effect": effect, "history": h,
                       "origin": t0.date().isoformat(), "label": est.label,
                       "rate_ratio": est.rate_ratio, "p_value": est.p_value, "mde": est.mde,
                       "treated_before": c.loc["treated", "before"] if "before" in c else np.nan,
                       "treated_during": c.loc["treated", "during"] if "during" in c else np.nan,
                       "n_controls": est.n_control_cells, "dispersion": est.dispersion}
                for name, fn in (extra or {}).items():
                    other = fn(upto, start=t0, end=t1, point=site, radius=radius, data_end=t1)
                    row[f"label_{name}"] = other.label  # type: ignore[attr-defined]
                    row[f"rate_ratio_{name}"] = other.rate_ratio  # type: ignore[attr-defined]
                rows.append(row)
    return pd.DataFrame(rows)
