"""Tables for people in the terminal: Dutch column headers, decimal commas, ja/nee for
booleans and "–" for a missing value (never ``NaN``, ``True`` or an internal column name).
Machine formats (CSV, JSON, GeoJSON) are written elsewhere and keep their own conventions.

The one place for the headers of CLI tables: a column's header comes from the layer catalogue
(``layers.FIELDS``: the same Dutch label, unit and kind the map uses) and, for columns that
only the command line prints, from :data:`LABELS`. A command passes the column names (and a
header of its own only where the catalogue's label means something else in that table)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

MISSING = "–"


class Column(NamedTuple):
    """How a CLI-only column is shown (the same fields as ``layers.Field``)."""

    label: str
    unit: str = ""
    kind: str = "text"  # text, integer, number, share (a fraction shown as a percentage)


#: columns that the layer catalogue does not describe (tables of the CLI only)
LABELS: dict[str, Column] = {
    # prevention: growth and gaps
    "quarter": Column("kwartaal"), "wijkdekkend_wijken": Column("wijkdekkende wijken",
                                                                kind="integer"),
    "active_teams_change": Column("verschil actieve teams", kind="integer"),
    "whatsapp_groups_change": Column("verschil WhatsApp-groepen", kind="integer"),
    "coverage_share_change": Column("verschil gedekt", "procentpunt", "share"),
    "risk_share": Column("deel van het risico", kind="share"),
    "uncovered_share": Column("ongedekt deel", kind="share"),
    "gap_score": Column("risico x ongedekt", kind="number"),
    "gap_share": Column("deel van de witte vlek", kind="share"),
    # alerts and witte-voetenacties
    "valid_from": Column("geldig vanaf"), "valid_until": Column("geldig tot"),
    "valid_last": Column("geldig tot en met"), "n_cells": Column("cellen", kind="integer"),
    "n_groups": Column("groepen", kind="integer"),
    "n_incidents": Column("incidenten", kind="integer"),
    "expected_burglaries": Column("verwachte inbraken", kind="number"),
    "expected_prevented": Column("naar schatting voorkomen", kind="number"),
    "team_ids": Column("teams"),
    "year": Column("jaar"), "through": Column("tot en met"), "rule": Column("regel"),
    "distance_m": Column("afstand", "m", "integer"), "days": Column("dagen", kind="integer"),
    "n_events": Column("inbraken", kind="integer"),
    "off_grid": Column("buiten het raster", kind="integer"),
    "hits": Column("voorspeld", kind="integer"),
    "hit_share": Column("deel voorspeld", kind="share"),
    "area_time_share": Column("deel van ruimte x tijd", kind="share"),
    "pai": Column("PAI", kind="number"), "alerts": Column("meldingen", kind="integer"),
    "group_months": Column("groepsmaanden", kind="integer"),
    "mean": Column("gemiddeld per maand", kind="number"),
    "p90": Column("90e percentiel", kind="number"), "max": Column("hoogstens", kind="integer"),
    "share_over": Column("deel boven de grens", kind="share"),
}

#: values that are codes in the data and words for people (``store.alerts.STATUSES``, the
#: rules of the alert backtest)
VALUES: dict[str, dict[str, str]] = {
    "status": {"pending": "wacht op bezorging", "delivered": "verstuurd", "failed": "mislukt"},
    "rule": {"knox": "Knox", "naive": "vast (200 m / 14 dagen)"},
}

#: the parameters of a stored plan (``store.plans``: ``params``), for ``plans show``
PLAN_PARAMS: dict[str, str] = {
    "count": "aantal", "radius": "straal (m)", "min_spacing": "minimale afstand (m)",
    "origin": "vanaf", "window": "venster", "keep_existing": "bestaande blijven staan",
    "method": "methode", "requested_method": "gevraagde methode",
    "with_backtest": "met backtest", "grid_size": "celgrootte (m)", "start": "begin",
    "end": "einde", "slot": "momenten", "min_gap_weeks": "minimaal weken tussen bezoeken",
    "year": "jaar", "duration_days": "inzetduur (dagen)",
    "cooled_fraction": "afgekoeld onder dit deel van het risico",
}


def settings_line(params: Mapping[str, Any]) -> str:
    """A plan's parameters for people: ``aantal 3; straal (m) 150; ...`` (Dutch names, decimal
    commas, ja/nee, – for none)."""
    return "; ".join(f"{PLAN_PARAMS.get(k, k)} {_param(v)}" for k, v in params.items())


def _param(value: Any) -> str:
    if isinstance(value, str) and value.endswith(" 00:00:00"):
        return value[:-9]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return cell(value, 2)


def _column(name: str) -> Column:
    if name in LABELS:
        return LABELS[name]
    from ..layers import FIELDS  # imported when a table is printed (not for --help)

    field = FIELDS.get(name)
    if field is None:
        return Column(name)
    word = field.label.split(" ", 1)[0]
    label = field.label[0].lower() + field.label[1:] if word[1:].islower() else field.label
    return Column(label, field.unit, field.kind)


def header(name: str) -> str:
    """The Dutch header of column ``name`` (with its unit, ``%`` for a share)."""
    col = _column(name)
    unit = "%" if col.kind == "share" and not col.unit else col.unit
    return f"{col.label} ({unit})" if unit else col.label


def headers(names: Sequence[str], frame: Any = None, **own: str) -> dict[str, str]:
    """Headers of ``names`` (those in ``frame`` when given), with ``own`` headers where this
    table means something else by a column than the catalogue does."""
    return {n: own.get(n) or header(n) for n in names
            if frame is None or n in frame.columns}


def cell(value: Any, digits: int = 3) -> str:
    """One value as a Dutch reader expects it."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return MISSING
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "ja" if value else "nee"
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        v = float(value)
        if not math.isfinite(v):
            return MISSING
        text = f"{v:,.{digits}f}" if abs(v) >= 10_000 else f"{v:.{digits}f}"
        return text.replace(",", " ").replace(".", ",").replace(" ", ".")
    try:
        if value != value:  # NaN, NaT, pd.NA
            return MISSING
    except (TypeError, ValueError):
        pass
    return str(value)


def _shown(value: Any, name: str, digits: int) -> str:
    """``value`` of column ``name`` as text: shares as percentages, counts without decimals,
    coded values in words."""
    number = (isinstance(value, (int, float)) and not isinstance(value, bool)) or \
        type(value).__name__.startswith(("float", "int"))
    kind = _column(name).kind if number else "text"
    if kind == "share":
        return cell(float(value) * 100, 1)
    if kind == "integer":
        text = cell(float(value), 0)
        return "0" if text == "-0" else text
    words = VALUES.get(name)
    if words and isinstance(value, str):
        return words.get(value, value)
    return cell(value, digits)


def table(frame: Any, headers: Mapping[str, str] | Sequence[str],
          digits: int | Mapping[str, int] = 3, index: Mapping[str, str] | None = None) -> str:
    """``frame``'s columns named in ``headers`` (in that order, under their Dutch header:
    given, or from :func:`header` when ``headers`` is a list of names), right-aligned numbers,
    as text. ``index``: also show the index, under this header."""
    if not isinstance(headers, Mapping):
        headers = {n: header(n) for n in headers}
    cols = list(headers)
    rows: list[list[str]] = []
    for key, rec in frame[cols].iterrows():
        rows.append(([cell(key)] if index else []) + [
            _shown(rec[c], c, digits.get(c, 3) if isinstance(digits, Mapping) else digits)
            for c in cols])
    head = ([next(iter(index.values()))] if index else []) + [headers[c] for c in cols]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(head)]
    numeric = [all(r[i] == MISSING or r[i].lstrip("-").replace(".", "").replace(",", "")
                   .isdigit() for r in rows) for i in range(len(head))]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric, strict=True)).rstrip()

    return "\n".join([line(head), *(line(r) for r in rows)])
