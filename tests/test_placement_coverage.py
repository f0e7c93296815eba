"""The coverage core: greedy vs MILP vs brute force, constraints, explanations, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from geoveilig.errors import InvalidInput
from geoveilig.placement import MCLP, coverage_matrix, spacing_conflicts


def _instance(seed: int, n_dem: int = 40, n_sites: int = 12, size: float = 1000.0):
    rng = np.random.default_rng(seed)
    dem = rng.uniform(0, size, (n_dem, 2))
    sites = rng.uniform(0, size, (n_sites, 2))
    w = rng.gamma(0.8, 1.0, n_dem)
    return dem, w, sites


def _brute(model: MCLP, k: int, *, at_most: bool = False) -> float:
    best = -np.inf
    sizes = range(0, k + 1) if at_most else [k]
    for size in sizes:
        for combo in itertools.combinations(range(model.n_sites), size):
            if model.is_feasible(combo):
                best = max(best, model.evaluate(combo))
    return best


def test_coverage_matrix_matches_distances():
    dem, _, sites = _instance(1)
    mat = coverage_matrix(dem, sites, 250.0).toarray() > 0
    assert (mat == (cdist(dem, sites) <= 250.0)).all()
    assert mat.any()


def test_greedy_equals_milp_when_greedy_is_provably_optimal():
    # every demand point is covered by exactly one site: coverage is modular, greedy is exact
    rng = np.random.default_rng(3)
    sites = np.column_stack([np.arange(15) * 1000.0, np.zeros(15)])
    dem = np.repeat(sites, 6, axis=0) + rng.uniform(-50, 50, (90, 2))
    w = rng.gamma(1.0, 1.0, 90)
    for k in (1, 4, 9):
        model = MCLP.from_points(dem, w, sites, 100.0, k)
        greedy = model.solve("greedy")
        exact = model.solve("milp")
        assert greedy.objective == pytest.approx(exact.objective, rel=1e-9)
        assert exact.gap <= 1e-6 and exact.proven
        # the k heaviest sites, summed
        per_site = np.sort(np.bincount(np.repeat(np.arange(15), 6), weights=w))[::-1]
        assert exact.objective == pytest.approx(per_site[:k].sum(), rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_milp_is_optimal_against_brute_force(seed):
    dem, w, sites = _instance(seed)
    model = MCLP.from_points(dem, w, sites, 230.0, 3)
    opt = _brute(model, 3)
    exact = model.solve("milp")
    assert exact.objective == pytest.approx(opt, rel=1e-9)
    assert exact.bound >= opt - 1e-9
    auto = model.solve("auto")
    assert auto.objective >= 0.99 * opt - 1e-12
    assert auto.bound >= opt - 1e-9
    assert auto.proven and auto.gap <= 0.01
    heur = model.solve("heuristic")
    assert heur.objective <= opt + 1e-9
    assert heur.objective >= (1 - 1 / np.e) * opt


@pytest.mark.parametrize("seed", [4, 5])
def test_constrained_milp_against_brute_force(seed):
    dem, w, sites = _instance(seed)
    groups = np.array(["WK1", "WK2", "WK3"])[np.arange(12) % 3]
    allowed = np.ones(12, dtype=bool)
    allowed[[0, 5]] = False
    existing = np.array([[500.0, 500.0]])
    model = MCLP.from_points(dem, w, sites, 230.0, 4, existing_xy=existing, min_spacing=200.0,
                             allowed=allowed, site_groups=groups,
                             group_caps={"WK1": 1, "WK2": 2})
    opt = _brute(model, 4)
    sol = model.solve("milp")
    assert sol.objective == pytest.approx(opt, rel=1e-9)
    assert model.is_feasible(sol.sites)
    auto = model.solve()
    assert model.is_feasible(auto.sites)
    assert auto.objective >= 0.99 * opt - 1e-12
    assert auto.covered_by_existing == pytest.approx(
        w[cdist(dem, existing).ravel() <= 230.0].sum())


def test_budget_variant_against_brute_force():
    dem, w, sites = _instance(7)
    costs = np.random.default_rng(7).integers(1, 5, 12).astype(float)
    model = MCLP.from_points(dem, w, sites, 230.0, None, costs=costs, budget=6.0)
    opt = _brute(model, 12, at_most=True)
    sol = model.solve("milp")
    assert sol.objective == pytest.approx(opt, rel=1e-9)
    assert costs[sol.sites].sum() <= 6.0 + 1e-9
    auto = model.solve()
    assert costs[auto.sites].sum() <= 6.0 + 1e-9
    assert auto.objective >= 0.99 * opt - 1e-12


def test_constraints_respected_on_larger_instance():
    rng = np.random.default_rng(11)
    dem = rng.uniform(0, 5000, (3000, 2))
    w = rng.gamma(0.5, 1.0, 3000)
    sites = rng.uniform(0, 5000, (400, 2))
    groups = np.where(sites[:, 0] < 2500, "WKW", "WKO")
    excluded = (sites[:, 0] > 2000) & (sites[:, 0] < 3000)
    model = MCLP.from_points(dem, w, sites, 200.0, 12, min_spacing=600.0, allowed=~excluded,
                             site_groups=groups, group_caps={"WKW": 4})
    sol = model.solve()
    chosen = sites[sol.sites]
    assert len(sol.sites) == 12
    d = cdist(chosen, chosen)
    assert d[np.triu_indices(12, 1)].min() >= 600.0
    assert (groups[sol.sites] == "WKW").sum() <= 4
    assert not excluded[sol.sites].any()
    assert sol.proven and sol.gap <= 0.01
    # explanations add up to the objective
    assert sol.gains.sum() + sol.covered_by_existing == pytest.approx(sol.objective)
    assert np.all(np.diff(sol.gains) <= 1e-9)  # ranked by marginal gain


def test_spacing_conflicts_pairs():
    pts = np.array([[0, 0], [50, 0], [200, 0]], dtype=float)
    pairs = spacing_conflicts(pts, 100.0)
    assert pairs.tolist() == [[0, 1]]


def test_from_cost_matrix_like_spopt():
    dem, w, sites = _instance(2)
    a = MCLP.from_cost_matrix(cdist(dem, sites), w, 230.0, 3).solve("milp")
    b = MCLP.from_points(dem, w, sites, 230.0, 3).solve("milp")
    assert a.objective == pytest.approx(b.objective)


def test_from_coverage_checks_input_and_the_constructor_only_stores():
    dem, w, sites = _instance(3)
    cov = (cdist(dem, sites) <= 230.0).astype(int) * 2  # any non-zero counts as covered
    model = MCLP.from_coverage(cov, w, 3, site_groups=["a"] * 6 + ["b"] * 6,
                               group_caps={"a": 1})
    assert set(np.unique(model.coverage.data)) == {1.0}
    sol = model.solve("milp")
    assert np.sum(np.asarray(sol.sites) < 6) <= 1
    # the same model built again from its own checked arrays solves the same
    again = MCLP(model.coverage, model.weights, model.k, existing_cover=model.existing_cover,
                 allowed=model.allowed, conflicts=model.conflicts,
                 conflict_matrix=model._conf, group_ids=model._gid, group_limits=model._caps,
                 group_caps=model.group_caps, costs=None, budget=None)
    assert again.solve("milp").objective == pytest.approx(sol.objective)
    with pytest.raises(InvalidInput, match="laten samen maar 7 nieuwe locaties"):
        MCLP.from_coverage(cov, w, 8, site_groups=["a"] * 6 + ["b"] * 6, group_caps={"a": 1})
    with pytest.raises(InvalidInput, match="zonder groep per kandidaat"):
        MCLP.from_coverage(cov, w, 3, group_caps={"a": 1})
    with pytest.raises(InvalidInput, match="aantal gewichten"):
        MCLP.from_coverage(cov, w[:-1], 3)


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"k": 20}, "maar 12 toegestane kandidaatlocaties"),
    ({"radius": 0.0}, "radius moet groter dan 0"),
    ({"radius": -5.0}, "radius moet groter dan 0"),
    ({"weights": np.zeros(40)}, "geen risico"),
    ({"k": 0}, "minstens 1"),
])
def test_bad_input_messages(kwargs, fragment):
    dem, w, sites = _instance(0)
    args = {"weights": w, "radius": 200.0, "k": 3, **kwargs}
    with pytest.raises(InvalidInput, match=fragment):
        MCLP.from_points(dem, args["weights"], sites, args["radius"], args["k"]).solve()


def test_infeasible_spacing_names_the_conflict():
    sites = np.column_stack([np.arange(10) * 10.0, np.zeros(10)])  # all within 90 m
    dem = sites.copy()
    model = MCLP.from_points(dem, np.ones(10), sites, 50.0, 3, min_spacing=500.0)
    with pytest.raises(InvalidInput, match=r"minimale onderlinge afstand 500 m.*maar 1 nieuwe"):
        model.solve()


def test_infeasible_caps_names_the_conflict():
    dem, w, sites = _instance(0)
    groups = np.array(["WK1", "WK2"])[np.arange(12) % 2]
    with pytest.raises(InvalidInput, match="maxima per wijk laten samen maar 2"):
        MCLP.from_points(dem, w, sites, 200.0, 3, site_groups=groups,
                         group_caps={"WK1": 1, "WK2": 1})


def test_unknown_method():
    dem, w, sites = _instance(0)
    with pytest.raises(InvalidInput, match="onbekende methode"):
        MCLP.from_points(dem, w, sites, 200.0, 3).solve("magic")
