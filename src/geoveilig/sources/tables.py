"""The open tables this project reads (researched and recorded in ``docs/sources.md``).

``kind``: ``counts`` (police registered crimes), ``figures`` (CBS key figures per wijk/buurt,
one table per year) or ``perception`` (Veiligheidsmonitor). ``server``: ``politie`` =
``dataderden.cbs.nl`` (the police's tables published through CBS), ``cbs`` =
``opendata.cbs.nl`` (StatLine)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidInput


@dataclass(frozen=True)
class TableSpec:
    id: str
    kind: str  # counts | figures | perception
    server: str  # politie | cbs
    title: str
    year: int | None = None  # key figures: the year of the table
    years: str = ""  # coverage as published (documentation)


COUNTS_MONTHLY = TableSpec(
    "47022NED", "counts", "politie",
    "Geregistreerde misdrijven; soort misdrijf, wijk, buurt, maandcijfers", years="2012-")
COUNTS_YEARLY = TableSpec(
    "47018NED", "counts", "politie",
    "Geregistreerde misdrijven; soort misdrijf, wijk, buurt, jaarcijfers", years="2012-")

#: "Kerncijfers wijken en buurten <jaar>" (inhabitants on 1 January, dwellings, land area).
FIGURES: dict[int, str] = {
    2013: "82339NED", 2014: "82931NED", 2015: "83220NED", 2016: "83487NED",
    2017: "83765NED", 2018: "84286NED", 2019: "84583NED", 2020: "84799NED",
    2021: "85039NED", 2022: "85318NED", 2023: "85618NED", 2024: "85984NED",
}

PERCEPTION_2012_2019 = TableSpec(
    "81877NED", "perception", "cbs", "(On)veiligheidsbeleving; regio (2012-2019)",
    years="2012-2017 jaarlijks, 2019")
PERCEPTION_2021 = TableSpec(
    "85146NED", "perception", "cbs", "Sociale veiligheid; regio", years="2021, 2023")

REGISTRY: dict[str, TableSpec] = {
    t.id: t for t in (COUNTS_MONTHLY, COUNTS_YEARLY, PERCEPTION_2012_2019, PERCEPTION_2021,
                      *(TableSpec(tid, "figures", "cbs", f"Kerncijfers wijken en buurten {y}",
                                  year=y, years=str(y)) for y, tid in FIGURES.items()))
}

#: What ``geoveilig cbs fetch`` reads without ``--tables``: monthly counts, every key-figure
#: table, both perception tables.
DEFAULT_TABLES: tuple[str, ...] = (COUNTS_MONTHLY.id, *FIGURES.values(),
                                   PERCEPTION_2012_2019.id, PERCEPTION_2021.id)


def resolve_tables(spec: str | None) -> tuple[TableSpec, ...]:
    """``--tables 47022NED,83765NED`` (or the kinds ``counts``, ``figures``, ``perception``)
    -> table specs; None = the default set."""
    if not spec:
        return tuple(REGISTRY[t] for t in DEFAULT_TABLES)
    out: list[TableSpec] = []
    for raw in spec.split(","):
        key = raw.strip()
        if not key:
            continue
        if key.lower() in ("counts", "figures", "perception"):
            out.extend(REGISTRY[t] for t in DEFAULT_TABLES if REGISTRY[t].kind == key.lower())
        elif key.upper() in REGISTRY:
            out.append(REGISTRY[key.upper()])
        else:
            raise InvalidInput(f"onbekende tabel '{key}': kies uit {', '.join(REGISTRY)} of "
                               "counts, figures, perception", where="--tables")
    return tuple(dict.fromkeys(out))
