"""Orchestration of ``geoveilig cbs fetch``: which queries to send for a gemeente, parsing the
answers and writing them to the store. The edges pass the clients (with their base URLs and
cache folder) and the store; nothing here reads settings."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from ..errors import InvalidInput
from ..store import counts as store_counts
from . import parse
from .cbs import Client
from .tables import TableSpec

if TYPE_CHECKING:
    from ..store.protocols import HasEngine

_GEMEENTE = re.compile(r"^GM\d{4}$")


def check_gemeente(code: str) -> str:
    c = code.strip().upper()
    if not _GEMEENTE.match(c):
        raise InvalidInput(f"ongeldige gemeentecode '{code}': gebruik GM gevolgd door vier "
                           "cijfers, bijv. GM0794", where="--gemeente")
    return c


def region_filter(column: str, gemeente: str) -> str:
    """Every code of the gemeente (GM0794, WK0794xx, BU0794xxxx): characters 3-6 are the
    gemeente number (OData ``substring`` counts from 0)."""
    return f"substring({column},2,4) eq '{gemeente[2:]}'"


@dataclass
class FetchReport:
    """What one fetch did, table by table (Dutch lines for the CLI)."""

    lines: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    def add(self, table_id: str, n: int, text: str) -> None:
        self.rows[table_id] = self.rows.get(table_id, 0) + n
        self.lines.append(text)


def _years(client: Client, spec: TableSpec) -> list[int]:
    # always asked again (small): a cached list would never show a new year
    answer = client.fetch(spec.id, "Perioden", refresh=True)
    years = set()
    for code in parse.code_titles(answer.rows):
        try:
            years.add(parse.parse_period(code)[0])
        except InvalidInput:
            continue
    return sorted(years)


def fetch_counts(client: Client, store: HasEngine, spec: TableSpec, gemeente: str, *,
                 from_year: int | None = None, refresh: bool = False,
                 report: FetchReport | None = None) -> pd.DataFrame:
    """Police counts of every wijk and buurt of ``gemeente``, one query per year (older years
    come from the cache), from ``from_year`` (default: the first published year)."""
    report = report or FetchReport()
    available = _years(client, spec)
    if not available:
        raise InvalidInput(f"tabel {spec.id} noemt geen perioden", where=spec.id)
    first = available[0] if from_year is None else from_year
    years = [y for y in available if y >= first]
    if not years:
        raise InvalidInput(f"tabel {spec.id} heeft geen cijfers vanaf {first} (wel "
                           f"{available[0]}-{available[-1]})", where="--from")
    classes = parse.code_titles(client.fetch(spec.id, "SoortMisdrijf", refresh=refresh).rows)
    frames = []
    for year in years:
        # the newest year is still being filled month by month: always asked again
        answer = client.fetch(
            spec.id, "TypedDataSet",
            filter=f"{region_filter('WijkenEnBuurten', gemeente)} and "
                   f"substring(Perioden,0,4) eq '{year}'",
            refresh=refresh or year == available[-1])
        frame = parse.parse_counts(answer.rows, classes, table_id=spec.id,
                                   retrieved_at=answer.retrieved_at)
        n = store_counts.write_counts(store, frame)
        report.add(spec.id, n, f"{spec.id} {year}: {n} aantallen ({frame['area_code'].nunique()}"
                               f" gebieden, opgehaald {answer.retrieved_date}"
                               f"{', uit de cache' if answer.from_cache else ''})")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def fetch_figures(client: Client, store: HasEngine, spec: TableSpec, gemeente: str, *,
                  refresh: bool = False, report: FetchReport | None = None) -> pd.DataFrame:
    """Inhabitants, dwellings and land area of the gemeente and its wijken and buurten."""
    report = report or FetchReport()
    if spec.year is None:
        raise InvalidInput(f"tabel {spec.id} is geen kerncijfertabel", where="--tables")
    answer = client.fetch(spec.id, "TypedDataSet",
                          filter=region_filter("WijkenEnBuurten", gemeente), refresh=refresh)
    frame = parse.parse_key_figures(answer.rows, table_id=spec.id, year=spec.year,
                                    retrieved_at=answer.retrieved_at)
    n = store_counts.write_figures(store, frame)
    cached = ", uit de cache" if answer.from_cache else ""
    report.add(spec.id, n, f"{spec.id} (kerncijfers {spec.year}): {n} gebieden, opgehaald "
                           f"{answer.retrieved_date}{cached}")
    return frame


def fetch_perception(client: Client, store: HasEngine, spec: TableSpec, gemeente: str, *,
                     refresh: bool = False, report: FetchReport | None = None) -> pd.DataFrame:
    """The Veiligheidsmonitor's unsafe-feeling indicators of the gemeente, with margins.
    (The Veiligheidsmonitor publishes gemeenten of 70,000+ inhabitants; wijk figures are not
    in the open tables.)"""
    report = report or FetchReport()
    props = client.fetch(spec.id, "DataProperties", refresh=refresh).rows
    topics = parse.perception_topics(props)
    dims = [str(p.get("Key")) for p in props if p.get("Type") == "Dimension"]
    margin_dim = next((d for d in dims if "arge" in d.lower()), None)
    margins = (parse.code_titles(client.fetch(spec.id, margin_dim, refresh=refresh).rows)
               if margin_dim else {})
    region = next((str(p.get("Key")) for p in props
                   if p.get("Type") in ("GeoDimension", "GeoDetail")), "RegioS")
    answer = client.fetch(spec.id, "TypedDataSet",
                          filter=f"startswith({region},'{gemeente}')", refresh=refresh)
    frame = parse.parse_perception(answer.rows, topics, margins, table_id=spec.id,
                                   retrieved_at=answer.retrieved_at)
    n = store_counts.write_perception(store, frame)
    skipped = sum(1 for p in props if p.get("Type") == "Topic") - len(topics)
    report.add(spec.id, n, f"{spec.id} (Veiligheidsmonitor): {n} waarden van {len(topics)} "
                           f"indicatoren over onveiligheidsgevoelens ({skipped} andere "
                           f"onderwerpen van de tabel niet opgehaald), opgehaald "
                           f"{answer.retrieved_date}")
    return frame


def fetch_all(clients: dict[str, Client], store: HasEngine, specs: tuple[TableSpec, ...],
              gemeente: str, *, from_year: int | None = None, refresh: bool = False,
              progress: Callable[[str], None] | None = None) -> FetchReport:
    """Fetch ``specs`` for ``gemeente``; ``clients`` by server (``politie``, ``cbs``)."""
    gemeente = check_gemeente(gemeente)
    report = FetchReport()
    for spec in specs:
        client = clients[spec.server]
        done = len(report.lines)
        if spec.kind == "counts":
            fetch_counts(client, store, spec, gemeente, from_year=from_year, refresh=refresh,
                         report=report)
        elif spec.kind == "figures":
            if from_year is not None and spec.year is not None and spec.year < from_year - 1:
                continue  # the year before --from is still needed as a denominator
            fetch_figures(client, store, spec, gemeente, refresh=refresh, report=report)
        else:
            fetch_perception(client, store, spec, gemeente, refresh=refresh, report=report)
        if progress is not None:
            for line in report.lines[done:]:
                progress(line)
    return report
