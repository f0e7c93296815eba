"""Orchestration over the store for the edges (CLI, report, layers): read published figures,
compute rates, the comparison with incidents and the perception table.

``gemeenten`` (``GM....`` codes; None = every stored row) limits each to the areas of those
gemeenten (``store.counts.gemeente_filter``): a service with several gemeenten keeps all their
published figures in one store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from ..errors import InvalidInput
from ..stats import LowCountRule
from ..store import counts as store_counts
from . import rates

if TYPE_CHECKING:
    from ..store.protocols import HasEngine, StoreLike

LEVELS = ("gemeente", "wijk", "buurt")


def has_counts(store: HasEngine, *, gemeenten: Sequence[str] | None = None) -> bool:
    summary = store_counts.sources_summary(store, gemeenten=gemeenten)
    return not summary.query("kind == 'misdrijven'").empty


def rates_table(store: HasEngine, *, level: str = "gemeente", years: Sequence[int] | None = None,
                rule: LowCountRule | None = None,
                gemeenten: Sequence[str] | None = None) -> pd.DataFrame:
    """Yearly published counts with rates for the areas of ``level``."""
    if level not in LEVELS:
        raise InvalidInput(f"onbekend niveau '{level}': kies gemeente, wijk of buurt",
                           where="--level")
    counts = store_counts.read_counts(store, years=years, gemeenten=gemeenten)
    if counts.empty:
        raise InvalidInput("de opslag bevat geen gepubliceerde aantallen: haal ze op met "
                           "geoveilig cbs fetch --gemeente GM....")
    counts = counts[counts["area_level"] == level]
    yearly = rates.yearly_counts(counts)
    figures = store_counts.read_figures(store, gemeenten=gemeenten)
    return rates.add_rates(yearly, figures[figures["area_level"] == level], rule)


def comparison_table(store: StoreLike, *, synthetic_label: str = "synthetisch",
                     gemeenten: Sequence[str] | None = None) -> pd.DataFrame:
    """Imported incidents against published counts per category and year (gemeente). With
    several gemeenten in the store, ``store`` is the view of one (``scope.GemeenteStore``) and
    ``gemeenten`` names it, so both sides are of the same gemeente."""
    counts = store_counts.read_counts(store, gemeenten=gemeenten)
    if counts.empty:
        raise InvalidInput("de opslag bevat geen gepubliceerde aantallen: haal ze op met "
                           "geoveilig cbs fetch --gemeente GM....")
    rng = store.time_range()
    if rng is None:
        raise InvalidInput("de opslag bevat geen incidenten om met de gepubliceerde aantallen "
                           "te vergelijken")
    incidents = store.incidents(start=rng[0].normalize(),
                                end=rng[1].normalize() + pd.DateOffset(days=1))
    batches = store.batches()
    synthetic = "synthetic" in batches and bool(batches["synthetic"].astype(bool).any())
    label = f"geïmporteerd ({synthetic_label})" if synthetic else "geïmporteerd"
    coverage = (rng[0].normalize(), rng[1].normalize() + pd.DateOffset(days=1))
    return rates.compare_sources(incidents, rates.yearly_counts(counts), coverage=coverage,
                                 incident_source=label)


def perception_table(store: HasEngine, *, gemeenten: Sequence[str] | None = None
                     ) -> pd.DataFrame:
    perception = store_counts.read_perception(store, gemeenten=gemeenten)
    if perception.empty:
        raise InvalidInput("de opslag bevat geen cijfers over veiligheidsbeleving: haal ze op "
                           "met geoveilig cbs fetch --tables perception")
    counts = store_counts.read_counts(store, area_codes=list(perception["area_code"].unique()))
    return rates.perception_table(perception, rates.yearly_counts(counts),
                                  store_counts.read_figures(store, gemeenten=gemeenten))
