"""Forecast accuracy on a grid: hit rate, PAI and PEI at a share of the area.

Cells are ranked by risk; the top cells up to ``coverage`` of the study area (cell areas inside
the study area, so clipped border cells count for their share) are the "flagged" area.

* hit rate = events in the flagged area / all events in the window;
* PAI (Predictive Accuracy Index, Chainey et al. 2008) = hit rate / area share;
* PEI (Predictive Efficiency Index, Hunt 2016) = events in the flagged area / the most events any
  selection of the same area could have captured (cells ranked by observed density).

Ties: cells with equal risk form a group; when the coverage boundary cuts a group, the group
contributes in proportion to the area taken from it (the expected value under a random order
within the group). So a constant surface scores hit rate = area share and PAI = 1, and the
metrics never depend on the order of the cells.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInput


def captured(risk: np.ndarray, observed: np.ndarray, area: np.ndarray,
             coverages: tuple[float, ...]) -> np.ndarray:
    """Events captured by the highest-risk ``coverage`` share of the area (tie-aware)."""
    risk = np.asarray(risk, float)
    observed = np.asarray(observed, float)
    area = np.asarray(area, float)
    if not (risk.shape == observed.shape == area.shape):
        raise InvalidInput("risico, waarnemingen en oppervlakten hebben verschillende lengtes")
    cov = np.asarray(coverages, float)
    if np.any(cov <= 0) or np.any(cov > 1):
        raise InvalidInput(f"oppervlakteaandelen moeten in (0, 1] liggen, niet {coverages}")
    total_area = area.sum()
    if total_area <= 0:
        raise InvalidInput("het studiegebied heeft geen oppervlakte")
    _, group = np.unique(-risk, return_inverse=True)  # group 0 = highest risk
    g_area = np.bincount(group, weights=area)
    g_obs = np.bincount(group, weights=observed)
    cum_a = np.cumsum(g_area)
    cum_o = np.cumsum(g_obs)
    target = cov * total_area
    g = np.minimum(np.searchsorted(cum_a, target, side="left"), g_area.size - 1)
    prev_a = np.where(g > 0, cum_a[g - 1], 0.0)
    prev_o = np.where(g > 0, cum_o[g - 1], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(g_area[g] > 0, (target - prev_a) / g_area[g], 1.0)
    return prev_o + g_obs[g] * np.clip(frac, 0.0, 1.0)


def scores(risk: np.ndarray, observed: np.ndarray, area: np.ndarray,
           coverages: tuple[float, ...] = (0.01, 0.05, 0.10)) -> dict[str, float]:
    """``hit_<p>``, ``pai_<p>`` and ``pei_<p>`` for each coverage (p in percent), NaN when the
    window holds no events."""
    n = float(np.sum(observed))
    out: dict[str, float] = {}
    if n <= 0:
        for c in coverages:
            k = f"{c * 100:g}"
            out[f"hit_{k}"] = out[f"pai_{k}"] = out[f"pei_{k}"] = float("nan")
        return out
    got = captured(risk, observed, area, coverages)
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.where(area > 0, observed / area, 0.0)
    best = captured(density, observed, area, coverages)
    for c, h, b in zip(coverages, got, best, strict=True):
        k = f"{c * 100:g}"
        out[f"hit_{k}"] = float(h / n)
        out[f"pai_{k}"] = float(h / n / c)
        out[f"pei_{k}"] = float(h / b) if b > 0 else float("nan")
    return out
