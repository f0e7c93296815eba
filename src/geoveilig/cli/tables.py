"""Tables for people in the terminal: Dutch column headers, decimal commas, ja/nee for
booleans and "–" for a missing value (never ``NaN``, ``True`` or an internal column name).
Machine formats (CSV, JSON, GeoJSON) are written elsewhere and keep their own conventions."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

MISSING = "–"


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


def table(frame: Any, headers: Mapping[str, str], digits: int | Mapping[str, int] = 3,
          index: Mapping[str, str] | None = None) -> str:
    """``frame``'s columns named in ``headers`` (in that order, under their Dutch header),
    right-aligned numbers, as text. ``index``: also show the index, under this header."""
    cols = list(headers)
    rows: list[list[str]] = []
    for key, rec in frame[cols].iterrows():
        rows.append(([cell(key)] if index else []) + [
            cell(rec[c], digits.get(c, 3) if isinstance(digits, Mapping) else digits)
            for c in cols])
    head = ([next(iter(index.values()))] if index else []) + [headers[c] for c in cols]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(head)]
    numeric = [all(r[i] == MISSING or r[i].lstrip("-").replace(".", "").replace(",", "")
                   .isdigit() for r in rows) for i in range(len(head))]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric, strict=True)).rstrip()

    return "\n".join([line(head), *(line(r) for r in rows)])
