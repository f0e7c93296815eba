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
