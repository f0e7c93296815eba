"""The one time rule (geoveilig.times) and safe CSV writing (geoveilig.safecsv)."""
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from geoveilig import safecsv, times
from geoveilig.errors import InvalidInput


def test_naive_is_amsterdam_wall_clock_and_aware_is_converted():
    assert str(times.local_timestamp("2017-01-01 10:00")) == "2017-01-01 10:00:00+01:00"
    assert str(times.local_timestamp("2017-07-01T08:00:00Z")) == "2017-07-01 10:00:00+02:00"
    # the autumn hour that occurs twice: standard time (as the importer); the spring gap: +1 h
    assert str(times.local_timestamp("2017-10-29 02:30")) == "2017-10-29 02:30:00+01:00"
    assert str(times.local_timestamp("2017-03-26 02:30")) == "2017-03-26 03:30:00+02:00"
    s = times.local_series(pd.Series(["2017-10-29 02:30", None]))
    assert str(s.iloc[0]) == "2017-10-29 02:30:00+01:00" and pd.isna(s.iloc[1])


def _pandas_rule(s: pd.Series) -> pd.Series:
    """The rule of ``local_series`` as pandas applies it value by value."""
    return s.dt.tz_localize(times.TIMEZONE, ambiguous=np.zeros(len(s), dtype=bool),
                            nonexistent=pd.Timedelta(hours=1))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["1937-06-30 22:00", "1940-05-15 23:00", "1977-04-03 00:00",
                        "2017-03-26 00:00", "2017-10-29 00:00", "2026-03-29 01:00",
                        "1900-01-01 00:00", "2200-12-31 20:00"]),
       st.lists(st.one_of(st.integers(0, 6 * 3600), st.none()), min_size=1, max_size=60),
       st.sampled_from(["s", "ms", "us", "ns"]), st.integers(0, 3))
# the clock changed inside an hour (1937, 1940)
@example("1937-06-30 22:00", [2 * 3600 + 10, 2 * 3600 + 1800, 3 * 3600], "ns", 0)
@example("1940-05-15 23:00", [7200 + 59 * 60, 7200], "s", 0)
@example("2017-03-26 00:00", [2 * 3600 + 1800, 3 * 3600 + 1800], "us", 0)  # the spring gap
@example("2017-10-29 00:00", [2 * 3600 + 1800, 3 * 3600 - 1, 3 * 3600], "ns", 0)  # twice
def test_local_series_by_its_hour_table_is_pandas_rule(start: str, seconds: list[int | None],
                                                      unit: str, spread: int) -> None:
    """Naive wall-clock times through the table of the hours they span
    (``times._by_hour_table``) get exactly the times pandas gives them one by one: around
    the clock changes, in the spring gap and the autumn hour that occurs twice, where the
    Dutch clock changed inside an hour (1937, 1940: the table does not hold and pandas
    decides), with missing values, in every unit."""
    base = pd.Timestamp(start).as_unit(unit)
    step = pd.Timedelta(days=40) * spread  # the same times spread over months
    values = [pd.NaT if s is None else base + pd.Timedelta(seconds=s) + step * (k % 3)
              for k, s in enumerate(seconds)]
    series = pd.Series(pd.DatetimeIndex(values).as_unit(unit), index=range(7, 7 + len(values)))
    expected = _pandas_rule(series)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(times, "HOUR_TABLE_FROM", 1)
        mp.setattr(times, "HOURS_PER_TIME", 10**6)
        got = times.local_series(series)
    pd.testing.assert_series_equal(got, expected)


def test_local_series_of_many_times_uses_its_hour_table():
    """A large column takes the table (``HOUR_TABLE_FROM``), and the result is pandas'."""
    rng = np.random.default_rng(3)
    naive = pd.Series(pd.Timestamp("2016-01-01").as_unit("ns")
                      + pd.to_timedelta(rng.integers(0, 365 * 86400, 50_000), unit="s"))
    naive.iloc[::97] = pd.NaT
    raw = naive.to_numpy().view(np.int64)
    assert times._by_hour_table(raw, "ns") is not None
    pd.testing.assert_series_equal(times.local_series(naive), _pandas_rule(naive))
    # the hours spanned outnumber a quarter of the times: pandas alone
    wide = naive.iloc[:100].copy()
    wide.iloc[0] = pd.Timestamp("1950-01-01")
    assert times._by_hour_table(wide.to_numpy().view(np.int64), "ns") is None


@pytest.mark.parametrize("value", ["3000-01-01", "2262-04-11", "1677-09-21 12:00", "1500-06-01"])
def test_user_dates_outside_what_the_library_computes_with_are_refused(value: str) -> None:
    """A date pandas reads (in another unit than ns) but no column of the library can hold:
    a Dutch error naming it, from both parsers of user input."""
    from geoveilig.hotspots.events import as_timestamp

    with pytest.raises(InvalidInput, match=f"datum '{value}' valt buiten") as info:
        times.parse_local(value, where="origin")
    assert info.value.where == "origin"
    with pytest.raises(InvalidInput, match="valt buiten"):
        as_timestamp(value, "--origin")
    with pytest.raises(InvalidInput, match="datum '3000-01-01' valt buiten"):
        times.parse_local(pd.Timestamp("3000-01-01"))


def test_user_dates_near_the_ends_are_kept() -> None:
    assert str(times.parse_local("2262-04-09")) == "2262-04-09 00:00:00+02:00"
    assert times.parse_local("1677-09-23").year == 1677


def test_parse_local_gives_a_dutch_error():
    with pytest.raises(InvalidInput, match="ongeldige datum"):
        times.parse_local("gisteren", where="origin")


@pytest.mark.parametrize("value", ["=cmd|' /C calc'!A0", "+HYPERLINK(\"x\")", "@SUM(A1)",
                                   "-1+1", "\tx"])
def test_formula_prefixes_are_neutralised_and_round_trip(value):
    frame = pd.DataFrame({"omschrijving": [value, "gewoon"], "n": [1, 2]})
    text = safecsv.to_csv(frame, index=False, sep=";")
    assert "\n" + value not in text and ";" + value not in text
    back = safecsv.restore_frame(pd.read_csv(io.StringIO(text), sep=";", dtype=str,
                                             keep_default_na=False))
    assert back["omschrijving"].tolist() == [value, "gewoon"]


@pytest.mark.parametrize("value", ["-5", "+31", "-3,5", "1e-3"])
def test_numbers_stay_numbers(value):
    assert safecsv.neutralise(value) == value
    assert safecsv.restore(value) == value


def test_carriage_return_prefix_is_neutralised():
    assert safecsv.neutralise("\rx") == "'\rx" and safecsv.restore("'\rx") == "\rx"


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_epoch_seconds_whatever_the_resolution(unit):
    s = pd.Series(pd.to_datetime(["2017-03-14 21:30:59", None, "1999-12-31 23:00:00"])
                  .as_unit(unit)).dt.tz_localize("Europe/Amsterdam")
    seconds, null = times.epoch_seconds(s)
    assert null.tolist() == [False, True, False]
    assert seconds[0] == int(pd.Timestamp("2017-03-14 20:30:59", tz="UTC").timestamp())
    assert seconds[2] == int(pd.Timestamp("1999-12-31 22:00", tz="UTC").timestamp())
