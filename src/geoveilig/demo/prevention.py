"""A synthetic, seeded registry of prevention groups that agrees with the seed document.

DEMO DATA: every group has ``synthetic=True`` and a ``group_id`` starting with ``DEMO-``.
Nothing here describes real teams or WhatsApp groups; only the totals follow the document
(Aanvalsplan Veiligheid evaluation, Helmond, April 2018):

- 33 active buurtpreventieteams in March 2017; 42 active in April 2018 plus 9 in oprichting
  (two of the March 2017 teams stop during 2017, eleven new teams become active);
- 102 registered (active) WhatsApp-preventiegroepen on 20 April 2018;
- Dierdonk (WK079419) and Brandevoort (WK079421) wijkdekkend by WhatsApp groups linked to
  their teams in early 2018 (Dierdonk since September 2017, Brandevoort since 20 February
  2018, just before the newspaper article of 28 February 2018);
- 't Hout (Mierlo-Hout, WK079413) partly covered by a network being built;
- no other wijk fully covered.

Placement: groups sit in residential buurten (industrial estates get none, rural buurten
few), more where burglary is higher: with ``incidents`` the woninginbraak count per buurt,
else a built-in plausible weighting. Areas are buurt lists or polygons inside one buurt
(rectangles clipped to the buurt; the wijkdekkend networks partition their buurten into
strips whose union is the buurt).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from ..areas import Areas
from ..prevention import coverage
from ..prevention.registry import (
    ACTIVE,
    FORMING,
    STOPPED,
    TEAM,
    WHATSAPP,
    Registry,
    make_registry,
)

DIERDONK = "WK079419"
BRANDEVOORT = "WK079421"
T_HOUT = "WK079413"
REFERENCE_DATES = {"march_2017": "2017-03-31", "april_2018": "2018-04-20"}

#: Residential weight per buurt (0 = no dwellings to speak of, rural < 1).
_RESIDENTIAL = {
    "BU07941000": 0.6, "BU07941004": 0.4, "BU07941005": 0.6, "BU07941309": 0.2,
    "BU07941409": 0.2, "BU07941609": 0.3, "BU07941709": 0.1, "BU07941809": 0.2,
    "BU07941909": 0.3, "BU07942901": 0.0, "BU07942902": 0.0,
}
#: Built-in burglary multiplier per wijk when no incidents are given (older wijken higher).
_BURGLARY = {"WK079410": 1.6, "WK079411": 1.4, "WK079412": 1.3, "WK079415": 1.4,
             "WK079416": 1.1, "WK079418": 1.2, "WK079414": 1.0, "WK079417": 0.8}

_DAY = pd.Timedelta(days=1)


def _rand_date(rng: np.random.Generator, lo: str, hi: str, power: float = 1.0) -> pd.Timestamp:
    a, b = pd.Timestamp(lo), pd.Timestamp(hi)
    u = rng.random() ** power
    return (a + (b - a) * u).normalize()


def _strips(poly: shapely.Geometry, k: int) -> list[shapely.Geometry]:
    """Partition ``poly`` into ``k`` strips of about equal area along its longer axis."""
    xmin, ymin, xmax, ymax = poly.bounds
    along_x = (xmax - xmin) >= (ymax - ymin)
    lo, hi = (xmin, xmax) if along_x else (ymin, ymax)
    # equal-area cuts by bisection on the cumulative area
    cuts = [lo]
    for j in range(1, k):
        target = poly.area * j / k
        a, b = lo, hi
        for _ in range(40):
            m = (a + b) / 2
            box = shapely.box(xmin - 1, ymin - 1, m, ymax + 1) if along_x else \
                shapely.box(xmin - 1, ymin - 1, xmax + 1, m)
            if poly.intersection(box).area < target:
                a = m
            else:
                b = m
        cuts.append((a + b) / 2)
    cuts.append(hi)
    out = []
    for c0, c1 in itertools.pairwise(cuts):
        box = shapely.box(c0, ymin - 1, c1, ymax + 1) if along_x else \
            shapely.box(xmin - 1, c0, xmax + 1, c1)
        part = poly.intersection(box)
        out.append(_polygonal(part))
    return out


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type == "Polygon"]
    return shapely.MultiPolygon(parts) if len(parts) > 1 else parts[0]


def _patch(rng: np.random.Generator, poly: shapely.Geometry, share: float) -> shapely.Geometry:
    """A rectangle of about ``share`` of ``poly``'s area around a random inner point,
    clipped to ``poly`` (a street block or a few streets)."""
    xmin, ymin, xmax, ymax = poly.bounds
    for _ in range(200):
        x, y = rng.uniform(xmin, xmax), rng.uniform(ymin, ymax)
        if poly.contains(shapely.Point(x, y)):
            break
    else:  # pragma: no cover - buurten are convex enough
        x, y = poly.representative_point().coords[0]
    side = np.sqrt(poly.area * share)
    ratio = rng.uniform(0.6, 1.6)
    w, h = side * np.sqrt(ratio), side / np.sqrt(ratio)
    part = poly.intersection(shapely.box(x - w / 2, y - h / 2, x + w / 2, y + h / 2))
    part = _polygonal(part) if not part.is_empty else poly.buffer(-side / 4)
    return shapely.set_precision(part, 0.01)


def _where(poly: shapely.Geometry, part: shapely.Geometry) -> str:
    """Compass word for where ``part`` lies in ``poly`` (for demo labels)."""
    c, p = poly.centroid, part.centroid
    dx, dy = p.x - c.x, p.y - c.y
    scale = np.sqrt(poly.area) / 6
    if abs(dx) < scale and abs(dy) < scale:
        return "Midden"
    if abs(dy) >= abs(dx):
        return "Noord" if dy > 0 else "Zuid"
    return "Oost" if dx > 0 else "West"


def _weights(areas: Areas, incidents: pd.DataFrame | None) -> pd.Series:
    b = areas.buurten
    res = b["code"].map(_RESIDENTIAL).fillna(1.0).to_numpy()
    if incidents is not None and len(incidents):
        counts = incidents.loc[incidents["crime_type"] == "woninginbraak"].groupby(
            "buurt_code").size()
        burg = b["code"].map(counts).fillna(0).to_numpy(dtype=float) + 1.0
    else:
        burg = b["wijk_code"].map(_BURGLARY).fillna(1.0).to_numpy(dtype=float)
    return pd.Series(res * burg, index=b["code"].to_numpy())


def demo_prevention_groups(areas: Areas, seed: int = 42,
                           incidents: pd.DataFrame | None = None) -> Registry:
    """The demo registry for ``areas`` (Helmond, GM0794). Deterministic for a seed; the seed
    figures hold for every seed (checked before returning)."""
    missing = {DIERDONK, BRANDEVOORT, T_HOUT} - set(areas.wijken["code"])
    if missing:
        from ..errors import AreaError
        raise AreaError("de demo-preventiegroepen horen bij Helmond (GM0794); wijk(en) "
                        f"{', '.join(sorted(missing))} ontbreken")
    for attempt in range(50):
        rng = np.random.default_rng([seed, attempt])
        reg = _build(areas, rng, _weights(areas, incidents))
        if _agrees(reg, areas):
            return reg
    raise RuntimeError("demo-register voldoet niet aan de cijfers")  # pragma: no cover


def _agrees(reg: Registry, areas: Areas) -> bool:
    m17 = reg.counts_on("2017-03-31")
    m17a = reg.counts_on("2017-03-01")
    a18 = reg.counts_on("2018-04-20")
    a18a = reg.counts_on("2018-04-01")
    if not (m17["active_teams"] == m17a["active_teams"] == 33
            and a18["active_teams"] == a18a["active_teams"] == 42
            and a18["teams_in_formation"] == a18a["teams_in_formation"] == 9
            and a18["whatsapp_groups"] == 102):
        return False
    for day in ("2017-06-30", "2017-12-31", "2018-03-01", "2018-04-20"):
        cov = coverage(reg, areas, day, level="wijk").set_index("code")
        others = cov.drop(index=[DIERDONK, BRANDEVOORT])
        if others["fully_covered"].any():
            return False
    early = coverage(reg, areas, "2018-03-01", level="wijk").set_index("code")
    before = coverage(reg, areas, "2018-01-31", level="wijk").set_index("code")
    if before.loc[BRANDEVOORT, "fully_covered"]:  # "sinds kort": only since February 2018
        return False
    hout = coverage(reg, areas, "2018-04-20", level="wijk").set_index("code").loc[T_HOUT]
    return bool(early.loc[DIERDONK, "coverage_share_whatsapp"] >= 0.95
                and early.loc[BRANDEVOORT, "coverage_share_whatsapp"] >= 0.95
                and 0.2 <= hout["coverage_share"] <= 0.8)


def _build(areas: Areas, rng: np.random.Generator, weights: pd.Series) -> Registry:
    b = areas.buurten.set_index("code")
    geom = b.geometry
    names = b["name"]
    groups: list[dict[str, object]] = []
    history: list[dict[str, object]] = []
    per_buurt_teams: dict[str, list[str]] = {}
    counter = {"t": 0, "w": 0}

    def add(kind: str, *, buurten: list[str] | None = None, polygon: BaseGeometry | None = None,
            label: str,
            statuses: list[tuple[str, pd.Timestamp]], team: str | None = None,
            home: str) -> str:
        counter["t" if kind == TEAM else "w"] += 1
        n = counter["t" if kind == TEAM else "w"]
        gid = f"DEMO-BPT-{n:03d}" if kind == TEAM else f"DEMO-WA-{n:03d}"
        members = int(rng.integers(8, 41)) if kind == TEAM else (
            int(rng.integers(15, 121)) if rng.random() < 0.8 else None)
        groups.append({"group_id": gid, "type": kind, "label": f"{label} (demo)",
                       "team_id": team, "buurten": buurten, "geometry": polygon,
                       "members": members, "synthetic": True})
        history.extend({"group_id": gid, "status": s, "since": d} for s, d in statuses)
        if kind == TEAM:
            per_buurt_teams.setdefault(home, []).append(gid)
        return gid

    def team_dates(kind: str) -> list[tuple[str, pd.Timestamp]]:
        if kind in ("old", "stopper"):
            active = _rand_date(rng, "2012-06-01", "2017-02-20")
            out = [(FORMING, active - int(rng.integers(60, 181)) * _DAY), (ACTIVE, active)]
            if kind == "stopper":
                out.append((STOPPED, _rand_date(rng, "2017-06-01", "2017-12-15")))
            return out
        if kind == "new":
            active = _rand_date(rng, "2017-04-05", "2018-03-25")
            return [(FORMING, active - int(rng.integers(60, 151)) * _DAY), (ACTIVE, active)]
        return [(FORMING, _rand_date(rng, "2017-10-01", "2018-03-31"))]

    def team_label(code: str, part: BaseGeometry | None = None) -> str:
        where = f" {_where(geom[code], part)}" if part is not None else ""
        return f"BPT {names[code]}{where}"

    # --- teams in the three named wijken ------------------------------------------------
    dier_part = _patch(rng, geom["BU07941900"], 0.4)
    dier_team = add(TEAM, polygon=dier_part, label=team_label("BU07941900", dier_part),
                    statuses=team_dates("old"), home="BU07941900")
    brand_team = add(TEAM, buurten=["BU07942100", "BU07942101"],
                     label="BPT Brandevoort Brand en De Veste", statuses=team_dates("old"),
                     home="BU07942100")
    schuts_team = add(TEAM, buurten=["BU07942102"], label=team_label("BU07942102"),
                      statuses=team_dates("new"), home="BU07942102")
    beren_part = _patch(rng, geom["BU07942104"], 0.3)
    add(TEAM, polygon=beren_part, label=team_label("BU07942104", beren_part),
        statuses=team_dates("forming"), home="BU07942104")
    fixed = [("BU07941301", "old"), ("BU07941300", "old"), ("BU07941302", "new"),
             ("BU07941303", "forming"), ("BU07941300", "forming"),
             ("BU07941802", "old"), ("BU07941401", "old"), ("BU07941402", "old"),
             ("BU07941400", "forming")]
    for code, kind in fixed:
        part = _patch(rng, geom[code], float(rng.uniform(0.15, 0.35)))
        add(TEAM, polygon=part, label=team_label(code, part), statuses=team_dates(kind),
            home=code)

    # --- the other teams, by weight -----------------------------------------------------
    named = {DIERDONK, BRANDEVOORT, T_HOUT}
    pool = weights[~b["wijk_code"].reindex(weights.index).isin(named).to_numpy()]
    pool = pool[pool > 0]
    n_old, n_new, n_forming = 33 - 7, 11 - 2, 9 - 4
    kinds = ["stopper"] * 2 + ["old"] * (n_old - 2) + ["new"] * n_new + ["forming"] * n_forming
    codes = rng.choice(pool.index.to_numpy(), size=len(kinds), p=(pool / pool.sum()).to_numpy())
    wijk_size = b.groupby("wijk_code").size()
    for code, kind in zip(codes, kinds, strict=True):
        whole = (wijk_size[b.loc[code, "wijk_code"]] >= 3 and code not in per_buurt_teams
                 and rng.random() < 0.2)
        if whole:
            add(TEAM, buurten=[code], label=team_label(code), statuses=team_dates(kind),
                home=code)
        else:
            part = _patch(rng, geom[code], float(rng.uniform(0.15, 0.45)))
            add(TEAM, polygon=part, label=team_label(code, part), statuses=team_dates(kind),
                home=code)

    # --- WhatsApp networks ---------------------------------------------------------------
    def network(code: str, k: int, team: str, lo: str, hi: str, last: tuple[str, ...] = (),
                take: int | None = None) -> None:
        """WhatsApp groups on ``k`` strips of a buurt (``take`` of them); the last ones
        registered on the dates in ``last`` (completing the network)."""
        strips = _strips(geom[code], k)
        order = rng.permutation(k)[: take or k]
        n_rand = len(order) - len(last)
        for j, idx in enumerate(order):
            start = pd.Timestamp(last[j - n_rand]) if j >= n_rand else \
                _rand_date(rng, lo, hi)
            add(WHATSAPP, polygon=shapely.set_precision(strips[idx], 0.01),
                label=f"WhatsApp {names[code]} {idx + 1}", team=team,
                statuses=[(ACTIVE, start)], home=code)

    network("BU07941900", 6, dier_team, "2016-03-01", "2017-08-31", last=("2017-09-12",))
    network("BU07941909", 3, dier_team, "2016-03-01", "2017-08-31", last=("2017-09-05",))
    for code, k, team in (("BU07942100", 4, brand_team), ("BU07942101", 2, brand_team),
                          ("BU07942102", 4, schuts_team), ("BU07942103", 3, schuts_team),
                          ("BU07942105", 2, brand_team)):
        network(code, k, team, "2017-03-01", "2018-01-31")
    network("BU07942104", 5, brand_team, "2017-03-01", "2018-01-31",
            last=("2018-02-06", "2018-02-20"))
    hout_team = per_buurt_teams["BU07941300"][0]
    network("BU07941300", 4, hout_team, "2017-11-01", "2018-04-10", take=3)
    network("BU07941303", 2, per_buurt_teams["BU07941301"][0], "2017-11-01", "2018-04-10")
    network("BU07941301", 4, per_buurt_teams["BU07941301"][0], "2017-11-01", "2018-04-10",
            take=3)

    # --- scattered WhatsApp groups elsewhere, growing over time ---------------------------
    n_network = counter["w"]
    n_scatter = 102 - n_network
    n_stopped = 4
    codes = rng.choice(pool.index.to_numpy(), size=n_scatter + n_stopped,
                       p=(pool / pool.sum()).to_numpy())
    for i, code in enumerate(codes):
        start = _rand_date(rng, "2015-01-01", "2018-04-15", power=0.5)
        statuses = [(ACTIVE, start)]
        if i >= n_scatter:  # a few groups fell silent again
            start = _rand_date(rng, "2015-01-01", "2016-12-31")
            statuses = [(ACTIVE, start), (STOPPED, _rand_date(rng, "2017-01-15", "2018-03-31"))]
        part = _patch(rng, geom[code], float(rng.uniform(0.05, 0.2)))
        teams = per_buurt_teams.get(code, [])
        linked = teams[0] if teams and rng.random() < 0.6 else None
        add(WHATSAPP, polygon=part, label=f"WhatsApp {names[code]} {_where(geom[code], part)}",
            team=linked, statuses=statuses, home=code)

    return make_registry(groups, history, known_buurten=list(b.index))
