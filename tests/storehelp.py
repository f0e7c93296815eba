"""Helpers for the store tests: a ParseResult straight from (demo) incidents."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from geoveilig.incidents import ParseResult, content_hash

CONTENT = ["crime_type", "occurred_at", "occurred_from", "occurred_to", "address", "x", "y"]


def parsed(incidents: gpd.GeoDataFrame) -> ParseResult:
    frame = incidents.copy()
    if "address" not in frame:
        frame["address"] = None
    frame["row"] = range(2, len(frame) + 2)
    frame["content_hash"] = content_hash(frame[CONTENT])
    rejects = pd.DataFrame({"row": pd.Series(dtype="int64"), "column": pd.Series(dtype=object),
                            "value": pd.Series(dtype=object), "reason": pd.Series(dtype=object)})
    return ParseResult(incidents=frame, rejects=rejects, n_rows=len(frame),
                       coordinate_system=None)
