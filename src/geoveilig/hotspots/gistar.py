"""Getis-Ord Gi* on cell counts with a Benjamini-Hochberg false-discovery-rate correction.

Statistic (binary weights ``W`` with the cell itself included, ``w_ii = 1``)::

    G*_i = Σ_j w_ij x_j / Σ_j x_j,     E[G*_i] = W_i / n,
    Var[G*_i] = W_i (n - W_i) / (n - 1) / n² · s² / x̄²

with ``W_i = Σ_j w_ij``, ``x̄`` and ``s²`` the mean and (population) variance of all cell counts.
This is exactly what ``esda.G_Local(y, w, transform="B", star=True)`` computes analytically
(``Zs``); the tests and ``benchmarks/bench_hotspots.py`` check the z-scores to 1e-9. Here it is
one sparse matrix-vector product instead of a weights object.

p-values are two-sided normal p-values (ArcGIS reports the same), corrected over all cells with
Benjamini-Hochberg at ``alpha`` (default 0.05). Cells are classed ``hot``/``cold`` when their
q-value is below ``alpha`` (sign of z), otherwise ``not-significant``.

Cells with an empty neighbourhood
---------------------------------
A cell whose neighbourhood (itself included) holds no events has ``G*_i = 0`` and a negative z
that depends only on its number of neighbours. esda's permutation p-values call every such cell a
cold spot, which in sparse crime data paints most of the map blue. Here such cells keep their
analytic z and p (so they equal esda's), but with ``empty="not-significant"`` (default) they are
left out of the FDR family and classed ``not-significant``, and the column ``gi_empty`` marks
them. ``empty="test"`` treats them like any other cell. If all counts are zero (or equal), the
statistic is undefined: z = 0, p = 1 and every cell is ``not-significant``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.special import ndtr  # = stats.norm.cdf, without importing scipy.stats (~1 s)

from ..errors import InvalidInput
from .fdr import benjamini_hochberg

HOT, COLD, NOT_SIGNIFICANT = "hot", "cold", "not-significant"
#: Dutch labels for maps and reports.
CLASS_LABELS = {HOT: "hotspot (significant)", COLD: "coldspot (significant)",
                NOT_SIGNIFICANT: "niet significant"}


@dataclass(frozen=True)
class GiStar:
    z: np.ndarray
    p: np.ndarray  # two-sided
    q: np.ndarray  # Benjamini-Hochberg adjusted
    classes: np.ndarray  # "hot" / "cold" / "not-significant"
    empty: np.ndarray  # neighbourhood without events
    alpha: float


def gi_star_z(y: np.ndarray, w: sparse.spmatrix) -> np.ndarray:
    """Analytic Gi* z-scores for values ``y`` and binary weights ``w`` (diagonal included: if
    the diagonal is empty it is set to 1, as esda does for ``star=True``)."""
    y = np.asarray(y, float)
    n = y.size
    w = sparse.csr_matrix(w)
    if w.shape != (n, n):
        raise InvalidInput(f"gewichtenmatrix {w.shape} past niet bij {n} cellen")
    if n < 3:
        raise InvalidInput("Gi* heeft minstens 3 cellen nodig")
    if not (w.diagonal() > 0).any():
        w = (w + sparse.identity(n, format="csr")).tocsr()
    total = y.sum()
    mean = total / n
    var = (y * y).sum() / n - mean * mean
    if total == 0 or var <= 0 or not np.isfinite(var):
        return np.zeros(n)
    card = np.asarray(w.sum(axis=1)).ravel()
    g = (w @ y) / total
    eg = card / n
    vg = card * (n - card) / (n - 1) / n**2 * var / mean**2
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (g - eg) / np.sqrt(vg)
    z[~np.isfinite(z)] = 0.0  # a cell neighbouring every cell has no variance
    return z


def gi_star(y: np.ndarray, w: sparse.spmatrix, *, alpha: float = 0.05,
            empty: str = "not-significant") -> GiStar:
    """Gi* z, two-sided p, BH q and hot/cold/not-significant classes (see module docstring)."""
    if not 0 < alpha < 1:
        raise InvalidInput(f"alpha moet tussen 0 en 1 liggen, niet {alpha}")
    if empty not in ("not-significant", "test"):
        raise InvalidInput(f"onbekende keuze voor lege buurten: {empty!r}")

    y = np.asarray(y, float)
    w = sparse.csr_matrix(w)
    z = gi_star_z(y, w)
    p = 2 * ndtr(-np.abs(z))
    wd = w if (w.diagonal() > 0).any() else w + sparse.identity(y.size, format="csr")
    is_empty = (abs(wd) @ (y != 0).astype(float)) == 0
    family = np.ones(y.size, bool) if empty == "test" else ~is_empty
    pq = np.where(family, p, np.nan)
    q = benjamini_hochberg(pq)
    q[~family] = 1.0
    classes = np.full(y.size, NOT_SIGNIFICANT, dtype=object)
    sig = q < alpha
    classes[sig & (z > 0)] = HOT
    classes[sig & (z < 0)] = COLD
    return GiStar(z, p, q, classes, is_empty, alpha)
