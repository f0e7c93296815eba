"""Placement: where to put mobile alarm systems, BuurtTent visits and flexible cameras.

``coverage`` is the optimisation core (weighted maximal covering, lazy greedy + swap, exact
MILP); ``policies`` turns risk surfaces into ranked, explained recommendations; ``evaluation``
asks whether a deployment helped.
"""

from .coverage import MCLP, CoverageSolution, coverage_matrix, spacing_conflicts

__all__ = ["MCLP", "CoverageSolution", "coverage_matrix", "spacing_conflicts"]
