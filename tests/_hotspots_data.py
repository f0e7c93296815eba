"""Shared synthetic data for the hotspot tests (a second, non-Helmond city included)."""

from __future__ import annotations

import shapely

#: A synthetic "second city" in UTM zone 31N (EPSG:32631): an L-shaped town with a hole (a
#: lake), nothing like Helmond.
OTHER_CRS = "EPSG:32631"
OTHER_CITY = shapely.Polygon(
    [(600_000, 5_700_000), (606_000, 5_700_000), (606_000, 5_703_000), (603_000, 5_703_000),
     (603_000, 5_707_000), (600_000, 5_707_000)],
    holes=[[(601_000, 5_701_000), (602_000, 5_701_000), (602_000, 5_702_000),
            (601_000, 5_702_000)]],
)
