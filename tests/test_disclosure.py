"""Unit tests of ``geoveilig.disclosure``: cells, the perturbation table, the month view of
incident times (the attacks themselves are in test_privacy_attacks.py)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from geoveilig import disclosure
from geoveilig.disclosure import PTABLE, Policy
from geoveilig.errors import InvalidInput


def test_fixed_periods_only() -> None:
    assert disclosure.period_key(date(2017, 1, 1), date(2018, 1, 1)) == "2017"
    assert disclosure.period_key(date(2017, 4, 1), date(2017, 7, 1)) == "2017-Q2"
    assert disclosure.period_key(date(2017, 2, 1), date(2017, 3, 1)) == "2017-02"
    for a, b in ((date(2017, 2, 1), date(2017, 5, 1)), (date(2017, 1, 2), date(2017, 2, 1)),
                 (date(2017, 1, 1), date(2017, 1, 8)), (date(2017, 7, 1), date(2018, 7, 1))):
        assert disclosure.period_key(a, b) is None
        with pytest.raises(InvalidInput):
            disclosure.check_public_period(a, b)


def test_published_rows_only() -> None:
    from geoveilig.crimetypes import GROUPS, SLUGS

    assert disclosure.published_row(SLUGS) == "totaal"
    assert disclosure.published_row(GROUPS["hic"]) == "hic"
    assert disclosure.published_row(("overval",)) == "overval"
    assert disclosure.published_row(("overval", "woninginbraak")) is None
    with pytest.raises(InvalidInput):
        disclosure.check_public_row(("overval", "woninginbraak"))


def test_noise_follows_the_table_and_is_deterministic() -> None:
    policy = Policy(b"unit-test-secret-1234")
    cells = [f"wijk|WK{i}|totaal|2017" for i in range(20_000)]
    noise = policy.noise(cells)
    assert np.array_equal(noise, policy.noise(cells))  # the same cell, the same noise
    assert not np.array_equal(noise, Policy(b"another-secret-12345").noise(cells))
    for e, p in PTABLE:
        assert abs(np.mean(noise == e) - p) < 0.01, e
    values, small = policy.protect([0, 1, 4, 5, 6, 1000, None], cells[:7])
    assert values.iloc[0] == 0 and values.iloc[1:3].isna().all() and values.iloc[6] is pd.NA
    assert small.tolist() == [False, True, True, False, False, False, False]
    assert values.iloc[3] >= 5 and values.iloc[4] >= 5
    assert abs(values.iloc[5] - 1000) <= 3
    with pytest.raises(InvalidInput):
        Policy.from_secret("kort")


def test_policy_secret_from_a_file_made_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    key = tmp_path / "disclosure.key"
    first = disclosure.policy_for(None, key)
    assert key.stat().st_mode & 0o777 == 0o600
    assert disclosure.policy_for(None, key) == first
    assert disclosure.policy_for("x" * 20, key).secret == b"x" * 20


def test_month_times() -> None:
    t = pd.Series(pd.to_datetime(["2017-03-01 00:30", "2017-03-31 23:59", None]).tz_localize(
        "Europe/Amsterdam"))
    out = disclosure.month_times(pd.DataFrame({"occurred_at": t}))["occurred_at"]
    assert out.iloc[0] == out.iloc[1] == pd.Timestamp("2017-03-15", tz="Europe/Amsterdam")
    assert pd.isna(out.iloc[2])
    assert disclosure.month_start(date(2017, 3, 31)) == date(2017, 3, 1)
