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
