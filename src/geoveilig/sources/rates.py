"""Statistics on published counts: yearly counts per area and category, rates per 1,000
inhabitants (and burglary per 1,000 dwellings) with the year of the denominator, the comparison
of imported incidents with the published counts, and the perception table.

Plain functions over the frames of ``geoveilig.store.counts``; no I/O.

* **Categories** follow ``sources.mapping``: the police class "Diefstal van brom-, snor-,
  fietsen" stays one category (``fietsendiefstal+diefstal-bromfiets``); residual classes are
  ``overig``; ``totaal`` is the police's own roll-up row, not a sum of the detail rows.
* **Months or year**: a year is the sum of its month rows when the table has months, else its
  year row; ``months`` says how many months were published and ``unpublished`` how many cells
  were withheld (NULL), so an incomplete year is visible.
* **Denominators** come from the key figures of the same year or, when that year is not
  published, the latest earlier year (never a later one: no look-ahead); ``denominator_year``
  says which. No earlier year: no rate, with a note.
* **Small numbers**: a rate is replaced by the rule's symbol (``-*``) when the count is below
  the low-count threshold (as percentages are) or the denominator is (a buurt with a handful of
  inhabitants gives meaningless rates).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import crimetypes
from ..errors import InvalidInput
from ..stats import LowCountRule
from . import mapping

BURGLARY = "woninginbraak"

YEARLY_COLUMNS = ("area_code", "area_level", "year", "category", "category_label", "match",
                  "count", "months", "unpublished", "source", "table_id", "retrieved_at")


def category_match(key: str) -> str:
    if key == crimetypes.TOTAL_SLUG:
        return "total"
    if key == "overig":
        return "overig"
    return next(m.match for m in mapping.BY_CODE.values() if "+".join(m.slugs) == key)


def yearly_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """Published counts per area, year and category (see the module docstring)."""
    if counts.empty:
        return pd.DataFrame(columns=list(YEARLY_COLUMNS))
    c = counts.copy()
    c["category"] = c["crime_class"].map(mapping.category_of)
    has_months = c.groupby(["table_id", "year"])["month"].transform("max") > 0
    c = c[(c["month"] > 0) == has_months]  # months where published, else the year row
    c["unpublished"] = c["count"].isna().astype(int)
    grouped = c.groupby(["table_id", "area_code", "area_level", "year", "category"],
                        sort=True, dropna=False)
    out = grouped.agg(count=("count", lambda s: int(s.fillna(0).sum())),
                      months=("month", lambda m: int(m[m > 0].nunique()) if (m > 0).any()
                              else 12),  # a year row stands for twelve months
                      unpublished=("unpublished", "sum"),
                      source=("source", "first"), retrieved_at=("retrieved_at", "max")
                      ).reset_index()
    out["category_label"] = out["category"].map(mapping.category_label)
    out["match"] = out["category"].map(category_match)
    out["count"] = out["count"].astype("Int64")
    return out[list(YEARLY_COLUMNS)]


def add_rates(yearly: pd.DataFrame, figures: pd.DataFrame,
              rule: LowCountRule | None = None) -> pd.DataFrame:
    """Rates per 1,000 inhabitants for every row, and per 1,000 dwellings for burglary, with
    ``denominator_year`` and ``rate_suppressed`` (see the module docstring)."""
    rule = rule or LowCountRule()
    out = yearly.copy()
    for col in ("inhabitants", "dwellings", "per_1000_inhabitants", "per_1000_dwellings"):
        out[col] = np.nan
    out["denominator_year"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out["rate_suppressed"] = False
    out["rate_note"] = ""
    if out.empty:
        return out
    fig = (figures[["area_code", "year", "inhabitants", "dwellings"]]
           .rename(columns={"year": "denominator_year"})
           .astype({"inhabitants": "float64", "dwellings": "float64"})
           .sort_values("denominator_year"))
    left = out.drop(columns=["inhabitants", "dwellings", "denominator_year"]).reset_index()
    left = left.astype({"year": "int64"}).sort_values("year")
    if fig.empty:
        merged = left.assign(inhabitants=np.nan, dwellings=np.nan, denominator_year=pd.NA)
    else:
        fig = fig.astype({"denominator_year": "int64"})
        merged = pd.merge_asof(left, fig, left_on="year", right_on="denominator_year",
                               by="area_code", direction="backward")
    merged = merged.set_index("index").reindex(out.index)
    count = merged["count"].astype("float64").to_numpy()
    threshold = rule.threshold if rule.mode != "off" else 0
    for base, col, only in (("inhabitants", "per_1000_inhabitants", None),
                            ("dwellings", "per_1000_dwellings", BURGLARY)):
        denom = merged[base].to_numpy(dtype=float)
        ok = denom > 0
        if only is not None:
            ok &= (merged["category"] == only).to_numpy()
        rate = np.where(ok, count / np.where(ok, denom, 1.0) * 1000.0, np.nan)
        small = ok & ((count < threshold) | (denom < rule.threshold))
        out[base] = denom
        out[col] = np.where(small, np.nan, np.round(rate, 2))
        out["rate_suppressed"] |= small
    out["denominator_year"] = merged["denominator_year"].astype("Int64").to_numpy()
    missing = out["denominator_year"].isna()
    out.loc[missing, "rate_note"] = "geen kerncijfers van dit jaar of eerder"
    later = ~missing & (out["denominator_year"] != out["year"])
    out.loc[later, "rate_note"] = ("noemer uit " + out.loc[later, "denominator_year"]
                                   .astype(str) + " (recentste eerdere jaar)")
    out.loc[out["rate_suppressed"], "rate_note"] = (
        f"{rule.symbol}: aantal of noemer kleiner dan {rule.threshold}")
    return out


def _slug_keys() -> dict[str, str]:
    keys: dict[str, str] = {}
    for m in mapping.BY_CODE.values():
        if m.match == "total":
            continue
        for s in m.slugs:
            keys.setdefault(s, "+".join(m.slugs))
    return keys


def compare_sources(incidents: pd.DataFrame, yearly: pd.DataFrame, *,
                    coverage: tuple[pd.Timestamp, pd.Timestamp] | None = None,
                    incident_source: str = "geïmporteerd") -> pd.DataFrame:
    """How far imported incidents and published counts agree, per category and year, for the
    whole gemeente (the published gemeente row; without one, the sum of its buurten).

    Columns: ``year``, ``category``, ``category_label``, ``match``, ``incidents``,
    ``published``, ``difference`` (incidents - published), ``ratio`` (incidents /
    published), ``incident_source``, ``published_source``, ``note``. Only years that both
    sources cover; a year the incidents do not cover completely is marked."""
    cols = ["year", "category", "category_label", "match", "incidents", "published",
            "difference", "ratio", "incident_source", "published_source", "note"]
    if yearly.empty or incidents.empty:
        return pd.DataFrame(columns=cols)
    pub = yearly[yearly["area_level"] == "gemeente"]
    if pub.empty:
        pub = yearly[yearly["area_level"] == "buurt"]
    pub = (pub.groupby(["year", "category"])
           .agg(published=("count", "sum"), months=("months", "max"),
                unpublished=("unpublished", "sum"), source=("source", "first"))
           .reset_index())
    when = pd.to_datetime(incidents["occurred_at"])
    inc = pd.DataFrame({"year": when.dt.year.to_numpy(),
                        "category": incidents["crime_type"].map(_slug_keys()).fillna("overig")})
    by_cat = inc.groupby(["year", "category"]).size().rename("incidents").reset_index()
    total = inc.groupby("year").size().rename("incidents").reset_index()
    total["category"] = crimetypes.TOTAL_SLUG
    inc_counts = pd.concat([by_cat, total], ignore_index=True)
    years = sorted(set(inc_counts["year"]) & set(pub["year"]))
    out = pub[pub["year"].isin(years)].merge(inc_counts[inc_counts["year"].isin(years)],
                                             on=["year", "category"], how="outer")
    out["incidents"] = out["incidents"].fillna(0).astype(int)
    out["months"] = out["months"].fillna(0).astype(int)
    out["unpublished"] = out["unpublished"].fillna(0).astype(int)
    missing_pub = out["published"].isna().to_numpy()
    out["published"] = out["published"].astype("Int64")
    out["difference"] = out["incidents"] - out["published"]
    pubf = out["published"].astype(float).to_numpy()
    out["ratio"] = np.where(pubf > 0, np.round(out["incidents"] / np.where(pubf > 0, pubf, 1),
                                               2), np.nan)
    out["category_label"] = out["category"].map(mapping.category_label)
    out["match"] = out["category"].map(category_match)
    out["incident_source"] = incident_source
    out["published_source"] = out["source"].fillna("")
    notes = []
    for rec in out.itertuples():
        parts = []
        if rec.match == "wider":
            parts.append("politieklasse is ruimer dan de categorie")
        elif rec.match == "combined":
            parts.append("fiets en brom-/snorfiets samen gepubliceerd")
        elif rec.match == "overig":
            parts.append("restgroep: indeling verschilt per bron")
        if missing_pub[rec.Index]:
            parts.append("geen gepubliceerd aantal voor deze categorie")
        elif rec.months < 12:
            parts.append(f"slechts {rec.months} maanden gepubliceerd")
        if rec.unpublished:
            parts.append(f"{rec.unpublished} cellen niet gepubliceerd")
        if coverage is not None:
            start, end = pd.Timestamp(f"{rec.year}-01-01"), pd.Timestamp(f"{rec.year + 1}-01-01")
            c0, c1 = (pd.Timestamp(t).tz_localize(None) if pd.Timestamp(t).tzinfo else
                      pd.Timestamp(t) for t in coverage)
            if c0 > start or c1 < end:
                parts.append("incidenten dekken het jaar niet volledig")
        notes.append("; ".join(parts))
    out["note"] = notes
    order = {k: i for i, k in enumerate([crimetypes.TOTAL_SLUG, *dict.fromkeys(
        _slug_keys().values())])}
    out = out.sort_values(["year", "category"], key=lambda s: s.map(order) if s.name ==
                          "category" else s).reset_index(drop=True)
    return out[cols]


def perception_table(perception: pd.DataFrame, yearly: pd.DataFrame | None = None,
                     figures: pd.DataFrame | None = None) -> pd.DataFrame:
    """Perception indicators per area and year with their interval, beside the registered
    crimes of the same area and year (total, and per 1,000 inhabitants where known)."""
    out = perception.copy()
    out["interval"] = [
        f"{lo:.1f}-{hi:.1f}" if pd.notna(lo) and pd.notna(hi) else "geen marge gepubliceerd"
        for lo, hi in zip(out["lower"], out["upper"], strict=True)]
    out["crimes"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out["crimes_per_1000"] = np.nan
    if yearly is not None and not yearly.empty and not out.empty:
        tot = yearly[yearly["category"] == crimetypes.TOTAL_SLUG]
        if figures is not None:
            tot = add_rates(tot, figures)
        key = tot.set_index(["area_code", "year"])
        idx = pd.MultiIndex.from_arrays([out["area_code"], out["year"]])
        out["crimes"] = key["count"].reindex(idx).to_numpy()
        if "per_1000_inhabitants" in key:
            out["crimes_per_1000"] = key["per_1000_inhabitants"].reindex(idx).to_numpy()
    return out


def compare_years(yearly: pd.DataFrame, year: int, *, years_back: tuple[int, ...] = (1, 5),
                  rule: LowCountRule | None = None, alpha: float = 0.05,
                  level: str = "gemeente") -> pd.DataFrame:
    """The evaluation table on published counts: per area of ``level`` and category the count
    of ``year`` against 1 and 5 years earlier, the change in whole percentages with the
    low-count rule (``-*``), and the exact test for two Poisson counts
    (``stats.binomial_test``, equal lengths). Years without published counts stay empty
    (never zero)."""
    from ..stats import BINOMIAL_METHOD, binomial_test, format_percent, percent_change

    rule = rule or LowCountRule()
    sub = yearly[yearly["area_level"] == level]
    if year not in set(sub["year"]):
        have = ", ".join(str(y) for y in sorted(set(sub["year"]))) or "geen"
        raise InvalidInput(f"geen gepubliceerde aantallen voor {year} (wel: {have})",
                           where="--year")
    wide = sub.pivot_table(index=["area_code", "category"], columns="year", values="count",
                           aggfunc="sum")
    out = wide[[year]].rename(columns={year: "count"}).reset_index()
    months = sub[sub["year"] == year].groupby(["area_code", "category"])["months"].min()
    out["months"] = months.reindex(pd.MultiIndex.from_frame(out[["area_code", "category"]])
                                   ).fillna(0).astype(int).to_numpy()
    for k in years_back:
        ref = wide[year - k] if (year - k) in wide.columns else pd.Series(np.nan,
                                                                          index=wide.index)
        a = ref.to_numpy(dtype=float)
        b = wide[year].to_numpy(dtype=float)
        out[f"count_{k}y"] = pd.array([None if np.isnan(v) else int(v) for v in a],
                                      dtype="Int64")
        change = percent_change(a, b)
        suppressed = rule.apply(out["category"].to_numpy(), k, np.nan_to_num(a, nan=np.inf),
                                b) & ~np.isnan(a)
        out[f"change_{k}y"] = np.where(suppressed, np.nan, change)
        out[f"change_{k}y_text"] = [
            rule.symbol if s else ("" if np.isnan(c) else format_percent(c))
            for s, c in zip(suppressed, change, strict=True)]
        p = binomial_test(a, b)
        out[f"p_{k}y"] = p
        out[f"signal_{k}y"] = [
            "" if np.isnan(pv) else ("significant hoger" if pv < alpha and bb > aa else
                                     "significant lager" if pv < alpha else "geen signaal")
            for pv, aa, bb in zip(p, a, b, strict=True)]
    out["category_label"] = out["category"].map(mapping.category_label)
    out["match"] = out["category"].map(category_match)
    out["method"] = BINOMIAL_METHOD
    order = {k: i for i, k in enumerate([crimetypes.TOTAL_SLUG, *dict.fromkeys(
        _slug_keys().values())])}
    out = out.sort_values(["area_code", "category"],
                          key=lambda s: s.map(order) if s.name == "category" else s)
    return out.reset_index(drop=True)
