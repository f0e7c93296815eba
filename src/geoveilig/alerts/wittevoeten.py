"""Witte-voetenacties: where, inside the current zones of raised burglary risk, a team's
action prevents the most burglaries before the zone expires.

Candidates are the 125 m cells of the woninginbraak zones valid on the planning date ``D``
that lie in the area of at least one *active buurtpreventieteam* (the team can be there; a
team's area must cover at least ``MIN_TEAM_SHARE`` of the cell). For each cell:

- ``baseline_per_year``: woninginbraken in the cell in the 365 days before ``D``, shrunk
  halfway to the mean of the zone's cells (one burglary more or less in a cell should not
  decide on its own);
- ``uplift``: the Knox ratio of the closest/shortest band measured on the two years before
  ``D`` (how much a recent burglary raises the risk nearby; 1 = no near-repeat);
- ``expected_burglaries`` = baseline / 365 x uplift x the days the zone remains valid;
- ``expected_prevented`` = ``efficacy`` x expected_burglaries. The efficacy of a
  witte-voetenactie is an ASSUMPTION (no measured effect exists; default 0.25): it scales the
  figure, never the ranking. Record the actions as deployments (kind ``witte-voeten``) so that
  ``placement.evaluation`` can measure it later.

The ``count`` cells with the most expected prevented burglaries are proposed, with the teams
that can act there. No look-ahead: only incidents before ``D`` are used.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import RD_NEW, TIMEZONE
from ..areas import Areas
from ..errors import InvalidInput
from ..hotspots import Grid
from ..prevention import ACTIVE, TEAM
from .zones import cell_key

KIND = "witte-voeten"
DEFAULT_EFFICACY = 0.25
MIN_TEAM_SHARE = 0.25
CRIME_TYPE = "woninginbraak"


@dataclass(frozen=True)
class WitteVoetenPlan:
    sites: gpd.GeoDataFrame
    date: pd.Timestamp
    notes: tuple[str, ...]
    candidates: int

    def summary(self) -> str:
        efficacy = str(self.sites["efficacy"].iloc[0]) if len(self.sites) else "-"
        prevented = f"{self.sites['expected_prevented'].sum():.2f}"
        return (f"Witte-voetenacties op {self.date:%Y-%m-%d}: {len(self.sites)} van "
                f"{self.candidates} kandidaatcellen in de huidige zones; samen naar schatting "
                f"{prevented.replace('.', ',')} inbraken voorkomen (werkzaamheid "
                f"{efficacy.replace('.', ',')}, aanname).")


def _cell_index(grid: Grid) -> dict[str, int]:
    keys = cell_key(grid, np.arange(grid.n_cells))
    return {k: i for i, k in enumerate(keys)}


def plan(zones: gpd.GeoDataFrame, history: pd.DataFrame, groups: gpd.GeoDataFrame,
         grid: Grid, areas: Areas, *, count: int, date: pd.Timestamp, uplift: float,
         efficacy: float = DEFAULT_EFFICACY) -> WitteVoetenPlan:
    """The planner (see the module docstring). ``zones``: alerts valid on ``date`` (columns
    ``id``, ``crime_type``, ``cells`` = cell ids, ``valid_until``); ``history``: woninginbraken
    before ``date``; ``groups``: ``prevention.group_areas`` on ``date``."""
    if count < 1:
        raise InvalidInput("--count moet minstens 1 zijn", where="count")
    if not 0 < efficacy <= 1:
        raise InvalidInput("werkzaamheid moet tussen 0 en 1 liggen", where="efficacy")
    day = pd.Timestamp(date)
    day = day.tz_localize(TIMEZONE) if day.tzinfo is None else day.tz_convert(TIMEZONE)
    notes: list[str] = []
    z = zones.loc[(zones["crime_type"] == CRIME_TYPE).to_numpy()] if len(zones) else zones
    index = _cell_index(grid)
    rows = []
    for _, a in z.iterrows():
        for cid in a["cells"]:
            if cid in index:
                rows.append((int(a["id"]), index[cid], a["valid_until"]))
    empty = gpd.GeoDataFrame({"rank": pd.Series(dtype=int)}, geometry=[], crs=RD_NEW)
    if not rows:
        notes.append("er zijn op deze datum geen zones met verhoogd inbraakrisico.")
        return WitteVoetenPlan(empty, day, tuple(notes), 0)
    cand = pd.DataFrame(rows, columns=["alert_id", "cell", "valid_until"])
    # a cell in two zones: the zone valid longest counts
    cand = cand.sort_values(["cell", "valid_until"]).drop_duplicates("cell", keep="last")
    remaining = ((cand["valid_until"] - day) / pd.Timedelta(days=1)).to_numpy(float)
    cand = cand.loc[remaining > 0].reset_index(drop=True)
    remaining = remaining[remaining > 0]
    # teams that can act there
    teams = groups.loc[((groups["type"] == TEAM) & (groups["status"] == ACTIVE)).to_numpy()] \
        if len(groups) else groups
    cells_geom = grid.geometries()[cand["cell"].to_numpy()]
    team_ids: list[tuple[str, ...]] = [() for _ in range(len(cand))]
    if len(teams):
        tg = np.asarray(teams.geometry.values, dtype=object)
        ci, ti = shapely.STRtree(tg).query(cells_geom, predicate="intersects")
        share = shapely.area(shapely.intersection(cells_geom[ci], tg[ti])) / \
            shapely.area(cells_geom[ci])
        ok = share >= MIN_TEAM_SHARE
        ids = teams["group_id"].to_numpy()
        for c, t in zip(ci[ok], ti[ok], strict=True):
            team_ids[c] = (*team_ids[c], str(ids[t]))
    cand["team_ids"] = [tuple(sorted(t)) for t in team_ids]
    covered = np.array([bool(t) for t in team_ids])
    if not covered.any():
        notes.append("geen van de zones ligt in het gebied van een actief "
                     "buurtpreventieteam; er is niets voor te stellen.")
        return WitteVoetenPlan(empty, day, tuple(notes), 0)
    # baseline: burglaries per cell in the year before the date, shrunk to the zone mean
    when = pd.to_datetime(history["occurred_at"], utc=True)
    recent = history.loc[((when < day) & (when >= day - pd.Timedelta(days=365))).to_numpy()]
    cells_of = grid.cell_of(pd.to_numeric(recent["x"]).to_numpy(float),
                            pd.to_numeric(recent["y"]).to_numpy(float))
    n = np.bincount(cells_of[cells_of >= 0], minlength=grid.n_cells).astype(float)
    cand["n_last_year"] = n[cand["cell"].to_numpy()]
    zone_mean = cand.groupby("alert_id")["n_last_year"].transform("mean")
    cand["baseline_per_year"] = 0.5 * cand["n_last_year"] + 0.5 * zone_mean
    cand["remaining_days"] = remaining
    cand["uplift"] = max(float(uplift), 1.0)
    cand["expected_burglaries"] = cand["baseline_per_year"] / 365.0 * cand["uplift"] * \
        cand["remaining_days"]
    cand["efficacy"] = efficacy
    cand["expected_prevented"] = efficacy * cand["expected_burglaries"]
    cand = cand.loc[covered].reset_index(drop=True)
    n_cand = len(cand)
    cand["cell_id"] = cell_key(grid, cand["cell"].to_numpy())
    cand = cand.sort_values(["expected_prevented", "cell_id"], ascending=[False, True],
                            kind="stable").head(count).reset_index(drop=True)
    if len(cand) < count:
        notes.append(f"maar {len(cand)} geschikte cellen (gevraagd: {count}).")
    cand["rank"] = np.arange(1, len(cand) + 1)
    cand["buurt_code"] = grid.buurt_code[cand["cell"].to_numpy()]
    cand["wijk_code"] = grid.wijk_code[cand["cell"].to_numpy()]
    names = areas.buurten.set_index("code")["name"]
    cand["buurt_name"] = cand["buurt_code"].map(names)
    cand["date"] = day.date().isoformat()
    cand["valid_until"] = [v.date().isoformat() for v in cand["valid_until"]]
    for c in ("baseline_per_year", "uplift", "expected_burglaries", "expected_prevented",
              "remaining_days"):
        cand[c] = cand[c].astype(float).round(4)
    cand["team_ids"] = [";".join(t) for t in cand["team_ids"]]
    cols = ["rank", "cell_id", "alert_id", "buurt_code", "buurt_name", "wijk_code", "date",
            "valid_until", "remaining_days", "n_last_year", "baseline_per_year", "uplift",
            "expected_burglaries", "efficacy", "expected_prevented", "team_ids"]
    return WitteVoetenPlan(
        gpd.GeoDataFrame(cand[cols], geometry=grid.geometries()[cand["cell"].to_numpy()],
                         crs=RD_NEW), day, tuple(notes), n_cand)


def as_deployments(sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The proposed actions as rows for ``store.deployments.add_deployments`` (kind
    ``witte-voeten``, the cell as area, from the planning date until the zone expires)."""
    return gpd.GeoDataFrame({
        "kind": KIND, "label": "witte-voetenactie",
        "start": sites["date"].to_numpy(), "end": sites["valid_until"].to_numpy(),
        "buurt_code": sites["buurt_code"].to_numpy(), "wijk_code": sites["wijk_code"].to_numpy(),
        "source": [f"melding {a}" for a in sites["alert_id"]],
        "note": [f"teams: {t}" for t in sites["team_ids"]],
    }, geometry=sites.geometry.values, crs=RD_NEW)
