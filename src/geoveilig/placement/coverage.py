"""Weighted maximal covering location problem (MCLP) on arrays.

Choose ``k`` sites among candidates to maximise the demand weight (expected incidents) lying
within ``radius`` of at least one chosen site. The model is built once from a sparse 0/1
coverage matrix (demand x sites, from a KD-tree radius query; no Python loop over pairs) and
then solved:

* ``greedy``: lazy greedy (CELF). Coverage is monotone submodular, so greedy reaches at least
  (1 - 1/e) of the optimum; in practice far more.
* ``heuristic``: greedy followed by a best-improvement swap local search. The swap gains of
  every (candidate, chosen site) pair are computed at once with two sparse products.
* ``milp``: the exact mixed-integer programme, solved by HiGHS through
  ``scipy.optimize.milp``. Demand cells with an identical set of covering sites are merged, cells
  covered by a single site are folded into that site's objective coefficient, and the
  heuristic's objective is imposed as a lower bound (the "warm start" scipy's interface allows).
* ``auto`` (default): heuristic, then the LP-relaxation bound; if the heuristic is not yet proven
  within ``gap`` (default 1%), the MILP is run with that relative gap and a time limit. The result
  says how far from the optimum it can be (``bound``, ``gap``, ``proven``).

Side constraints: units already in place (they cover and stay, ``existing_cover``), excluded
candidates (``allowed``), pairs of candidates that may not both be chosen (minimum spacing,
``conflicts``), caps per group of candidates (e.g. per wijk) and a budget with a cost per site
(then ``k`` is an upper bound instead of an exact count).

The model object follows the idea of PySAL spopt's ``MCLP.from_cost_matrix(...).solve()``:
build from arrays, solve, read results as attributes.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.spatial import cKDTree

from ..errors import InvalidInput

__all__ = [
    "MCLP",
    "CoverageSolution",
    "coverage_matrix",
    "spacing_conflicts",
]

_METHODS = ("auto", "greedy", "heuristic", "milp")


# --- building blocks -----------------------------------------------------------------------
def _xy(values: ArrayLike, what: str) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InvalidInput(f"{what}: verwacht een lijst van (x, y)-coördinaten, kreeg vorm "
                           f"{arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidInput(f"{what}: coördinaten bevatten lege of oneindige waarden")
    return arr


def _check_radius(radius: float, what: str = "radius") -> float:
    r = float(radius)
    if not np.isfinite(r) or r <= 0:
        raise InvalidInput(f"{what} moet groter dan 0 meter zijn (kreeg {radius})")
    return r


def coverage_matrix(demand_xy: ArrayLike, site_xy: ArrayLike, radius: float) -> sparse.csc_matrix:
    """Sparse 0/1 matrix (n_demand x n_sites): 1 where the site lies within ``radius`` metres
    of the demand point (distance <= radius). Built with two KD-trees in C."""
    r = _check_radius(radius)
    d = _xy(demand_xy, "vraagpunten")
    s = _xy(site_xy, "kandidaatlocaties")
    if len(d) == 0 or len(s) == 0:
        return sparse.csc_matrix((len(d), len(s)), dtype=np.float64)
    pairs = cKDTree(d).sparse_distance_matrix(cKDTree(s), r, output_type="ndarray")
    data = np.ones(len(pairs), dtype=np.float64)
    mat = sparse.coo_matrix((data, (pairs["i"], pairs["j"])), shape=(len(d), len(s)))
    mat = mat.tocsc()
    mat.sum_duplicates()
    mat.data[:] = 1.0
    return mat


def spacing_conflicts(site_xy: ArrayLike, min_spacing: float) -> NDArray[np.int64]:
    """Pairs (i, j), i < j, of sites closer than ``min_spacing`` metres (they may not both be
    chosen)."""
    s = _xy(site_xy, "kandidaatlocaties")
    sp = float(min_spacing)
    if sp <= 0 or len(s) < 2:
        return np.empty((0, 2), dtype=np.int64)
    pairs = cKDTree(s).query_pairs(sp * (1 - 1e-9), output_type="ndarray")
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


# --- result ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CoverageSolution:
    """A solved MCLP. ``sites`` are candidate indices in rank order (each next site adds the
    most); ``gains[i]`` is the weight first covered by ``sites[i]`` given the existing units and
    the sites ranked before it, so ``covered_by_existing + gains.sum() == objective``."""

    sites: NDArray[np.int64]
    gains: NDArray[np.float64]
    objective: float
    covered_by_existing: float
    bound: float
    gap: float
    proven: bool
    method: str
    status: str
    total_weight: float
    seconds: float
    covered: NDArray[np.bool_] = field(repr=False)
    log: tuple[str, ...] = ()

    @property
    def share_covered(self) -> float:
        return self.objective / self.total_weight if self.total_weight > 0 else 0.0

    def summary(self) -> str:
        """One Dutch line: objective, bound and gap."""
        gap = f"{100 * self.gap:.2f}%" if np.isfinite(self.gap) else "onbekend"
        return (f"gedekt risico {self.objective:.2f} van {self.total_weight:.2f} "
                f"({100 * self.share_covered:.1f}%); bovengrens {self.bound:.2f}; "
                f"gat {gap} ({self.method}; {self.status})")


# --- input checks (each returns the validated array) -----------------------------------------
def _binary_csc(coverage: sparse.spmatrix | ArrayLike) -> sparse.csc_matrix:
    A = sparse.csc_matrix(coverage, dtype=np.float64)
    A.sum_duplicates()
    if A.nnz:
        A.data[:] = 1.0
    A.eliminate_zeros()
    return A


def _weights(weights: ArrayLike, n_dem: int) -> NDArray[np.float64]:
    w = np.asarray(weights, dtype=float).ravel()
    if len(w) != n_dem:
        raise InvalidInput(f"aantal gewichten ({len(w)}) past niet bij het aantal vraagpunten "
                           f"({n_dem})")
    if not np.isfinite(w).all() or (w < 0).any():
        raise InvalidInput("risico (gewichten) moet eindig en niet-negatief zijn")
    return w


def _mask(values: ArrayLike | None, n: int, default: bool, what: str) -> NDArray[np.bool_]:
    out = (np.full(n, default, dtype=bool) if values is None
           else np.asarray(values, dtype=bool).ravel())
    if len(out) != n:
        raise InvalidInput(what)
    return out


def _conflicts(conflicts: ArrayLike | None, n_sites: int
               ) -> tuple[NDArray[np.int64], sparse.csr_matrix]:
    """The conflicting pairs (self-pairs dropped) and their symmetric 0/1 matrix."""
    conf = (np.empty((0, 2), dtype=np.int64) if conflicts is None
            else np.asarray(conflicts, dtype=np.int64).reshape(-1, 2))
    if len(conf) and (conf.min() < 0 or conf.max() >= n_sites):
        raise InvalidInput("conflicts verwijst naar een onbekende kandidaatlocatie")
    conf = conf[conf[:, 0] != conf[:, 1]]
    ii = np.r_[conf[:, 0], conf[:, 1]]
    jj = np.r_[conf[:, 1], conf[:, 0]]
    sym = sparse.coo_matrix(
        (np.ones(2 * len(conf)), (ii, jj)), shape=(n_sites, n_sites)).tocsr()
    sym.sum_duplicates()
    if sym.nnz:
        sym.data[:] = 1.0
    return conf, sym


def _groups(site_groups: Sequence[object] | ArrayLike | None,
            group_caps: Mapping[object, int], n_sites: int
            ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Integer group id per site and the cap per group (uncapped groups: +inf)."""
    if group_caps and site_groups is None:
        raise InvalidInput("maxima per groep (wijk) opgegeven zonder groep per kandidaat")
    if site_groups is None:
        return np.zeros(n_sites, dtype=np.int64), np.array([np.inf])
    labels = np.asarray(site_groups, dtype=object).ravel()
    if len(labels) != n_sites:
        raise InvalidInput("site_groups past niet bij het aantal kandidaatlocaties")
    uniq, gid = np.unique(labels.astype(str), return_inverse=True)
    caps = np.full(len(uniq), np.inf)
    lookup = {u: i for i, u in enumerate(uniq)}
    for lab, cap in group_caps.items():
        if int(cap) < 0:
            raise InvalidInput(f"maximum voor {lab} moet 0 of meer zijn (kreeg {cap})")
        if str(lab) in lookup:
            caps[lookup[str(lab)]] = int(cap)
    return gid.astype(np.int64), caps


def _budget(costs: ArrayLike | None, budget: float | None, n_sites: int
            ) -> tuple[NDArray[np.float64] | None, float | None]:
    c = None if costs is None else np.asarray(costs, dtype=float).ravel()
    b = None if budget is None else float(budget)
    if c is not None:
        if len(c) != n_sites:
            raise InvalidInput("costs past niet bij het aantal kandidaatlocaties")
        if not np.isfinite(c).all() or (c < 0).any():
            raise InvalidInput("kosten per locatie moeten eindig en niet-negatief zijn")
    if (b is None) != (c is None):
        raise InvalidInput("geef zowel kosten per locatie als een budget op (of geen van "
                           "beide)")
    if b is not None and b < 0:
        raise InvalidInput(f"budget moet 0 of meer zijn (kreeg {b})")
    return c, b


def _count(k: int | None, budget: float | None, allowed: NDArray[np.bool_],
           capacity: float) -> int | None:
    """The number of new sites, checked against the allowed candidates and the group caps
    (``capacity``: how many sites the caps allow at most)."""
    if k is None and budget is None:
        raise InvalidInput("geef het aantal locaties (k) of een budget op")
    if k is None:
        return None
    if int(k) != k or k < 1:
        raise InvalidInput(f"aantal locaties moet een geheel getal van minstens 1 zijn "
                           f"(kreeg {k})")
    k = int(k)
    n_allowed = int(allowed.sum())
    if k > n_allowed:
        excl = len(allowed) - n_allowed
        extra = f" ({excl} uitgesloten)" if excl else ""
        raise InvalidInput(
            f"gevraagd: {k} locaties, maar er zijn maar {n_allowed} toegestane "
            f"kandidaatlocaties{extra}: kies een kleiner aantal of meer kandidaten")
    if budget is None and capacity < k:
        raise InvalidInput(
            f"de maxima per wijk laten samen maar {int(capacity)} nieuwe locaties "
            f"toe, er zijn er {k} gevraagd: verhoog de maxima of verlaag het aantal")
    return k


# --- the model -------------------------------------------------------------------------------
class MCLP:
    """Weighted maximal covering location problem over a sparse coverage matrix.

    Build it with :meth:`from_coverage` (a 0/1 demand x sites matrix), :meth:`from_cost_matrix`
    (distances, as spopt) or :meth:`from_points` (coordinates); they check the input. The
    constructor only stores arrays that are already checked.

    Attributes
    ----------
    coverage : (n_demand, n_sites) 0/1 CSC matrix
    weights : (n_demand,) non-negative demand weights (expected incidents)
    k : number of new sites (exact); with ``budget`` an upper bound (None = no count limit)
    existing_cover : (n_demand,) bool, demand already covered by units that stay
    allowed : (n_sites,) bool, candidates that may be chosen (excluded zones -> False)
    conflicts : (m, 2) site index pairs that may not both be chosen (minimum spacing)
    group_caps : mapping label -> maximum number of new sites in that group (e.g. per wijk)
    costs, budget : cost per site and total budget (the budget variant)
    """

    min_spacing: float | None = None

    def __init__(
        self,
        coverage: sparse.csc_matrix,
        weights: NDArray[np.float64],
        k: int | None,
        *,
        existing_cover: NDArray[np.bool_],
        allowed: NDArray[np.bool_],
        conflicts: NDArray[np.int64],
        conflict_matrix: sparse.csr_matrix,
        group_ids: NDArray[np.int64],
        group_limits: NDArray[np.float64],
        group_caps: Mapping[object, int],
        costs: NDArray[np.float64] | None,
        budget: float | None,
        name: str = "mclp",
    ) -> None:
        self.name = name
        self.coverage = coverage
        self.weights = weights
        self.n_demand, self.n_sites = coverage.shape
        self.k = k
        self.existing_cover = existing_cover
        self.allowed = allowed
        self.conflicts = conflicts
        self._conf = conflict_matrix
        self._gid = group_ids
        self._caps = group_limits
        self.group_caps = dict(group_caps)
        self.costs = costs
        self.budget = budget
        self.w_eff = np.where(existing_cover, 0.0, weights)
        self.constant = float(weights[existing_cover].sum())
        self.total_weight = float(weights.sum())
        self._Acsr = coverage.tocsr()

    # -- constructors --
    @classmethod
    def from_coverage(
        cls,
        coverage: sparse.spmatrix | ArrayLike,
        weights: ArrayLike,
        k: int | None,
        *,
        existing_cover: ArrayLike | None = None,
        allowed: ArrayLike | None = None,
        conflicts: ArrayLike | None = None,
        site_groups: Sequence[object] | ArrayLike | None = None,
        group_caps: Mapping[object, int] | None = None,
        costs: ArrayLike | None = None,
        budget: float | None = None,
        name: str = "mclp",
    ) -> MCLP:
        """From a (n_demand, n_sites) 0/1 coverage matrix (sparse or dense); ``site_groups``
        gives a group label per site for ``group_caps``. Raises ``InvalidInput`` (Dutch) for
        input that does not fit."""
        A = _binary_csc(coverage)
        n_dem, n_sites = A.shape
        w = _weights(weights, n_dem)
        if n_sites == 0:
            raise InvalidInput("er zijn geen kandidaatlocaties")
        existing = _mask(existing_cover, n_dem, False,
                         "existing_cover past niet bij het aantal vraagpunten")
        ok = _mask(allowed, n_sites, True, "allowed past niet bij het aantal kandidaatlocaties")
        conf, conf_matrix = _conflicts(conflicts, n_sites)
        caps_by_label = dict(group_caps or {})
        gid, caps = _groups(site_groups, caps_by_label, n_sites)
        c, b = _budget(costs, budget, n_sites)
        # how many sites the group caps allow at most (ignoring spacing)
        capacity = float(np.minimum(np.bincount(gid[ok], minlength=len(caps)), caps).sum())
        count = _count(k, b, ok, capacity)
        if float(w.sum()) <= 0:
            raise InvalidInput("er is geen risico in de gekozen periode (alle gewichten zijn 0): "
                               "er valt niets te dekken; kies een ruimer tijdvenster of ander "
                               "misdrijftype")
        return cls(A, w, count, existing_cover=existing, allowed=ok, conflicts=conf,
                   conflict_matrix=conf_matrix, group_ids=gid, group_limits=caps,
                   group_caps=caps_by_label, costs=c, budget=b, name=name)

    @classmethod
    def from_cost_matrix(
        cls,
        cost_matrix: ArrayLike | sparse.spmatrix,
        weights: ArrayLike,
        service_radius: float,
        p_facilities: int | None,
        **kwargs: object,
    ) -> MCLP:
        """From a (n_demand, n_sites) distance matrix, as spopt does. A sparse matrix is read
        as "listed pairs are the candidates for coverage" (absent = far)."""
        r = _check_radius(service_radius, "service_radius")
        if sparse.issparse(cost_matrix):
            m = sparse.coo_matrix(cost_matrix)
            keep = m.data <= r
            cov = sparse.coo_matrix((np.ones(keep.sum()), (m.row[keep], m.col[keep])),
                                    shape=m.shape)
        else:
            cov = sparse.csc_matrix(np.asarray(cost_matrix, dtype=float) <= r)
        return cls.from_coverage(cov, weights, p_facilities, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def from_points(
        cls,
        demand_xy: ArrayLike,
        weights: ArrayLike,
        site_xy: ArrayLike,
        radius: float,
        k: int | None,
        *,
        existing_xy: ArrayLike | None = None,
        min_spacing: float | None = None,
        **kwargs: object,
    ) -> MCLP:
        """From coordinates in metres: KD-tree coverage within ``radius``; ``existing_xy``
        units cover and stay; ``min_spacing`` forbids new sites closer than that to each other
        and to existing units."""
        r = _check_radius(radius)
        dem = _xy(demand_xy, "vraagpunten")
        sites = _xy(site_xy, "kandidaatlocaties")
        cov = coverage_matrix(dem, sites, r)
        allowed = kwargs.pop("allowed", None)
        allowed = (np.ones(len(sites), dtype=bool) if allowed is None
                   else np.asarray(allowed, dtype=bool).copy())
        existing_cover = None
        if existing_xy is not None and len(np.asarray(existing_xy)):
            ex = _xy(existing_xy, "bestaande eenheden")
            existing_cover = np.asarray(coverage_matrix(dem, ex, r).sum(axis=1)).ravel() > 0
        conflicts = None
        if min_spacing is not None and min_spacing > 0:
            conflicts = spacing_conflicts(sites, min_spacing)
            if existing_xy is not None and len(np.asarray(existing_xy)):
                near = cKDTree(_xy(existing_xy, "bestaande eenheden")).query(
                    sites, distance_upper_bound=float(min_spacing) * (1 - 1e-9))[0]
                allowed &= ~np.isfinite(near)
        model = cls.from_coverage(cov, weights, k, existing_cover=existing_cover,
                                  allowed=allowed, conflicts=conflicts,
                                  **kwargs)  # type: ignore[arg-type]
        model.min_spacing = min_spacing
        return model

    # -- helpers --
    def covered_mask(self, sites: ArrayLike) -> NDArray[np.bool_]:
        s = np.asarray(sites, dtype=np.int64)
        hit = np.asarray(self.coverage[:, s].sum(axis=1)).ravel() > 0 if len(s) else \
            np.zeros(self.n_demand, dtype=bool)
        return hit | self.existing_cover

    def evaluate(self, sites: ArrayLike) -> float:
        """Total covered weight (existing units included) of a set of new sites."""
        return float(self.weights[self.covered_mask(sites)].sum())

    def is_feasible(self, sites: ArrayLike) -> bool:
        s = np.unique(np.asarray(sites, dtype=np.int64))
        if len(s) != len(np.asarray(sites)) or not self.allowed[s].all():
            return False
        if self.k is not None and (len(s) > self.k or (self.budget is None and len(s) != self.k)):
            return False
        if self._conf.nnz and self._conf[s][:, s].nnz:
            return False
        counts = np.bincount(self._gid[s], minlength=len(self._caps))
        if (counts > self._caps).any():
            return False
        return not (self.budget is not None and self.costs is not None
                    and self.costs[s].sum() > self.budget + 1e-9)

    def rank(self, sites: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Order chosen sites greedily (largest marginal gain first) and attribute each demand
        cell to the first site covering it. Gains add up to the covered weight."""
        chosen = list(np.asarray(sites, dtype=np.int64))
        unc = self.w_eff.copy()
        order: list[int] = []
        gains: list[float] = []
        sub = self.coverage[:, chosen].tocsc() if chosen else None
        remaining = list(range(len(chosen)))
        while remaining:
            g = np.asarray(sub[:, remaining].T @ unc).ravel()  # type: ignore[index]
            j = int(np.argmax(g))
            col = remaining.pop(j)
            order.append(chosen[col])
            gains.append(float(g[j]))
            rows = sub.indices[sub.indptr[col]:sub.indptr[col + 1]]  # type: ignore[union-attr]
            unc[rows] = 0.0
        return np.asarray(order, dtype=np.int64), np.asarray(gains, dtype=float)

    # -- heuristics --
    def _greedy(self, ratio: bool) -> list[int]:
        A = self.coverage
        unc = self.w_eff.copy()
        gains0 = np.asarray(A.T @ unc).ravel()
        cost = self.costs if self.costs is not None else np.ones(self.n_sites)
        eps = 1e-12
        key = gains0 / np.maximum(cost, eps) if ratio else gains0
        heap = [(-key[i], i) for i in np.flatnonzero(self.allowed)]
        heapq.heapify(heap)
        fresh = np.zeros(self.n_sites, dtype=np.int64)  # iteration a key was computed in
        blocked = ~self.allowed.copy()
        counts = np.zeros(len(self._caps))
        chosen: list[int] = []
        spent = 0.0
        it = 0
        limit = self.k if self.k is not None else self.n_sites
        while heap and len(chosen) < limit:
            negkey, s = heapq.heappop(heap)
            if blocked[s]:
                continue
            if self.budget is not None and spent + cost[s] > self.budget + 1e-9:
                blocked[s] = True
                continue
            if counts[self._gid[s]] >= self._caps[self._gid[s]]:
                blocked[s] = True
                continue
            if fresh[s] != it:
                rows = A.indices[A.indptr[s]:A.indptr[s + 1]]
                g = float(unc[rows].sum())
                kk = g / max(cost[s], eps) if ratio else g
                fresh[s] = it
                heapq.heappush(heap, (-kk, s))
                continue
            chosen.append(int(s))
            spent += cost[s]
            counts[self._gid[s]] += 1
            blocked[s] = True
            rows = A.indices[A.indptr[s]:A.indptr[s + 1]]
            unc[rows] = 0.0
            if self._conf.nnz:
                blocked[self._conf.indices[self._conf.indptr[s]:self._conf.indptr[s + 1]]] = True
            it += 1
            if self.budget is not None and self.k is None and -negkey <= 0:
                break  # budget variant: no point adding sites that cover nothing
        return chosen

    def _swap(self, chosen: list[int], max_iter: int = 500) -> tuple[list[int], int]:
        """Best-improvement swap (and add) local search; keeps every constraint."""
        A = self.coverage
        At = self._Acsr.T.tocsr()  # sites x demand
        w = self.w_eff
        S = list(chosen)
        cost = self.costs if self.costs is not None else np.zeros(self.n_sites)
        tol = 1e-9 * max(float(w.sum()), 1.0)
        n_moves = 0
        for _ in range(max_iter):
            if not S:
                break
            AS = A[:, S].tocsc()
            cnt = np.asarray(AS.sum(axis=1)).ravel()
            unc = w * (cnt == 0)
            single = w * (cnt == 1)
            base = np.asarray(At @ unc).ravel()                     # gain of adding c
            V = sparse.diags(single) @ AS                           # demand x k
            M = (At @ V).toarray()                                  # sites x k
            loss = np.asarray(V.sum(axis=0)).ravel()                # loss of removing s_j
            delta = base[:, None] + M - loss[None, :]
            # feasibility of swapping s_j -> c
            in_S = np.zeros(self.n_sites, dtype=bool)
            in_S[S] = True
            ok = (self.allowed & ~in_S)[:, None] & np.ones((1, len(S)), dtype=bool)
            if self._conf.nnz:
                CS = self._conf[:, S].toarray()
                conf_cnt = CS.sum(axis=1)
                ok &= (conf_cnt[:, None] - CS) == 0
            counts = np.bincount(self._gid[S], minlength=len(self._caps)).astype(float)
            gc = self._gid[:, None]
            gs = self._gid[S][None, :]
            ok &= (gc == gs) | (counts[self._gid] < self._caps[self._gid])[:, None]
            if self.budget is not None:
                spent = cost[S].sum()
                ok &= (cost[:, None] - cost[S][None, :]) <= self.budget - spent + 1e-9
            delta = np.where(ok, delta, -np.inf)
            best = np.unravel_index(int(np.argmax(delta)), delta.shape)
            best_val = delta[best]
            # plain add move when the count/budget allows one more site
            add_val, add_c = -np.inf, -1
            room = (self.k is None or len(S) < self.k) and self.budget is not None
            if room:
                addable = self.allowed & ~in_S
                if self._conf.nnz:
                    addable &= np.asarray(self._conf[:, S].sum(axis=1)).ravel() == 0
                addable &= counts[self._gid] < self._caps[self._gid]
                addable &= cost <= self.budget - cost[S].sum() + 1e-9
                if addable.any():
                    cand = np.where(addable, base, -np.inf)
                    add_c = int(np.argmax(cand))
                    add_val = cand[add_c]
            if add_val > tol and add_val >= best_val:
                S.append(add_c)
                n_moves += 1
                continue
            if not best_val > tol:
                break
            S[best[1]] = int(best[0])
            n_moves += 1
        return S, n_moves

    def heuristic(self, *, swap: bool = True) -> tuple[list[int], str]:
        cands = [self._greedy(ratio=False)]
        if self.budget is not None:
            cands.append(self._greedy(ratio=True))
        best = max(cands, key=self.evaluate)
        method = "greedy"
        if swap:
            best, _moves = self._swap(best)
            method = "greedy+swap"
        return best, method

    # -- exact --
    def _reduced(self) -> dict[str, object]:
        """Reduced MILP data: allowed sites only, demand with weight covered by >= 1 allowed
        site, identical coverage rows merged, singly covered rows folded into the site."""
        sites = np.flatnonzero(self.allowed)
        A = self._Acsr[:, sites]
        w = self.w_eff
        nnz = np.diff(A.indptr)
        keep = (w > 0) & (nnz > 0)
        A = A[keep]
        w = w[keep]
        nnz = nnz[keep]
        c_site = np.zeros(len(sites))
        one = nnz == 1
        if one.any():
            np.add.at(c_site, A[one].indices, w[one])
        A = A[~one]
        w = w[~one]
        if A.shape[0]:
            rng = np.random.default_rng(12345)
            r = rng.random((A.shape[1], 2))
            A.sort_indices()
            keys = np.column_stack([A @ r, np.diff(A.indptr)])
            _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
            w = np.bincount(inverse.ravel(), weights=w, minlength=len(first))
            A = A[first]
        return {"sites": sites, "A": A, "w": w, "c_site": c_site}

    def _model(self) -> dict[str, object]:
        """The reduced programme in ``min c@v`` form over v = (y, x): inequality rows
        ``A_ub v <= b_ub`` and the cardinality equality (if any)."""
        red = self._reduced()
        sites: NDArray[np.int64] = red["sites"]  # type: ignore[assignment]
        A: sparse.csr_matrix = red["A"]
        wx: NDArray[np.float64] = red["w"]  # type: ignore[assignment]
        cy: NDArray[np.float64] = red["c_site"]  # type: ignore[assignment]
        ny, nx = len(sites), A.shape[0]
        c = -np.r_[cy, wx]
        rows: list[sparse.csr_matrix] = []
        hi: list[NDArray[np.float64]] = []
        # x_r - sum_{i covers r} y_i <= 0
        if nx:
            rows.append(sparse.hstack([-A, sparse.identity(nx, format="csr")], format="csr"))
            hi.append(np.zeros(nx))
        pad = sparse.csr_matrix((1, nx))
        ones = sparse.csr_matrix(np.ones((1, ny)))
        a_eq = b_eq = None
        if self.k is not None:
            if self.budget is None:
                a_eq = sparse.hstack([ones, pad], format="csr")
                b_eq = np.array([float(self.k)])
            else:
                rows.append(sparse.hstack([ones, pad], format="csr"))
                hi.append(np.array([float(self.k)]))
        if self.budget is not None and self.costs is not None:
            rows.append(sparse.hstack([sparse.csr_matrix(self.costs[sites][None, :]), pad],
                                      format="csr"))
            hi.append(np.array([self.budget]))
        capped = np.flatnonzero(np.isfinite(self._caps))
        if len(capped):
            g = self._gid[sites]
            sel = np.isin(g, capped)
            remap = np.full(len(self._caps), -1)
            remap[capped] = np.arange(len(capped))
            G = sparse.coo_matrix((np.ones(sel.sum()), (remap[g[sel]], np.flatnonzero(sel))),
                                  shape=(len(capped), ny)).tocsr()
            rows.append(sparse.hstack([G, sparse.csr_matrix((len(capped), nx))], format="csr"))
            hi.append(self._caps[capped])
        C = self._conflict_rows(sites)
        if C is not None:
            rows.append(sparse.hstack([C, sparse.csr_matrix((C.shape[0], nx))], format="csr"))
            hi.append(np.ones(C.shape[0]))
        a_ub = sparse.vstack(rows, format="csr") if rows else None
        b_ub = np.concatenate(hi) if rows else None
        return {"sites": sites, "ny": ny, "nx": nx, "c": c, "a_ub": a_ub, "b_ub": b_ub,
                "a_eq": a_eq, "b_eq": b_eq}

    def _lp_bound(self, incumbent: float | None = None
                  ) -> tuple[float, NDArray[np.bool_] | None, NDArray[np.bool_] | None]:
        """LP-relaxation bound on the new-site objective. With an ``incumbent`` value, also
        reduced-cost fixing: sites that cannot be in (resp. out of) any solution better than the
        incumbent (returned as masks over the reduced site list: fix to 0, fix to 1)."""
        mdl = self._model()
        ny = int(mdl["ny"])  # type: ignore[call-overload]
        res = linprog(mdl["c"], A_ub=mdl["a_ub"], b_ub=mdl["b_ub"], A_eq=mdl["a_eq"],
                      b_eq=mdl["b_eq"], bounds=(0, 1), method="highs")
        if res.status == 2:
            return -np.inf, None, None
        if res.status != 0 or res.x is None:
            return np.inf, None, None
        bound = float(-res.fun)
        if incumbent is None:
            return bound, None, None
        d_low = np.asarray(res.lower.marginals[:ny])   # >= 0 at y = 0 (min form)
        d_up = np.asarray(res.upper.marginals[:ny])    # <= 0 at y = 1
        slack = bound - incumbent
        tol = 1e-7 * max(abs(bound), 1.0)
        fix0 = (res.x[:ny] < 1e-9) & (d_low > slack + tol)
        fix1 = (res.x[:ny] > 1 - 1e-9) & (-d_up > slack + tol)
        return bound, fix0, fix1

    def _milp(self, *, rel_gap: float, time_limit: float,
              fix0: NDArray[np.bool_] | None = None, fix1: NDArray[np.bool_] | None = None,
              ) -> tuple[list[int] | None, float, float, int, str]:
        """Solve the reduced MILP with HiGHS. Returns (sites, objective_new, bound_new, scipy
        status, message); the bound is over the solutions the fixings leave."""
        mdl = self._model()
        ny, nx = int(mdl["ny"]), int(mdl["nx"])  # type: ignore[call-overload]
        sites: NDArray[np.int64] = mdl["sites"]  # type: ignore[assignment]
        lb = np.zeros(ny + nx)
        ub = np.ones(ny + nx)
        if fix0 is not None:
            ub[:ny][fix0] = 0.0
        if fix1 is not None:
            lb[:ny][fix1] = 1.0
        cons = []
        if mdl["a_ub"] is not None:
            cons.append(LinearConstraint(mdl["a_ub"], -np.inf, mdl["b_ub"]))
        if mdl["a_eq"] is not None:
            cons.append(LinearConstraint(mdl["a_eq"], mdl["b_eq"], mdl["b_eq"]))
        integrality = np.r_[np.ones(ny), np.zeros(nx)]
        res = milp(mdl["c"], integrality=integrality, bounds=Bounds(lb, ub), constraints=cons,
                   options={"mip_rel_gap": rel_gap, "time_limit": time_limit})
        if res.x is None:
            return None, -np.inf, np.inf, int(res.status), str(res.message)
        obj = float(-res.fun)
        bound = getattr(res, "mip_dual_bound", None)
        bound_v = float(-bound) if bound is not None and np.isfinite(bound) else np.inf
        if res.status == 0 and not np.isfinite(bound_v):
            bound_v = obj
        chosen = [int(x) for x in sites[res.x[:ny] > 0.5]]
        return chosen, obj, max(bound_v, obj), int(res.status), str(res.message)

    def _conflict_rows(self, sites: NDArray[np.int64]) -> sparse.csr_matrix | None:
        """``y_i + y_j <= 1`` for each conflicting pair with both sites among ``sites``, as
        rows over the ``sites`` columns; None when there is none."""
        if not len(self.conflicts):
            return None
        pos = np.full(self.n_sites, -1)
        pos[sites] = np.arange(len(sites))
        p = pos[self.conflicts]
        p = p[(p >= 0).all(axis=1)]
        if not len(p):
            return None
        return sparse.coo_matrix((np.ones(2 * len(p)),
                                  (np.repeat(np.arange(len(p)), 2), p.ravel())),
                                 shape=(len(p), len(sites))).tocsr()

    def max_feasible_count(self, time_limit: float = 20.0) -> int:
        """The largest number of sites the spacing, caps, exclusions and budget allow."""
        sites = np.flatnonzero(self.allowed)
        ny = len(sites)
        rows, hi = [], []
        C = self._conflict_rows(sites)
        if C is not None:
            rows.append(C)
            hi.append(np.ones(C.shape[0]))
        capped = np.flatnonzero(np.isfinite(self._caps))
        for g in capped:
            rows.append(sparse.csr_matrix((self._gid[sites] == g).astype(float)[None, :]))
            hi.append(np.array([self._caps[g]]))
        if self.budget is not None and self.costs is not None:
            rows.append(sparse.csr_matrix(self.costs[sites][None, :]))
            hi.append(np.array([self.budget]))
        if not rows:
            return ny
        res = milp(-np.ones(ny), integrality=np.ones(ny), bounds=Bounds(0, 1),
                   constraints=LinearConstraint(sparse.vstack(rows, format="csr"), -np.inf,
                                                np.concatenate(hi)),
                   options={"time_limit": time_limit})
        if res.x is None:
            return 0
        return round(-res.fun)

    def _infeasible(self, placed: int) -> InvalidInput:
        parts = []
        if self.min_spacing:
            parts.append(f"minimale onderlinge afstand {self.min_spacing:g} m")
        elif len(self.conflicts):
            parts.append("de verboden combinaties van locaties (afstandseis)")
        if np.isfinite(self._caps).any():
            parts.append("de maxima per wijk")
        if (~self.allowed).any():
            parts.append(f"{int((~self.allowed).sum())} uitgesloten kandidaten")
        why = " samen met ".join(parts) if parts else "de beperkingen"
        return InvalidInput(
            f"onhaalbaar: {why} laten maar {placed} nieuwe locaties toe, er zijn er {self.k} "
            "gevraagd; verlaag het aantal of versoepel de eisen")

    # -- solve --
    def solve(self, method: str = "auto", *, gap: float = 0.01, time_limit: float = 60.0,
              swap: bool = True) -> CoverageSolution:
        """Solve; see the module docstring for the methods. ``gap`` is the relative optimality
        gap the ``auto`` method must prove (on the weight the new sites can add)."""
        if method not in _METHODS:
            raise InvalidInput(f"onbekende methode '{method}': kies uit {', '.join(_METHODS)}")
        if not 0 <= gap < 1:
            raise InvalidInput(f"gap moet tussen 0 en 1 liggen (kreeg {gap})")
        t0 = time.perf_counter()
        log: list[str] = []
        heur: list[int] = []
        heur_val = -np.inf
        how = ""
        if method in _METHODS:
            heur, how = self.heuristic(swap=swap and method != "greedy")
            heur_val = self.evaluate(heur) - self.constant
            log.append(f"{how}: {heur_val:.6g}")
            if self.k is not None and self.budget is None and len(heur) < self.k:
                n_max = self.max_feasible_count()
                if n_max < self.k:
                    raise self._infeasible(n_max)
                heur, heur_val = [], -np.inf  # greedy got stuck; leave it to the MILP
                method = "milp"
        if method in ("greedy", "heuristic"):
            bound = self._lp_bound()[0]
            log.append(f"LP-bovengrens: {bound:.6g}")
            return self._result(heur, how, bound, gap, t0, log, milp_status=None)
        best, best_val, how_best = heur, heur_val, (how if heur else "")
        fix0 = fix1 = None
        if heur:
            bound, fix0, fix1 = self._lp_bound(heur_val)
            log.append(f"LP-bovengrens: {bound:.6g}; met reduced-cost fixing "
                       f"{int(fix0.sum()) if fix0 is not None else 0} kandidaten uitgesloten, "
                       f"{int(fix1.sum()) if fix1 is not None else 0} vastgezet")
            if method == "auto" and _rel_gap(heur_val, bound) <= gap:
                return self._result(heur, how, bound, gap, t0, log, milp_status=0)
        else:
            bound = np.inf
        rel = gap if method == "auto" else 1e-9
        chosen, val, mbound, status, msg = self._milp(rel_gap=rel, time_limit=time_limit,
                                                      fix0=fix0, fix1=fix1)
        log.append(f"MILP (HiGHS): status {status}, {val:.6g}, grens {mbound:.6g}: {msg}")
        if chosen is None and not heur:
            if status == 2:
                raise self._infeasible(self.max_feasible_count())
            raise InvalidInput(f"geen oplossing gevonden binnen {time_limit:g} s ({msg})")
        if chosen is not None:
            cval = self.evaluate(chosen) - self.constant
            if cval > best_val + 1e-9 * max(abs(best_val), 1.0):
                best, best_val, how_best = chosen, cval, "milp"
        if status == 2 and heur:
            mbound = best_val  # fixing left nothing better than the heuristic: it is optimal
        if np.isfinite(mbound):
            # solutions cut by the fixings are worse than the heuristic
            bound = min(bound, max(mbound, best_val))
        return self._result(best, how_best, bound, gap, t0, log, milp_status=status)

    def _result(self, sites: list[int], method: str, bound_new: float, gap: float, t0: float,
                log: list[str], milp_status: int | None) -> CoverageSolution:
        order, gains = self.rank(sites)
        obj = self.constant + float(gains.sum())
        obj_new = obj - self.constant
        bound_new = max(bound_new, obj_new) if np.isfinite(bound_new) else np.inf
        g = _rel_gap(obj_new, bound_new)
        proven = bool(g <= gap + 1e-12)
        if g <= 1e-9:
            status = "bewezen optimaal"
        elif proven:
            status = f"bewezen binnen {100 * gap:g}% van het optimum"
        elif np.isfinite(g):
            status = f"niet bewezen: maximaal {100 * g:.2f}% onder het optimum"
        else:
            status = "geen bovengrens bekend"
        if milp_status == 1:
            status += " (tijdslimiet bereikt)"
        return CoverageSolution(
            sites=order, gains=gains, objective=obj, covered_by_existing=self.constant,
            bound=self.constant + bound_new, gap=g, proven=proven, method=method, status=status,
            total_weight=self.total_weight, seconds=time.perf_counter() - t0,
            covered=self.covered_mask(order), log=tuple(log))


def _rel_gap(value: float, bound: float) -> float:
    if not np.isfinite(bound):
        return np.inf
    if bound <= 1e-12:
        return 0.0
    return max(0.0, (bound - value) / bound)
