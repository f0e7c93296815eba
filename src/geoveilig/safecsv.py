"""CSV files that a spreadsheet cannot execute (OWASP "CSV injection").

Every CSV the project writes goes through :func:`to_csv` (or :func:`neutralise_frame`): a text
cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with a
single quote, so Excel and LibreOffice show it as text instead of evaluating it. Numbers stay
numbers: a cell that reads as a plain number (``-5``, ``+31``, ``-3,5``) is left alone.

:func:`restore` is the inverse the importers apply, so a value written this way reads back as
the original: a cell that is ``'`` followed by one of the dangerous characters loses the quote.
(A genuine value that itself starts with ``'=`` therefore cannot be told apart; it is read as
``=``. This is the documented price of the rule.)
"""
from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any, overload

import pandas as pd

__all__ = ["DANGEROUS", "neutralise", "neutralise_frame", "restore", "restore_frame", "to_csv"]

#: First characters a spreadsheet may treat as the start of a formula or a control.
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


def neutralise(value: Any) -> Any:
    """``value`` made safe for a spreadsheet cell (non-strings are returned unchanged)."""
    if isinstance(value, str) and value and value[0] in DANGEROUS \
            and not _NUMBER.match(value):
        return "'" + value
    return value


def restore(value: Any) -> Any:
    """The inverse of :func:`neutralise` for one cell read from a file."""
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" \
            and value[1] in DANGEROUS and not _NUMBER.match(value[1:]):
        return value[1:]
    return value


def _text_columns(frame: pd.DataFrame) -> list[Any]:
    return [c for c in frame.columns
            if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c].dtype)]


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell neutralised (headers included)."""
    out = frame.copy()
    for col in _text_columns(out):
        out[col] = out[col].map(neutralise, na_action="ignore")
    out.columns = [neutralise(c) for c in out.columns]
    return out


def restore_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with :func:`restore` applied to every text cell and header."""
    out = frame.copy()
    for col in _text_columns(out):
        out[col] = out[col].map(restore, na_action="ignore")
    out.columns = [restore(c) for c in out.columns]
    return out


@overload
def to_csv(frame: pd.DataFrame, path_or_buf: None = None, **kwargs: Any) -> str: ...
@overload
def to_csv(frame: pd.DataFrame, path_or_buf: str | Path | io.IOBase, **kwargs: Any) -> None: ...
def to_csv(frame: pd.DataFrame, path_or_buf: str | Path | io.IOBase | None = None,
           **kwargs: Any) -> str | None:
    """``DataFrame.to_csv`` on the neutralised frame (same arguments, same return)."""
    return neutralise_frame(frame).to_csv(path_or_buf, **kwargs)
