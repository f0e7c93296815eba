"""Simulation study of the effect evaluation (issue 15, ``docs/evaluation.md``).

Simulated burglary on the Helmond grid (needs GEOVEILIG_GEO_DIR, default ``../shared/geo``):
a stationary Poisson process and a self-exciting near-repeat process
(``geoveilig.hotspots.simulate``). Every 13 weeks after a burn-in the tool's own planner
(prospective risk from the incidents before the origin, the coverage core of
``recommend_alarms``) places an alarm (radius 150 m, 42 days) at its best site; the sites
ranked 2..11 of the same run are the controls (``placement.study.simulate_deployments``).

Scenarios, each for both processes:

* ``null-helmond``: no true effect at Helmond's burglary rate (469 per year);
* ``null-10x``: no true effect at ten times that rate (all property crime), radius 300 m and
  91 days: the counts are large enough for conclusive verdicts, so a biased design shows its
  false alarms here;
* ``effect30-helmond``: a true 30% reduction inside the circle during the deployment, at
  Helmond's rate: the detection rate ("daling") and the median minimal detectable effect.

Side by side: the pre-issue estimator (``_legacy_evaluation.py``: *before* = the weeks just
before the start, controls matched on counts) on the same placements. Reported: the share
labelled an effect ("daling" or "stijging") with its Clopper-Pearson 95% interval, n, and for
the effect scenario the detection rate and the median MDE. Prints a table and a JSON line.

    python benchmarks/bench_evaluation.py [--histories 30] [--seed 15]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))

from _legacy_evaluation import evaluate_deployment as legacy_evaluate

from geoveilig.areas import load_areas
from geoveilig.placement.study import (
    HELMOND_BURGLARIES_PER_YEAR,
    PROCESSES,
    clopper_pearson,
    simulate_deployments,
)

EFFECT_LABELS = ("daling", "stijging")


def _share(labels: pd.Series, which: tuple[str, ...]) -> dict[str, float]:
    k, n = int(labels.isin(which).sum()), len(labels)
    lo, hi = clopper_pearson(k, n)
    return {"k": k, "n": n, "share": k / n if n else float("nan"), "ci_low": lo, "ci_high": hi}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--histories", type=int, default=30,
                    help="simulated 4-year histories per process and rate (10 deployments each)")
    ap.add_argument("--seed", type=int, default=15)
    args = ap.parse_args()
    geo = Path(os.environ.get("GEOVEILIG_GEO_DIR", Path(__file__).parents[1] / ".." / "shared"
                              / "geo"))
    areas = load_areas(geo)
    results = []
    t_all = time.perf_counter()
    for process in PROCESSES:
        for rate_name, rate, radius, days, effects in (
                ("helmond", HELMOND_BURGLARIES_PER_YEAR, 150.0, 42.0, (1.0, 0.7)),
                ("10x", 10 * HELMOND_BURGLARIES_PER_YEAR, 300.0, 91.0, (1.0,))):
            t0 = time.perf_counter()
            df = simulate_deployments(areas, process, n_histories=args.histories,
                                      seed=args.seed, effects=effects, rate_per_year=rate,
                                      radius=radius, duration_days=days,
                                      extra={"legacy": legacy_evaluate})
            secs = time.perf_counter() - t0
            for effect, g in df.groupby("effect"):
                scen = f"{'null' if effect == 1.0 else 'effect30'}-{rate_name}"
                row = {"process": process, "scenario": scen, "seconds": round(secs, 1),
                       "new": _share(g["label"], EFFECT_LABELS),
                       "legacy": _share(g["label_legacy"], EFFECT_LABELS),
                       "new_decline": _share(g["label"], ("daling",)),
                       "legacy_decline": _share(g["label_legacy"], ("daling",)),
                       "too_early_share": float((g["label"] == "te vroeg om te zeggen").mean()),
                       "median_mde": float(np.nanmedian(g["mde"])),
                       "median_rr": float(np.nanmedian(g["rate_ratio"])),
                       "median_rr_legacy": float(np.nanmedian(g["rate_ratio_legacy"])),
                       "median_treated_before": float(np.nanmedian(g["treated_before"])),
                       "median_treated_during": float(np.nanmedian(g["treated_during"]))}
                results.append(row)
                print(f"{process:<14} {scen:<17} n={row['new']['n']:>4}  "
                      f"effect-labelled new {row['new']['share']:6.1%} "
                      f"[{row['new']['ci_low']:.1%}, {row['new']['ci_high']:.1%}]  "
                      f"legacy {row['legacy']['share']:6.1%} "
                      f"[{row['legacy']['ci_low']:.1%}, {row['legacy']['ci_high']:.1%}]  "
                      f"daling new {row['new_decline']['share']:6.1%}  "
                      f"te vroeg {row['too_early_share']:6.1%}  "
                      f"MDE {row['median_mde']:.0%}  RR {row['median_rr']:.2f} "
                      f"(legacy {row['median_rr_legacy']:.2f})  "
                      f"counts {row['median_treated_before']:.0f}/"
                      f"{row['median_treated_during']:.0f}", flush=True)
    nulls = [r for r in results if r["scenario"].startswith("null")]
    ok = all(r["new"]["share"] <= 0.05 for r in nulls)
    print(f"\nfalse-alarm share <= 5% in every null scenario: {ok}; "
          f"total {time.perf_counter() - t_all:.0f} s")
    print(json.dumps({"benchmark": "evaluation", "histories": args.histories,
                      "seed": args.seed, "passes": ok, "results": results}))


if __name__ == "__main__":
    main()
