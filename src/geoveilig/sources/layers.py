"""Map layers of published figures (registered in the catalogue of ``geoveilig.layers``):

* ``published-wijken`` / ``published-buurten``: police counts per wijk/buurt for a year and
  crime type, with rates per 1,000 inhabitants (burglary also per 1,000 dwellings), the
  denominator year and the source on every feature.
* ``perception``: Veiligheidsmonitor indicators on the gemeente outline, per indicator and
  year, with their margins and the registered crimes of the same area and year.

``published_area_counts`` also serves the ``wijken``/``buurten`` layers when no incidents are
loaded (the hook in ``layers.area_counts``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import RD_NEW, crimetypes
from ..errors import InvalidInput
from ..layers import (
    CRIME_TYPE_PARAM,
    YEAR_PARAM,
    Layer,
    LayerContext,
    Suppression,
    register_layer,
)
from ..store import counts as store_counts
from . import mapping, rates

SOURCE_COLUMNS = ("source", "table_id", "retrieved_at")


def _categories(slugs: tuple[str, ...]) -> tuple[list[str], str]:
    """The published categories that cover ``slugs``, and a label saying what they hold."""
    wanted = set(slugs)
    if wanted == set(crimetypes.SLUGS):
        return [crimetypes.TOTAL_SLUG], crimetypes.TOTAL_LABEL
    keys = sorted({mapping.category_of(m.code) for m in mapping.BY_CODE.values()
                   if m.match != "total" and wanted & set(m.slugs)})
    label = " + ".join(mapping.category_label(k) for k in keys)
    extra = {s for k in keys for s in mapping.category_slugs(k)} - wanted
    if extra:
        label += " (gepubliceerd inclusief " + ", ".join(
            crimetypes.BY_SLUG[s].label.lower() for s in sorted(extra)) + ")"
    return keys, label


def published_area_counts(ctx: LayerContext, params: Mapping[str, Any], level: str
                          ) -> gpd.GeoDataFrame | None:
    """Counts (and rates) per wijk or buurt from published counts; None when none are
    stored. The year is the ``year``/``period`` parameter (whole years only) or the last
    complete published year."""
    gemeenten = ctx.areas.gemeente_codes
    counts = store_counts.read_counts(ctx.store, gemeenten=gemeenten)
    if counts.empty:
        return None
    yearly = rates.yearly_counts(counts)
    period = params.get("year") or params.get("period")
    if period is not None:
        start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
        if (start.month, start.day) != (1, 1) or end != start + pd.DateOffset(years=1):
            raise InvalidInput("gepubliceerde aantallen zijn er per heel jaar: geef year of "
                               "een period als 2017", where="period")
        year = start.year
    else:
        full = yearly[yearly["months"] >= 12]["year"]
        year = int(full.max() if len(full) else yearly["year"].max())
    slugs = params.get("crimeType") or crimetypes.SLUGS
    keys, label = _categories(tuple(slugs))
    sub = yearly[(yearly["year"] == year) & (yearly["area_level"] == level)
                 & yearly["category"].isin(keys)]
    agg = (sub.groupby("area_code")
           .agg(count=("count", "sum"), unpublished=("unpublished", "sum"),
                months=("months", "min"), source=("source", "first"),
                table_id=("table_id", "first"), retrieved_at=("retrieved_at", "max")))
    # rates on the summed categories: one row per area with category = the first key
    ratebase = agg.reset_index().assign(
        area_level=level, year=year, category=keys[0] if len(keys) == 1 else "+".join(keys))
    figures = store_counts.read_figures(ctx.store, gemeenten=gemeenten)
    with_rates = rates.add_rates(ratebase, figures[figures["area_level"] == level])
    with_rates = with_rates.set_index("area_code")
    base = ctx.areas.wijken if level == "wijk" else ctx.areas.buurten
    cols = ["code", "name"] + (["wijk_code"] if level == "buurt" else [])
    out = base[[*cols, "geometry"]].copy()
    codes = out["code"]
    out["crime_type"] = ",".join(slugs) if set(slugs) != set(crimetypes.SLUGS) else "totaal"
    out["crime_type_label"] = label
    out["period"] = str(year)
    out["period_start"] = f"{year}-01-01"
    out["period_end"] = f"{year}-12-31"
    out["count"] = pd.array(agg["count"].reindex(codes).to_numpy(), dtype="Int64")
    out["unpublished_cells"] = agg["unpublished"].reindex(codes).fillna(0).astype(int).to_numpy()
    out["months"] = agg["months"].reindex(codes).fillna(0).astype(int).to_numpy()
    for col in ("per_1000_inhabitants", "per_1000_dwellings"):
        out[col] = with_rates[col].reindex(codes).to_numpy(dtype=float)
    out["denominator_year"] = pd.array(with_rates["denominator_year"].reindex(codes)
                                       .to_numpy(), dtype="Int64")
    out["rate_suppressed"] = with_rates["rate_suppressed"].reindex(codes).fillna(False) \
        .astype(bool).to_numpy()
    out["source"] = agg["source"].reindex(codes).fillna("").to_numpy()
    out["table_id"] = agg["table_id"].reindex(codes).fillna("").to_numpy()
    out["retrieved_at"] = [t.date().isoformat() if pd.notna(t) else "" for t in
                           agg["retrieved_at"].reindex(codes)]
    out["area_km2"] = (out.geometry.area / 1e6).round(3)
    return gpd.GeoDataFrame(out.reset_index(drop=True), geometry="geometry", crs=RD_NEW)


def _build(level: str):  # type: ignore[no-untyped-def]
    def build(ctx: LayerContext, params: Mapping[str, Any]) -> gpd.GeoDataFrame:
        frame = published_area_counts(ctx, params, level)
        if frame is None:  # nothing fetched yet: an empty collection, not an error
            cols = ["code", "name", *(["wijk_code"] if level == "buurt" else []),
                    "crime_type", "crime_type_label", "period", "period_start", "period_end",
                    "count", "per_1000_inhabitants", "per_1000_dwellings", "denominator_year",
                    "rate_suppressed", "source", "table_id", "retrieved_at"]
            return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=RD_NEW)
        return frame
    return build


def build_perception(ctx: LayerContext, params: Mapping[str, Any]) -> gpd.GeoDataFrame:
    """One feature per area, indicator and year on the area's outline."""
    gemeenten = ctx.areas.gemeente_codes
    perception = store_counts.read_perception(ctx.store, gemeenten=gemeenten)
    counts = store_counts.read_counts(ctx.store, area_codes=list(perception["area_code"]
                                                                 .unique()))
    table = rates.perception_table(perception, rates.yearly_counts(counts),
                                   store_counts.read_figures(ctx.store, gemeenten=gemeenten))
    outlines = pd.concat([ctx.areas.gemeente[["code", "geometry"]],
                          ctx.areas.wijken[["code", "geometry"]]])
    geom = outlines.set_index("code").geometry
    table = table[table["area_code"].isin(geom.index)]
    out = pd.DataFrame({
        "id": table["area_code"] + "-" + table["indicator"] + "-" + table["year"].astype(str),
        "code": table["area_code"], "indicator": table["indicator"], "label": table["label"],
        "unit": table["unit"], "year": table["year"].astype(int), "value": table["value"],
        "lower": table["lower"], "upper": table["upper"], "crimes": table["crimes"],
        "crimes_per_1000": table["crimes_per_1000"], "source": table["source"],
        "table_id": table["table_id"],
        "retrieved_at": [t.date().isoformat() for t in table["retrieved_at"]],
    })
    out = out.replace({np.nan: None})
    return gpd.GeoDataFrame(out.reset_index(drop=True),
                            geometry=list(geom.reindex(table["area_code"]).to_numpy()),
                            crs=RD_NEW)


_SUPPRESSION = Suppression(("count",), threshold=5)

for _level, _plural in (("wijk", "wijken"), ("buurt", "buurten")):
    register_layer(Layer(
        id=f"published-{_plural}", title=f"{_plural.capitalize()}: gepubliceerde misdrijven "
                                         "(politie via CBS)",
        description=f"Door de politie gepubliceerde aantallen geregistreerde misdrijven per "
                    f"{_level} en jaar, met cijfers per 1.000 inwoners (woninginbraak ook per "
                    "1.000 woningen), het jaar van de noemer en de bron (tabel, ophaaldatum) "
                    "op elk gebied.",
        builder=_build(_level), role="public", params=(CRIME_TYPE_PARAM, YEAR_PARAM),
        id_column="code", time_columns=("period_start", "period_end"),
        queryables=("code",) + (("wijk_code",) if _level == "buurt" else ()),
        suppression=_SUPPRESSION, depends_on=("published",),
        keywords=(_level, "misdrijven", "politie", "CBS")))

register_layer(Layer(
    id="perception", title="Veiligheidsbeleving (Veiligheidsmonitor)",
    description="Aandeel inwoners dat zich wel eens onveilig voelt (CBS Veiligheidsmonitor) "
                "per jaar met de 95%-betrouwbaarheidsmarge, naast de geregistreerde misdrijven "
                "van hetzelfde gebied en jaar.",
    builder=build_perception, role="public", id_column="id",
    queryables=("code", "indicator", "year"), depends_on=("published",),
    keywords=("veiligheidsbeleving", "Veiligheidsmonitor", "CBS")))
