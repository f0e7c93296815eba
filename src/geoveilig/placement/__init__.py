"""Placement: where to put mobile alarm systems, BuurtTent visits and flexible cameras.

* ``coverage``: the optimisation core, the weighted maximal covering location problem
  (``MCLP.from_points(...).solve()``: lazy greedy + swap, LP bound, exact HiGHS MILP);
* ``policies``: risk cells -> ranked, explained recommendations (``recommend_alarms``,
  ``recommend_cameras``, ``plan_buurttent``, generic ``recommend_sites``);
* ``evaluation``: did a deployment help (``evaluate_deployment``, difference-in-differences
  with a pre-period before the selection window and controls chosen by the same rule:
  ``controls_from_plan``, ``controls_by_risk``; see docs/evaluation.md);
* ``interim``: stand-in demand (when the hotspot engine has too little data) and the BuurtTent
  table per buurt (used by ``geoveilig recommend``).

CLI::

    geoveilig recommend alarms --count K [--radius 150] [--origin DATE] [--window 28d]
                               [--keep-existing] [--min-spacing M] [--duration-days D]
                               [--method M] [--backtest] --out F
    geoveilig recommend cameras --count K [--radius 75] [--origin DATE] [--window 28d]
                                [--keep-existing] [--min-spacing M] [--method M] [--backtest]
                                --out F
    geoveilig recommend buurttent --count K --year Y [--min-gap-weeks 8] [--slot W-SAT] --out F
"""

from .coverage import MCLP, CoverageSolution, coverage_matrix, spacing_conflicts
from .evaluation import (
    ControlSet,
    EffectEstimate,
    controls_by_risk,
    controls_from_plan,
    evaluate_deployment,
)
from .policies import (
    DEFAULT_RADIUS_M,
    Labels,
    Recommendation,
    Rotation,
    Schedule,
    SiteRules,
    SolverOptions,
    plan_buurttent,
    recommend_alarms,
    recommend_cameras,
    recommend_sites,
)

__all__ = [
    "DEFAULT_RADIUS_M",
    "MCLP",
    "ControlSet",
    "CoverageSolution",
    "EffectEstimate",
    "Labels",
    "Recommendation",
    "Rotation",
    "Schedule",
    "SiteRules",
    "SolverOptions",
    "controls_by_risk",
    "controls_from_plan",
    "coverage_matrix",
    "evaluate_deployment",
    "plan_buurttent",
    "recommend_alarms",
    "recommend_cameras",
    "recommend_sites",
    "spacing_conflicts",
]
