"""A small seeded version of the simulation study (``benchmarks/bench_evaluation.py``):
deployments placed by the tool's own planner on simulated crime without any effect must not be
labelled an effect more often than the nominal 5%; with a large true reduction the estimate
must follow it."""

from __future__ import annotations

import pytest

from geoveilig.placement.study import HELMOND_BURGLARIES_PER_YEAR, simulate_deployments

#: ten times Helmond's burglary rate, 300 m, 13 weeks: counts large enough for conclusive
#: verdicts, so a design that mistakes regression to the mean for an effect shows it here
STRESS = {"rate_per_year": 10 * HELMOND_BURGLARIES_PER_YEAR, "radius": 300.0,
          "duration_days": 91.0}


@pytest.mark.parametrize("process", ["poisson", "self-exciting"])
def test_no_effect_is_rarely_called_an_effect(areas, process):
    df = simulate_deployments(areas, process, n_histories=3, seed=21, effects=(1.0, 0.3),
                              **STRESS)
    null = df.loc[df["effect"] == 1.0]
    assert len(null) == 30
    called = null["label"].isin(["daling", "stijging"])
    # the limit is 5%; of 30 deployments at most 1 (the pre-issue design called 10-25% here)
    assert called.sum() <= 1, null[["label", "rate_ratio", "p_value"]]
    # controls: sites ranked below in the same run, 250 m clear of the deployment
    assert (null["n_controls"] >= 3).all() and (null["n_controls"] <= 10).all()
    # the estimate follows the truth: about 1 without an effect, far below 1 with a true 70%
    # reduction (few single deployments are conclusive at these counts: the MDE says so)
    strong = df.loc[df["effect"] == 0.3]
    assert 0.7 < null["rate_ratio"].median() < 1.4
    assert strong["rate_ratio"].median() < 0.6
    assert (strong["label"] == "stijging").sum() == 0
    assert (strong["mde"] > 0).all() and (strong["mde"] <= 1).all()
