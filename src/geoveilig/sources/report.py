"""The Dutch report section of published figures (counts, rates, perception, the comparison
with incidents) as an HTML fragment for the evaluation report, or as a document of its own
when no incidents are loaded. Computation lives in ``sources.rates``; this only formats."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from .. import crimetypes
from ..errors import InvalidInput
from ..stats import LowCountRule
from ..store import counts as store_counts
from . import mapping, rates

if TYPE_CHECKING:
    from ..store.protocols import HasEngine, StoreLike

_LEVEL_LABEL = {"gemeente": "hele gemeente", "wijk": "per wijk", "buurt": "per buurt"}


def _n(value: object, digits: int = 0) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if digits:
        return f"{float(value):.{digits}f}".replace(".", ",")  # type: ignore[arg-type]
    return f"{int(value):,}".replace(",", ".")  # type: ignore[call-overload]


def _env() -> Environment:
    return Environment(loader=PackageLoader("geoveilig", "templates"),
                       autoescape=select_autoescape(["html"]), trim_blocks=True,
                       lstrip_blocks=True)


def latest_year(store: HasEngine, *, gemeenten: Sequence[str] | None = None) -> int:
    """The last year with twelve published months (or a year row): the default report year,
    taken from the data, not the clock."""
    counts = store_counts.read_counts(store, gemeenten=gemeenten)
    if counts.empty:
        raise InvalidInput("de opslag bevat geen gepubliceerde aantallen: haal ze op met "
                           "geoveilig cbs fetch --gemeente GM....")
    yearly = rates.yearly_counts(counts)
    full = yearly[yearly["months"] >= 12]["year"]
    return int(full.max() if len(full) else yearly["year"].max())


def section_context(store: StoreLike, year: int, *, rule: LowCountRule | None = None,
                    years_back: tuple[int, ...] = (1, 5), incidents: bool = True,
                    synthetic: bool = False, gemeenten: Sequence[str] | None = None
                    ) -> dict[str, object]:
    """The template's values; ``gemeenten``: the published figures of those gemeenten only
    (the report's gemeente; None: every stored row)."""
    rule = rule or LowCountRule()
    counts = store_counts.read_counts(store, gemeenten=gemeenten)
    figures = store_counts.read_figures(store, gemeenten=gemeenten)
    perception = store_counts.read_perception(store, gemeenten=gemeenten)
    yearly = rates.yearly_counts(counts)
    ctx: dict[str, object] = {"year": year, "years_back": years_back, "rule": rule.describe(),
                              "level_label": _LEVEL_LABEL["gemeente"], "synthetic": synthetic}
    rows = []
    if not yearly.empty:
        table = rates.compare_years(yearly, year, years_back=years_back, rule=rule)
        ctx["method"] = table["method"].iloc[0] if len(table) else ""
        least = int(table["months"].min()) if len(table) else 12
        ctx["partial_months"] = least if least < 12 else 0
        for rec in table.to_dict("records"):
            rows.append({
                "label": rec["category_label"], "match": rec["match"],
                "total": rec["category"] == crimetypes.TOTAL_SLUG, "count": _n(rec["count"]),
                "refs": [_n(rec[f"count_{k}y"]) for k in years_back],
                "changes": [{"text": rec[f"change_{k}y_text"],
                             "signal": {"significant hoger": "▲",
                                        "significant lager": "▼"}.get(rec[f"signal_{k}y"], ""),
                             "title": rec[f"signal_{k}y"]} for k in years_back]})
    ctx["years_table"] = rows
    rate_rows = []
    if not yearly.empty:
        r = rates.add_rates(yearly[(yearly["year"] == year)
                                   & yearly["area_level"].isin(["gemeente", "wijk"])],
                            figures, rule)
        r = r[r["category"].isin([crimetypes.TOTAL_SLUG, rates.BURGLARY])]
        for rec in r.sort_values(["area_level", "area_code", "category"]).to_dict("records"):
            supp = rule.symbol if rec["rate_suppressed"] else ""
            rate_rows.append({
                "area": rec["area_code"], "label": rec["category_label"],
                "count": _n(rec["count"]),
                "per_inh": supp or _n(rec["per_1000_inhabitants"], 1),
                "per_dw": (supp or _n(rec["per_1000_dwellings"], 1))
                if rec["category"] == rates.BURGLARY else "",
                "denominator": _n(rec["denominator_year"]) or "geen"})
    ctx["rates_table"] = rate_rows
    ctx["rate_rule"] = (f"{rule.symbol} = geen cijfer: aantal of noemer kleiner dan "
                        f"{rule.threshold}.")
    per = []
    if not perception.empty:
        pt = rates.perception_table(perception, yearly, figures)
        for rec in pt.sort_values(["area_code", "indicator", "year"]).to_dict("records"):
            per.append({"label": rec["label"], "area": rec["area_code"], "year": rec["year"],
                        "value": _n(rec["value"], 1), "interval": rec["interval"]
                        .replace(".", ","), "crimes": _n(rec["crimes"]),
                        "rate": _n(rec["crimes_per_1000"], 1)})
    ctx["perception"] = per
    comp_rows: list[dict[str, object]] = []
    ctx["incident_source"] = ""
    if incidents:
        from .service import comparison_table
        try:
            comp = comparison_table(store, gemeenten=gemeenten)
        except InvalidInput:
            comp = pd.DataFrame()
        for rec in comp.to_dict("records"):
            comp_rows.append({"year": rec["year"], "label": rec["category_label"],
                              "incidents": _n(rec["incidents"]),
                              "published": _n(rec["published"]),
                              "difference": _n(rec["difference"]),
                              "ratio": "" if np.isnan(rec["ratio"]) else _n(rec["ratio"], 2),
                              "note": rec["note"]})
            ctx["incident_source"] = rec["incident_source"]
    ctx["comparison"] = comp_rows
    summary = store_counts.sources_summary(store, gemeenten=gemeenten)
    ctx["sources"] = "; ".join(
        f"{r.table_id} ({r.source}, {r.years}, opgehaald {r.retrieved_at:%d-%m-%Y})"
        for r in summary.itertuples()) or "geen"
    ctx["unmatched"] = "; ".join(f"{crimetypes.label(k)}: {v}"
                                 for k, v in mapping.UNMATCHED.items())
    return ctx


def render_section(store: StoreLike, year: int, **kw: object) -> str:
    """The HTML fragment (one ``<section>``) for the evaluation report."""
    return _env().get_template("published_section.html").render(
        **section_context(store, year, **kw))  # type: ignore[arg-type]


def render_document(store: StoreLike, year: int, *, gemeente_name: str = "de gemeente",
                    generated: datetime | None = None, **kw: object) -> str:
    """A self-contained Dutch HTML report of published figures only (no incidents loaded)."""
    generated = generated or datetime.now(UTC)
    body = render_section(store, year, incidents=False, **kw)
    title = html.escape(f"Gepubliceerde criminaliteitscijfers {gemeente_name} {year}")
    return ("<!DOCTYPE html>\n<html lang=\"nl\"><head><meta charset=\"utf-8\">"
            f"<title>{title}</title><style>body{{font-family:system-ui,sans-serif;"
            "max-width:1100px;margin:2rem auto;padding:0 1rem}table.stats{border-collapse:"
            "collapse}table.stats td,table.stats th{padding:.2rem .5rem;border-bottom:1px solid"
            " #ddd}td.num{text-align:right}.note,.sig{color:#555;font-size:.88rem}</style>"
            f"</head><body><h1>{title}</h1><p class=\"note\">Er zijn geen incidentpunten "
            "ingelezen: dit rapport toont alleen gepubliceerde aantallen per gebied. Hotspots "
            "en inzetadvies hebben incidentpunten nodig. Gemaakt met geoveilig op "
            f"{generated:%d-%m-%Y %H:%M} UTC.</p>{body}</body></html>\n")


def _has_incidents(store: StoreLike) -> bool:
    """Whether ``store`` holds any incident; for the view of some gemeenten
    (``scope.GemeenteStore``), any in their areas."""
    from ..scope import GemeenteStore

    if store.time_range() is None:
        return False
    return not isinstance(store, GemeenteStore) or int(store.count_incidents()) > 0


def _year_of(period: object) -> int:
    if getattr(period, "kind", None) != "year":
        raise InvalidInput("gepubliceerde aantallen worden per heel jaar vergeleken: geef "
                           "--year zonder --quarter of --period", where="--year")
    return int(period.year)  # type: ignore[attr-defined]


def section_if_counts(store: StoreLike, period: object, *, rule: LowCountRule | None = None,
                      gemeenten: Sequence[str] | None = None) -> str:
    """The published-figures section for the evaluation report of ``period`` when counts
    for its year are stored (of ``gemeenten``), else an empty string."""
    from .service import has_counts

    if not has_counts(store, gemeenten=gemeenten):
        return ""
    year = int(period.start.year)  # type: ignore[attr-defined]
    batches = store.batches()
    synthetic = "synthetic" in batches and bool(batches["synthetic"].astype(bool).any())
    try:
        return render_section(store, year, rule=rule, synthetic=synthetic,
                              gemeenten=gemeenten)
    except InvalidInput:  # no counts for that year
        return ""


def without_incidents(store: StoreLike, period: object, *, fmt: str, level: str = "gemeente",
                      rule: LowCountRule | None = None, years_back: tuple[int, ...] = (1, 5),
                      alpha: float = 0.05, gemeente_name: str = "de gemeente",
                      gemeenten: Sequence[str] | None = None) -> str | None:
    """``geoveilig report`` when the store holds published counts but no incidents: the
    evaluation table on the published counts (table, csv, json) or the HTML document.
    None when incidents are loaded or no counts are stored (the normal report applies).
    ``gemeenten``: the report's gemeente(n); only their published counts are used, and
    "no incidents" means none in their areas (``store`` is then their ``GemeenteStore``)."""
    from .. import safecsv
    from .service import has_counts

    if _has_incidents(store) or not has_counts(store, gemeenten=gemeenten):
        return None
    year = _year_of(period)
    if fmt == "html":
        return render_document(store, year, gemeente_name=gemeente_name, rule=rule,
                               years_back=years_back, gemeenten=gemeenten)
    yearly = rates.yearly_counts(store_counts.read_counts(store, gemeenten=gemeenten))
    table = rates.compare_years(yearly, year, years_back=years_back, rule=rule, alpha=alpha,
                                level=level)
    table.insert(0, "source", "gepubliceerd (politie via CBS)")
    if fmt == "csv":
        return safecsv.to_csv(table, index=False)
    if fmt == "json":
        return table.to_json(orient="records", force_ascii=False, indent=1) + "\n"
    cols = {"area_code": "gebied", "category_label": "categorie", "count": str(year),
            **{f"change_{k}y_text": f"t.o.v. {year - k}" for k in years_back},
            **{f"signal_{k}y": f"signaal {year - k}" for k in years_back}}
    shown = table[list(cols)].rename(columns=cols)
    shown = shown.astype(object).where(shown.notna().to_numpy(), "")
    partial = int(table["months"].min()) if len(table) else 12
    warn = (f"Let op: van {year} zijn pas {partial} maanden gepubliceerd; de vergelijking met "
            "hele eerdere jaren is dan scheef.\n" if partial < 12 else "")
    return (f"Gepubliceerde aantallen (politie via CBS), {year}; er zijn geen incidenten "
            "ingelezen.\n" + warn + shown.to_string(index=False) + "\n"
            + (rule or LowCountRule()).describe() + "\n")
