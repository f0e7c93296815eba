"""Text columns built with Arrow: pandas' ``str`` dtype without a million Python strings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

#: pandas' default text dtype since pandas 3 (Arrow-backed, missing = NaN)
STR = pd.StringDtype("pyarrow", np.nan)


def infers_str() -> bool:
    """Whether pandas makes an object array of strings and None a ``str`` column (the
    default since pandas 3)."""
    return bool(pd.Series(np.array(["", None], dtype=object)).dtype == STR)


def take_strings(table: Sequence[str | None] | np.ndarray, codes: np.ndarray
                 ) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """``np.asarray(table, dtype=object)[codes]`` (code -1: the last entry) as a DataFrame
    column: the ``str`` array that the object array becomes in a DataFrame when it holds a
    string, made with one Arrow take; otherwise the object array itself."""
    is_str = np.array([isinstance(v, str) for v in table], dtype=bool)
    if (not all(v is None or isinstance(v, str) for v in table) or not is_str[codes].any()
            or not infers_str()):
        return np.asarray(table, dtype=object)[codes]
    codes = np.where(codes < 0, len(table) + codes, codes)
    taken = pa.array(list(table), type=pa.large_string()).take(pa.array(codes))
    return pd.array(taken.to_pandas(types_mapper={pa.large_string(): STR}.get))
