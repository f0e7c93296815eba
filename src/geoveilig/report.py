"""The Dutch evaluation report: the comparison table as text, CSV, JSON and a self-contained
HTML page (table, choropleth of the change in HIC per wijk, small multiples per category over
the years, significance explained in plain words).

Everything here turns results of ``geoveilig.stats`` into strings; it computes no statistics
and does no I/O (the CLI writes the files). Charts are drawn with matplotlib's object API (no
pyplot, no global state) and embedded as inline SVG: the HTML needs no other file and no CDN.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from matplotlib import colormaps, rc_context
from matplotlib.cm import ScalarMappable
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from . import stats
from ._json import json_value
from .stats import YEARLY_MAX_YEARS, Comparison, Evaluation, Period

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

    from .store.protocols import IncidentReader

# ---------------------------------------------------------------------------------------------
# Small formatting helpers (Dutch)
# ---------------------------------------------------------------------------------------------


def format_count(value: object) -> str:
    """``5272`` -> ``5.272`` (Dutch thousands separator); missing -> ``geen gegevens``."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "geen gegevens"
    return f"{int(value):,}".replace(",", ".")  # type: ignore[call-overload]


def format_p(p: float) -> str:
    if not np.isfinite(p):
        return "-"
    if p < 0.001:
        return "p < 0,001"
    return f"p = {p:.3f}".replace(".", ",")


_SHORT_SIGNAL = {
    "significant hoger": "▲ sign.",
    "significant lager": "▼ sign.",
    "binnen toeval": "toeval",
    "geen gegevens": "",
    "stijgende trend": "▲ trend",
    "dalende trend": "▼ trend",
    "geen trend": "-",
    "te weinig jaren": "",
}


def _has_trend(c: Comparison) -> bool:
    """The trend test needs at least 4 periods (see ``stats.compare``)."""
    return len(c.trend_periods) >= 4


def _headers(c: Comparison) -> list[tuple[str, str]]:
    t = c.period.key
    out = []
    if c.references:
        out.append((c.references[0][1].key, "(absoluut)"))
    out.append((t, "(absoluut)"))
    for k, p in c.references:
        out.append((f"{t} t.o.v. {p.key}", f"({k} jaar verschil)"))
    return out


# ---------------------------------------------------------------------------------------------
# Text table (CLI)
# ---------------------------------------------------------------------------------------------
#: Below this relative change (in %) a "significant" difference is called small in the text.
SMALL_CHANGE_PCT = 10.0


def multiplicity_note(c: Comparison) -> str:
    """How many tests the table holds and what that means: with many comparisons some are
    "significant" by chance alone, and with totals in the thousands a change of a few percent
    is "significant" without mattering; the effect size stands beside every p."""
    n_diff = sum(int(np.isfinite(c.frame[f"p_{k}y"].to_numpy(dtype=float)).sum())
                 for k, _p in c.references)
    n_trend = int(np.isfinite(c.frame["trend_p"].to_numpy(dtype=float)).sum()) \
        if "trend_p" in c.frame else 0
    n = n_diff + n_trend
    if n == 0:
        return ""
    n_sig = sum(int((c.frame[f"p_{k}y"].to_numpy(dtype=float) < c.alpha).sum())
                for k, _p in c.references)
    expected = n * c.alpha
    return (f"In deze tabel zijn {n} vergelijkingen getoetst ({n_diff} verschillen en "
            f"{n_trend} trends); {n_sig} verschillen heten 'significant'. Bij alpha = "
            f"{c.alpha:g} zijn er door toeval alleen al ongeveer {expected:.1f} 'significant' "
            "te verwachten. Bij totalen van duizenden misdrijven is een verschil van enkele "
            "procenten al 'significant' zonder dat het voor beleid iets betekent: kijk naast "
            "de p-waarde altijd naar de grootte van het verschil (het percentage en het aantal).")


def text_table(c: Comparison, *, signals: bool = True) -> str:
    """The table as the CLI prints it: the source's layout (one block per area), counts with
    a Dutch thousands separator, the percentage and, when ``signals``, the significance mark
    next to it, followed by the legend naming the methods."""
    blocks = []
    for code, sub in c.frame.groupby("area_code", sort=False):
        name = sub["area_name"].iloc[0]
        title = (f"Criminaliteitscijfers gemeente {name}" if c.level == "gemeente"
                 else f"Criminaliteitscijfers {c.level} {name} ({code or '-'})")
        blocks.append(_text_block(c, sub, title, signals))
    legend = ["", c.rule.describe(), c.rounding_text()]
    if signals:
        legend += [
            f"▲/▼ sign.: verschil groter dan toeval ({c.methods['verschil']}, "
            f"alpha = {c.alpha:g}); toeval: binnen wat bij toeval te verwachten is.",
        ]
        if _has_trend(c):
            legend.append(f"Trend: {c.methods['trend']}.")
        note = multiplicity_note(c)
        if note:
            legend.append(note)
    legend += list(c.notes)
    return "\n\n".join(blocks) + "\n" + "\n".join(legend) + "\n"


def _text_block(c: Comparison, sub: pd.DataFrame, title: str, signals: bool) -> str:
    heads = _headers(c)
    label_w = max(len(title), *(len(x) for x in sub["label"]))
    cols: list[list[str]] = []
    if c.references:
        k0 = c.references[0][0]
        cols.append([format_count(v) for v in sub[f"count_{k0}y"]])
    cols.append([format_count(v) for v in sub["count"]])
    for k, _p in c.references:
        pct = list(sub[f"change_{k}y_text"])
        if signals:
            sig = [_SHORT_SIGNAL.get(s, s) for s in sub[f"signal_{k}y"]]
            pct = [f"{a} {b}".rstrip() if a not in ("geen gegevens",) else a
                   for a, b in zip(pct, sig, strict=True)]
        cols.append(pct)
    h1 = [h[0] for h in heads]
    h2 = [h[1] for h in heads]
    if signals and _has_trend(c):
        h1.append("trend")
        h2.append(f"({c.trend_periods[0].key}-{c.period.key})")
        cols.append([_SHORT_SIGNAL.get(s, s) for s in sub["trend_signal"]])
    widths = [max(len(h1[i]), len(h2[i]), *(len(v) for v in cols[i])) for i in range(len(cols))]
    lines = [
        title.ljust(label_w) + "".join("  " + h.rjust(w) for h, w in zip(h1, widths, strict=True)),
        "".ljust(label_w) + "".join("  " + h.rjust(w) for h, w in zip(h2, widths, strict=True)),
    ]
    lines.append("-" * len(lines[0]))
    for i, lab in enumerate(sub["label"]):
        lines.append(lab.ljust(label_w) + "".join(
            "  " + col[i].rjust(w) for col, w in zip(cols, widths, strict=True)))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# CSV and JSON
# ---------------------------------------------------------------------------------------------
def to_csv(c: Comparison, *, signals: bool = True) -> str:
    """CSV in the source's layout (``categorie,aantal_2016,aantal_2017,verschil_2017_vs_2016,
    verschil_2017_vs_2012``), plus the significance columns named after their method."""
    from .safecsv import to_csv as safe_csv

    return safe_csv(c.seed_layout(with_signals=signals), index=False, lineterminator="\n")


def to_records(c: Comparison) -> dict[str, object]:
    """The comparison as a JSON-ready dict: period, references, methods, notes and one record
    per area x row with every column of ``Comparison.frame``."""
    rows = [{k: json_value(v) for k, v in rec.items()}
            for rec in c.frame.to_dict(orient="records")]
    return {
        "period": {"key": c.period.key, "label": c.period.label,
                   "start": c.period.start.isoformat(), "end": c.period.end.isoformat()},
        "level": c.level,
        "references": [{"years_back": k, "key": p.key, "label": p.label}
                       for k, p in c.references],
        "trend_periods": [p.key for p in c.trend_periods],
        "alpha": c.alpha,
        "low_count_rule": {"threshold": c.rule.threshold, "mode": c.rule.mode,
                           "suppress": sorted(map(list, c.rule.suppress)),
                           "show": sorted(map(list, c.rule.show)), "symbol": c.rule.symbol},
        "rounding": {str(k): v for k, v in c.rounding},
        "methods": c.methods,
        "multiple_comparisons": multiplicity_note(c),
        "notes": list(c.notes),
        "rows": rows,
    }


def to_json(c: Comparison) -> str:
    return json.dumps(to_records(c), ensure_ascii=False, indent=2)


# ---------------------------------------------------------------------------------------------
# Charts (inline SVG)
# ---------------------------------------------------------------------------------------------
_RC: dict[RcKeyType, Any] = {"svg.fonttype": "none", "font.size": 9, "svg.hashsalt": "geoveilig"}


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def choropleth_svg(layer: pd.DataFrame, *, column: str, text_column: str, title: str,
                   suppressed_column: str | None = None) -> str:
    """A choropleth of ``column`` (percent change) per area, red = rise, blue = fall; areas
    without a value or with a suppressed value are light grey and hatched. Labels: area name
    and ``text_column``."""
    with rc_context(_RC):
        fig = Figure(figsize=(7.5, 6.5))
        ax = fig.add_subplot()
        values = pd.to_numeric(layer[column], errors="coerce").to_numpy(dtype=float)
        hidden = ~np.isfinite(values)
        if suppressed_column is not None:
            hidden |= layer[suppressed_column].fillna(False).to_numpy(dtype=bool)
        finite = values[~hidden]
        lim = float(np.nanmax(np.abs(finite))) if finite.size else 1.0
        lim = max(lim, 1.0)
        norm = TwoSlopeNorm(vmin=-lim, vcenter=0.0, vmax=lim)
        cmap = colormaps["RdBu_r"]
        shown = layer[~hidden]
        if len(shown):
            shown.plot(ax=ax, color=cmap(norm(values[~hidden])), edgecolor="white",
                       linewidth=0.8)
        if hidden.any():
            layer[hidden].plot(ax=ax, color="#e5e5e5", edgecolor="white", hatch="///",
                               linewidth=0.8)
        for geom, name, txt in zip(layer.geometry, layer["name"], layer[text_column],
                                   strict=True):
            pt = geom.representative_point()
            ax.annotate(f"{name}\n{txt}", (pt.x, pt.y), ha="center", va="center", fontsize=7,
                        color="#111", bbox={"boxstyle": "round,pad=0.2", "fc": "white",
                                            "alpha": 0.75, "lw": 0})
        ax.set_axis_off()
        ax.set_aspect("equal")
        ax.set_title(title)
        sm = ScalarMappable(norm=norm, cmap=cmap)
        cb = fig.colorbar(sm, ax=ax, shrink=0.6, label="verandering (%)")
        cb.ax.tick_params(labelsize=7)
        return _svg(fig)


def bars_svg(values: Sequence[float], years: Sequence[str], *, highlight: str | None = None,
             title: str = "", width: int = 230, height: int = 130) -> str:
    """A small bar chart as hand-written inline SVG (no matplotlib: dozens of these must render
    in milliseconds). Bars per year, the ``highlight`` year dark, the value on each bar."""
    known = [v is not None and v is not pd.NA and np.isfinite(float(v)) for v in values]
    vals = [float(v) if k else 0.0 for v, k in zip(values, known, strict=True)]
    top = max(vals) if vals and max(vals) > 0 else 1.0
    pad_t, pad_b, pad_x = 16, 18, 6
    plot_h = height - pad_t - pad_b
    n = max(len(vals), 1)
    slot = (width - 2 * pad_x) / n
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" '
             f'aria-label="{_esc(title)}"><title>{_esc(title)}</title>']
    for i, (v, y) in enumerate(zip(vals, years, strict=True)):
        x = pad_x + i * slot + slot * 0.15
        w = slot * 0.7
        if not known[i]:  # a period outside the loaded data: say so, never draw a zero
            parts.append(f'<text x="{x + w / 2:.1f}" y="{pad_t + plot_h - 3:.1f}" '
                         f'font-size="7" text-anchor="middle" fill="#999"><title>{y}: geen '
                         'gegevens</title>geen gegevens</text>')
            parts.append(f'<text x="{x + w / 2:.1f}" y="{height - 5}" font-size="9" '
                         f'text-anchor="middle" fill="#555">{y}</text>')
            continue
        h = plot_h * v / top
        color = "#1f4e79" if y == highlight else "#9db7d5"
        parts.append(f'<rect x="{x:.1f}" y="{pad_t + plot_h - h:.1f}" width="{w:.1f}" '
                     f'height="{h:.1f}" fill="{color}"><title>{y}: {format_count(v)}'
                     '</title></rect>')
        parts.append(f'<text x="{x + w / 2:.1f}" y="{pad_t + plot_h - h - 3:.1f}" '
                     f'font-size="9" text-anchor="middle" fill="#333">{format_count(v)}</text>')
        parts.append(f'<text x="{x + w / 2:.1f}" y="{height - 5}" font-size="9" '
                     f'text-anchor="middle" fill="#555">{y}</text>')
    parts.append(f'<line x1="{pad_x}" x2="{width - pad_x}" y1="{pad_t + plot_h}" '
                 f'y2="{pad_t + plot_h}" stroke="#999" stroke-width="0.8"/></svg>')
    return "".join(parts)


def _esc(text: str) -> str:
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def small_multiples(yearly: pd.DataFrame, labels: Sequence[str], *,
                    highlight: str | None = None) -> list[dict[str, str]]:
    """One small bar chart (inline SVG) per row of ``yearly`` (rows x years)."""
    years = [str(c) for c in yearly.columns]
    short = [y[2:] if len(y) > 4 else y for y in years]  # 2018-Q1 -> 18-Q1
    hl = highlight[2:] if highlight and len(highlight) > 4 else highlight
    return [{"label": lab, "svg": bars_svg(yearly.loc[row].to_numpy(dtype=float), short,
                                           highlight=hl, title=lab)}
            for row, lab in zip(yearly.index, labels, strict=True)]


# ---------------------------------------------------------------------------------------------
# Plain-Dutch explanation of the significance signals
# ---------------------------------------------------------------------------------------------
def _pct_words(text: str) -> str:
    return f"+{text}" if re.fullmatch(r"\d+%", text) and text != "0%" else text


def explain(c: Comparison, max_items: int = 40, *, include_noise: bool = True,
            rows: Sequence[str] | None = None) -> list[str]:
    """Plain-Dutch sentences: which changes are larger than chance, which large-looking
    changes are within chance (``include_noise``), and which rows show a steady trend.
    ``rows`` limits the sentences to some row keys."""
    out: list[str] = []
    if not c.references:
        return out
    k, p = c.references[0]
    f = c.frame
    if rows is not None:
        f = f[f["crime_type"].isin(list(rows))]
    for rec in f.itertuples(index=False):
        a = getattr(rec, f"count_{k}y")
        if a is pd.NA or a is None:
            continue
        b = rec.count
        sig = getattr(rec, f"signal_{k}y")
        pval = getattr(rec, f"p_{k}y")
        pct = getattr(rec, f"change_{k}y_text")
        where = f" in {rec.area_name}" if c.level != "gemeente" else ""
        head = (f"{rec.label}{where}: {format_count(a)} in {p.label} → {format_count(b)} in "
                f"{c.period.label} ({_pct_words(pct)})")
        change = getattr(rec, f"change_{k}y")
        if getattr(rec, f"suppressed_{k}y"):
            head = (f"{rec.label}{where}: {format_count(a)} in {p.label} → {format_count(b)} "
                    f"in {c.period.label}")
        if sig.startswith("significant"):
            word = "stijging" if b > a else "daling"
            size = (f"verschil {int(b) - int(a):+d} misdrijven, {_pct_words(pct)}"
                    if not getattr(rec, f"suppressed_{k}y") else f"verschil {int(b) - int(a):+d}")
            text = (f"{head}. Deze {word} is groter dan wat je door toeval kunt verwachten "
                    f"({size}; {format_p(pval)}).")
            if np.isfinite(change) and abs(change) < SMALL_CHANGE_PCT:
                text += (f" Het verschil is klein ({_pct_words(pct)}): bij zulke grote aantallen "
                         "is ook een kleine verandering 'significant'; of ze ertoe doet is een "
                         "beleidsvraag, geen statistische.")
            out.append(text)
        elif (include_noise and np.isfinite(change) and abs(change) >= 20
              and not getattr(rec, f"suppressed_{k}y")):
            out.append(f"{head}. Dat lijkt veel, maar bij deze aantallen valt het binnen het "
                       f"toeval ({format_p(pval)}): geen reden om alleen hierop te handelen.")
        if rec.trend_signal in ("stijgende trend", "dalende trend"):
            out.append(f"{rec.label}{where}: {rec.trend_signal} over "
                       f"{c.trend_periods[0].label} t/m {c.period.label} (Mann-Kendall, "
                       f"{format_p(rec.trend_p)}), ook als de stap van één jaar klein is.")
        if len(out) >= max_items:
            break
    return out


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------
def _env() -> Environment:
    env = Environment(loader=PackageLoader("geoveilig", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["count"] = format_count
    env.filters["short"] = lambda s: _SHORT_SIGNAL.get(s, s)
    return env


def _table_ctx(c: Comparison, code: str | None = None) -> dict[str, object]:
    sub = c.frame if code is None else c.frame[c.frame["area_code"] == code]
    rows = []
    for rec in sub.to_dict(orient="records"):
        cells = []
        if c.references:
            k0 = c.references[0][0]
            cells.append({"text": format_count(rec[f"count_{k0}y"]), "cls": "num"})
        cells.append({"text": format_count(rec["count"]), "cls": "num"})
        for k, _p in c.references:
            sig = rec[f"signal_{k}y"]
            cls = {"significant hoger": "up", "significant lager": "down"}.get(sig, "")
            cells.append({"text": rec[f"change_{k}y_text"], "cls": f"num {cls}",
                          "signal": _SHORT_SIGNAL.get(sig, sig),
                          "title": f"{sig}, verschil {rec[f'change_{k}y_text']}, "
                                   f"{format_p(rec[f'p_{k}y'])}"})
        if _has_trend(c):
            cells.append({"text": _SHORT_SIGNAL.get(rec["trend_signal"], rec["trend_signal"]),
                          "cls": "trend", "title": f"{rec['trend_signal']}, "
                                                   f"{format_p(rec['trend_p'])}"})
        rows.append({"label": rec["label"], "cells": cells,
                     "total": rec["crime_type"] == "totaal"})
    heads = _headers(c)
    if _has_trend(c):
        heads.append(("trend", f"({c.trend_periods[0].key}-{c.period.key})"))
    return {"heads": heads, "rows": rows}


def render_html(ev: Evaluation, *, title: str | None = None,
                generated: datetime | None = None, published: str = "",
                synthetic: bool = False) -> str:
    """The self-contained Dutch HTML report of an ``Evaluation``. ``published``: the
    section of published figures (``geoveilig.sources.report.render_section``), appended.
    ``synthetic``: the incidents are demo data, said in a banner above everything else."""
    g = ev.gemeente
    name = g.gemeente_name or "de gemeente"
    title = title or f"Criminaliteitscijfers {name} {g.period.label}"
    hic_svg = ""
    if ev.hic_wijken is not None and g.references:
        k = g.references[0][0]
        layer = ev.hic_wijken.copy()
        marks = {"significant hoger": " ▲", "significant lager": " ▼"}
        layer["_txt"] = [
            f"{format_count(a)} → {format_count(b)} ({t}){marks.get(sg, '')}"
            for a, b, t, sg in zip(layer[f"count_{k}y"], layer["count"],
                                   layer[f"change_{k}y_text"], layer[f"signal_{k}y"],
                                   strict=True)]
        hic_svg = choropleth_svg(
            layer, column=f"change_{k}y", text_column="_txt",
            suppressed_column=f"suppressed_{k}y",
            title=f"High Impact Crimes: {g.period.label} t.o.v. {g.references[0][1].label}")
    multiples: list[dict[str, str]] = []
    if ev.yearly.shape[1] > 0:
        labels = list(g.frame.drop_duplicates("crime_type").set_index("crime_type")
                      .reindex(ev.yearly.index)["label"])
        multiples = small_multiples(ev.yearly, labels, highlight=g.period.key)
    wijk_tables = []
    if ev.wijken is not None:
        for code, sub in ev.wijken.frame.groupby("area_code", sort=False):
            wijk_tables.append({"code": code, "name": sub["area_name"].iloc[0],
                                **_table_ctx(ev.wijken, code)})
    extras = [{"title": f"{c.period.label} t.o.v. "
                        + ", ".join(p.label for _k, p in c.references),
               "table": _table_ctx(c), "explain": explain(c), "notes": c.notes}
              for c in ev.extra]
    generated = generated or datetime.now(UTC)
    return _env().get_template("report.html").render(
        synthetic=synthetic,
        title=title, gemeente=name, period=g.period, references=g.references,
        table=_table_ctx(g), methods=g.methods, rule=g.rule, alpha=g.alpha,
        explain=explain(g), multiplicity=multiplicity_note(g), notes=g.notes, hic_svg=hic_svg,
        multiples=multiples,
        wijk_tables=wijk_tables, wijk_notes=ev.wijken.notes if ev.wijken else (),
        wijk_explain=explain(ev.wijken, max_items=30, include_noise=False,
                                            rows=("totaal", "hic")) if ev.wijken else [],
        extras=extras, generated=f"{generated:%d-%m-%Y %H:%M} UTC",
        years=[str(c) for c in ev.yearly.columns], published=Markup(published),
    )


def incidents_for(store: IncidentReader, periods: list[Period], years_back: tuple[int, ...] = (1, 5)
                  ) -> tuple[pd.DataFrame, tuple[pd.Timestamp, pd.Timestamp]]:
    """The incidents a comparison of ``periods`` with ``years_back`` needs, read from
    ``store`` (a ``geoveilig.store.Store``), and the store's data coverage (first day, day
    after the last). Raises ``InvalidInput`` when the store is empty or a period lies outside
    the data."""
    from .errors import InvalidInput

    rng = store.time_range()
    if rng is None:
        raise InvalidInput("de opslag bevat geen incidenten: importeer eerst gegevens "
                           "(geoveilig import) of laad de demo (geoveilig demo)")
    coverage = (rng[0].normalize(), rng[1].normalize() + pd.DateOffset(days=1))
    for p in periods:
        stats.check_covered(p, coverage)
    earliest = min(periods, key=lambda p: p.start)
    # load every year the report shows: the comparisons, the trend and the yearly charts
    # (``stats.period_series`` goes back up to YEARLY_MAX_YEARS); the coverage returned never
    # starts before what was loaded, so a year that was not read is "geen gegevens", never 0
    start = earliest.shift(-max((*years_back, 5, YEARLY_MAX_YEARS))).start
    incidents = store.incidents(start=start, end=max(p.end for p in periods))
    return incidents, (max(coverage[0], start), coverage[1])
