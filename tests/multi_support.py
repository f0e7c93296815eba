"""A second gemeente next to Helmond for the tests of several gemeenten in one service.

``tests/data/buurdorp`` holds the synthetic gemeente GM9901 "Buurdorp" in the CBS boundary
layout (``GM_CODE``/``GM_NAAM``, ``WK_CODE``/``WK_NAAM``, ``BU_CODE``/``BU_NAAM``, RD New): a
6 by 7.8 km rectangle east of Helmond (west border at x = 179300, 59 m east of Helmond's
easternmost buurt; same y range), two wijken (Zuid, Noord) of two buurten each."""

from __future__ import annotations

import shutil
from pathlib import Path

BUURDORP = Path(__file__).parent / "data" / "buurdorp"
#: Buurdorp's west border (x, RD metres); Helmond's buurten end at 179241
BORDER_X = 179300.0


def two_gemeenten_dir(helmond: Path, folder: Path) -> Path:
    """``folder`` with the boundary files of Helmond (from ``helmond``) and Buurdorp: one
    file per level and gemeente, as ``load_areas`` reads them together."""
    folder.mkdir(parents=True, exist_ok=True)
    for src in [*sorted(helmond.glob("*.geojson")), *sorted(BUURDORP.glob("*.geojson"))]:
        shutil.copy(src, folder / src.name)
    return folder


def incidents_csv(areas, path: Path, *, n_helmond: int = 400, n_buurdorp: int = 120,
                  seed: int = 3) -> Path:  # type: ignore[no-untyped-def]
    """A police-style CSV with burglaries and bicycle thefts in 2015-2017 at random points
    inside the buurten of Helmond (``n_helmond``) and of Buurdorp (``n_buurdorp``)."""
    import numpy as np
    import pandas as pd
    import shapely

    rng = np.random.default_rng(seed)
    rows = []
    for code, n in (("GM0794", n_helmond), ("GM9901", n_buurdorp)):
        shape = shapely.union_all(areas.select(code).buurten.geometry.values)
        x0, y0, x1, y1 = shape.bounds
        found: list[tuple[float, float]] = []
        while len(found) < n:
            x, y = rng.uniform(x0, x1, 4 * n), rng.uniform(y0, y1, 4 * n)
            ok = shapely.contains_xy(shape, x, y)
            found.extend(zip(x[ok].tolist(), y[ok].tolist(), strict=True))
        days = rng.integers(0, 3 * 365, n)
        kinds = rng.choice(["woninginbraak", "fietsendiefstal"], n)
        for i, ((x, y), d, k) in enumerate(zip(found[:n], days, kinds, strict=True)):
            when = pd.Timestamp("2015-01-01") + pd.Timedelta(days=int(d), hours=12)
            rows.append(f"{code}-{i};{k};{when:%Y-%m-%d %H:%M};{x:.1f};{y:.1f}")
    path.write_text("registratienummer;soort;pleegdatum;x;y\n" + "\n".join(rows) + "\n",
                    encoding="utf-8")
    return path
