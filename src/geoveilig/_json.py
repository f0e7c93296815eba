"""One rule for turning a pandas/numpy value into a JSON value (used by the stored plans and the
comparison report): missing values and non-finite floats become ``None``, numpy scalars their
Python value, timestamps ISO 8601 text."""
from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pandas as pd

__all__ = ["json_value"]


def json_value(v: object, *, stringify: bool = False) -> object:
    """``v`` as a value ``json.dumps`` takes. ``None``, ``NaT``, ``NA`` and NaN/inf give
    ``None``; numpy scalars their Python value; timestamps ``isoformat()``. Any other value is
    returned as it is, or with ``stringify`` as ``str(v)`` (``None`` when pandas calls it
    missing)."""
    if v is None or v is pd.NaT or v is pd.NA:
        return None
    if isinstance(v, np.generic):
        v = v.item()
        if v is None:
            return None
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, datetime):  # pd.Timestamp is a datetime
        return v.isoformat()
    if not stringify or isinstance(v, str | int | float | bool):
        return v
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(v)
