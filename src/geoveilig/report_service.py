"""The council report as one service for the CLI (``geoveilig report``) and the API
(``GET /v1/reports/evaluation``), as ``placement.service`` is for planning: which incidents to
load, the fallback to published counts when no incidents are stored, the comparison or the
HTML evaluation, and the disclosure control for public callers. The edges only parse their
options and write the text this returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import disclosure, stats
from . import report as report_mod
from .sources import report as published_report

#: output formats: ``table`` (plain text, CLI), ``csv``, ``json``, ``html``
FORMATS = ("table", "csv", "json", "html")
LEVELS = ("gemeente", "wijk", "buurt")


@dataclass(frozen=True)
class ReportRequest:
    """What a report is about and how it is shown (the defaults are the CLI's and the API's
    defaults)."""

    target: stats.Period
    fmt: str = "json"
    level: stats.Level = "gemeente"
    #: table rows (categories and groups, ``stats.resolve_rows``); None: the seed table's rows
    rows: tuple[str, ...] | None = None
    rule: stats.LowCountRule = field(default_factory=stats.LowCountRule)
    #: ``stats.parse_rounding`` spec (None: round half away from zero)
    rounding: Any = None
    years_back: tuple[int, ...] = (1, 5)
    alpha: float = 0.05
    extra_periods: tuple[stats.Period, ...] = ()
    signals: bool = True


@dataclass(frozen=True)
class Report:
    text: str
    #: made from published counts (no incidents stored), not from incidents
    published: bool = False


def evaluation_report(store: Any, areas: Any, req: ReportRequest, *,
                      policy: disclosure.Policy | None = None) -> Report:
    """The report (its text (table, CSV, JSON or HTML). ``policy``: protect every count with the
    disclosure control (public callers); None: exact counts (the municipality's own use).
    With no incidents but published counts stored (``geoveilig cbs fetch``), the report on
    those already public figures (with the low-count rule; whole years only). Published
    figures are those of the gemeenten of ``areas`` only (a service holds several)."""
    gemeenten = tuple(areas.gemeente_codes)
    published = published_report.without_incidents(
        store, req.target, fmt=req.fmt, level=req.level, rule=req.rule,
        years_back=req.years_back, alpha=req.alpha,
        gemeente_name=areas.gemeente_name or "de gemeente", gemeenten=gemeenten)
    if published is not None:
        return Report(published, published=True)
    incidents, coverage = report_mod.incidents_for(store, [req.target, *req.extra_periods],
                                                   req.years_back)
    kw: dict[str, Any] = {"years_back": req.years_back, "rule": req.rule, "alpha": req.alpha,
                          "coverage": coverage, "rounding": stats.parse_rounding(req.rounding)}
    rows = req.rows or stats.SEED_ROWS
    if req.fmt == "html":
        ev = stats.evaluation(incidents, areas, req.target,
                              extra_periods=list(req.extra_periods), rows=rows, **kw)
        if policy is not None:
            ev = disclosure.protect_evaluation(ev, policy, areas)
        section = published_report.section_if_counts(store, req.target, rule=req.rule,
                                                     gemeenten=gemeenten)
        return Report(report_mod.render_html(ev, published=section,
                                             synthetic=store.has_synthetic_data()))
    comp = stats.compare(incidents, req.target, areas=areas, level=req.level, rows=rows, **kw)
    if policy is not None:
        comp = disclosure.protect_comparison(comp, policy)
    if req.fmt == "csv":
        return Report(report_mod.to_csv(comp, signals=req.signals))
    if req.fmt == "json":
        return Report(report_mod.to_json(comp))
    return Report(report_mod.text_table(comp, signals=req.signals))
