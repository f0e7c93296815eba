"""The fast import path gives exactly what the import gave before it was made fast.

``tests/data/every_error.csv`` holds one row for every kind of error the import knows (missing
id, unknown type, unknown police code, code and class that disagree, unknown and withdrawn
status, unreadable, future and missing dates, a reversed window, a moment outside its window,
missing, unreadable, lon/lat-like, invalid and outside-the-gemeente coordinates, thousands
separators, a neutralised formula, ids repeated with other and with the same content, a day
that does not exist, ISO/aware/compact dates, the spring and autumn DST hours).
``every_error.expected.json`` is the output of the import at commit f466c81 (before the speed
work of issue 16); every valid row, every rejected value and reason must stay the same."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from geoveilig.incidents import parse_incidents

DATA = Path(__file__).parent / "data"


def _snapshot(parsed) -> dict:
    return {"n_rows": parsed.n_rows, "coordinate_system": parsed.coordinate_system,
            "duplicates_in_file": parsed.duplicates_in_file, "columns": parsed.columns,
            "ignored_columns": parsed.ignored_columns,
            "rejects": parsed.rejects.astype(str).values.tolist(),
            "frame_columns": list(parsed.frame.columns),
            "frame": parsed.frame.astype(str).values.tolist()}


def test_every_kind_of_error_gives_the_same_result_as_before(areas):
    data = (DATA / "every_error.csv").read_bytes()
    parsed = parse_incidents(data, filename="every_error.csv", areas=areas,
                             now=pd.Timestamp("2018-01-01", tz="Europe/Amsterdam"))
    expected = json.loads((DATA / "every_error.expected.json").read_text(encoding="utf-8"))
    got = json.loads(json.dumps(_snapshot(parsed), ensure_ascii=False))
    for key in expected:
        assert got[key] == expected[key], key
    # the file really holds every kind of error: 19 bad rows, 11 good ones (one exact repeat)
    assert parsed.rejected_rows == 19 and len(parsed.frame) == 10


def _parse(data: bytes, areas, parallel_rows: int, monkeypatch):
    from geoveilig import incidents

    monkeypatch.setattr(incidents, "PARALLEL_ROWS", parallel_rows)
    return parse_incidents(data, filename="every_error.csv", areas=areas,
                           now=pd.Timestamp("2018-01-01", tz="Europe/Amsterdam"))


def test_fields_checked_in_parallel_give_the_same_result(areas, monkeypatch):
    """Large files have their fields checked on threads (``PARALLEL_ROWS``): the file with
    every kind of error, read that way, gives the result of before; and repeated 40 times
    (bad rows spread over the whole file, ids made unique per copy) the same valid rows,
    rejects, row numbers and order as one field after another."""
    data = (DATA / "every_error.csv").read_bytes()
    parallel = _parse(data, areas, 0, monkeypatch)
    expected = json.loads((DATA / "every_error.expected.json").read_text(encoding="utf-8"))
    got = json.loads(json.dumps(_snapshot(parallel), ensure_ascii=False))
    for key in expected:
        assert got[key] == expected[key], key

    header, *lines = data.decode("utf-8").splitlines()
    copies = [header]
    for k in range(40):  # a copy's ids get a suffix; an empty id stays empty
        copies += [line if line.startswith(";") else line.replace(";", f"-{k};", 1)
                   for line in lines]
    big = ("\n".join(copies) + "\n").encode("utf-8")
    serial = _parse(big, areas, 10**9, monkeypatch)
    parallel = _parse(big, areas, 0, monkeypatch)
    assert serial.rejected_rows == 40 * 19 and len(serial.frame) == 40 * 10
    assert serial.rejects["row"].max() > 39 * 30 + 1  # rejects in the last copy too
    pd.testing.assert_frame_equal(parallel.frame, serial.frame)
    pd.testing.assert_frame_equal(parallel.rejects, serial.rejects)
    assert _snapshot(parallel) == _snapshot(serial)


def test_fields_checked_in_parallel_raise_the_same_error(areas, monkeypatch):
    """An error found while the fields are checked on threads is the one found checking them
    one after another."""
    from geoveilig.errors import InvalidInput

    lines = ["id;soort;datum;x;y"] + [
        f"r{k};woninginbraak;14-03-2017;{x};{y}" for k, (x, y) in enumerate(
            [(173624.5, 388270.2), (5.66, 51.48)] * 10)]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    messages = []
    for limit in (10**9, 0):
        with pytest.raises(InvalidInput) as exc:
            _parse(data, areas, limit, monkeypatch)
        messages.append(str(exc.value))
    assert messages[0] == messages[1] and "dubbelzinnig" in messages[0]
