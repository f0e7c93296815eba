"""Demo deployments: the deployments the source document (Helmond, 2018) names, placed
synthetically. Every row is labelled ``synthetic`` and says in ``note`` what is invented.

* mobile alarm systems in the Annawijk (2017 CBS: buurt BU07941006 "Annabuurt en Suytkade")
  from 1 November 2017; the number of systems and their addresses are not public: 8 units at
  seeded random points inside the buurt;
* the flexible camera at the Haaglaan ('t Haagje, Helmond-West) from 1 July 2017; the exact
  spot is not public: a central point of buurt BU07941500 "West", flagged ``approximate``;
* the 19 BuurtTent visits of 2017: dates (Saturdays spread over the year) and buurten are
  invented (seeded), one day each.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import RD_NEW
from ..areas import Areas
from ..errors import AreaError
from ..placement.policies import central_points

__all__ = ["demo_deployments"]

ALARM_BUURT = "BU07941006"
CAMERA_BUURT = "BU07941500"
N_ALARMS = 8
N_BUURTTENT_2017 = 19
SOURCE = "demo: bestuursrapportage veiligheid Helmond 2018 (synthetisch geplaatst)"


def _points_in(polygon: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    minx, miny, maxx, maxy = polygon.bounds
    shapely.prepare(polygon)
    pts: list[np.ndarray] = []
    while sum(len(p) for p in pts) < n:
        xy = rng.uniform((minx, miny), (maxx, maxy), size=(4 * n, 2))
        pts.append(xy[shapely.contains_xy(polygon, xy[:, 0], xy[:, 1])])
    return np.vstack(pts)[:n]


def demo_deployments(areas: Areas, seed: int = 2017) -> gpd.GeoDataFrame:
    """The demo deployments as a GeoDataFrame (EPSG:28992) in the shape
    ``geoveilig.store.deployments.add_deployments`` takes."""
    rng = np.random.default_rng(seed)
    b = areas.buurten.set_index("code")
    for code in (ALARM_BUURT, CAMERA_BUURT):
        if code not in b.index:
            raise AreaError(f"demo-inzetten: buurt {code} ontbreekt in de gebiedsindeling")
    rows: list[dict[str, object]] = []
    alarm_xy = _points_in(b.geometry[ALARM_BUURT], N_ALARMS, rng)
    for i, (x, y) in enumerate(alarm_xy, start=1):
        rows.append({
            "kind": "alarm", "label": f"Mobiel alarmsysteem {i} (demo)",
            "geometry": shapely.Point(round(x, 1), round(y, 1)), "radius_m": 150.0,
            "buurt_code": ALARM_BUURT, "wijk_code": b.loc[ALARM_BUURT, "wijk_code"],
            "start": pd.Timestamp("2017-11-01"), "end": pd.NaT, "units": 1,
            "approximate": True, "synthetic": True, "source": SOURCE,
            "note": "aantal systemen en adressen verzonnen; alleen buurt en startmaand komen "
                    "uit de bron (Annawijk, november 2017)"})
    cam = central_points(b.loc[[CAMERA_BUURT]])[0]
    rows.append({
        "kind": "camera", "label": "Flexibele camera Haaglaan (demo, plaats benaderd)",
        "geometry": cam, "radius_m": 75.0, "buurt_code": CAMERA_BUURT,
        "wijk_code": b.loc[CAMERA_BUURT, "wijk_code"], "start": pd.Timestamp("2017-07-01"),
        "end": pd.NaT, "units": 1, "approximate": True, "synthetic": True, "source": SOURCE,
        "note": "de bron noemt de Haaglaan ('t Haagje, Helmond-West) sinds juli 2017; het punt "
                "is een centraal punt van buurt West, niet de echte cameraplek"})
    saturdays = pd.date_range("2017-01-01", "2018-01-01", freq="W-SAT", inclusive="left")
    pick = np.round(np.linspace(2, len(saturdays) - 3, N_BUURTTENT_2017)).astype(int)
    eligible = b.loc[~b["wijk_code"].isin(["WK079429"])]  # not in the industrial estate
    chosen = rng.choice(len(eligible), size=N_BUURTTENT_2017, replace=False)
    codes = eligible.index.to_numpy()[chosen]
    pts = central_points(eligible.iloc[chosen])
    for i, (day, code, pt) in enumerate(zip(saturdays[pick], codes, pts, strict=True), start=1):
        rows.append({
            "kind": "buurttent", "label": f"BuurtTent 2017 #{i} (demo)", "geometry": pt,
            "radius_m": None, "buurt_code": code, "wijk_code": b.loc[code, "wijk_code"],
            "start": day, "end": day + pd.Timedelta(days=1), "units": 1,
            "approximate": True, "synthetic": True, "source": SOURCE,
            "note": "de bron noemt 19 inzetten in 2017; data en buurten zijn verzonnen"})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=RD_NEW)
