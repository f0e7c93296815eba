"""The one time rule (geoveilig.times) and safe CSV writing (geoveilig.safecsv)."""
import io

import pandas as pd
import pytest

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
