"""Which input column feeds which field: one header matcher for every file the user brings
(police incident extracts in ``geoveilig.incidents``, prevention-group files in
``geoveilig.prevention.io``).

A header matches a field when, compared without case, spaces, underscores, hyphens and dots
(``key``), it equals one of the field's accepted names. Fields are matched in the order of the
synonym table and the names of a field in their order; a column feeds at most one field."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

_SEPARATORS = re.compile(r"[\s_\-.]+")


def key(name: object) -> str:
    """A header as it is compared: lower case, without spaces, '_', '-' and '.'."""
    return _SEPARATORS.sub("", str(name).strip().lower())


def map_columns(columns: Iterable[str], synonyms: Mapping[str, Sequence[str]]
                ) -> dict[str, str]:
    """Field -> the input column that feeds it, for the fields of ``synonyms`` (field ->
    accepted header names) found in ``columns``. When two columns have the same key the
    last one is the candidate; a column already taken by an earlier field is skipped."""
    keys = {key(c): c for c in columns}
    out: dict[str, str] = {}
    taken: set[str] = set()
    for field, names in synonyms.items():
        for name in names:
            column = keys.get(key(name))
            if column is not None and column not in taken:
                out[field] = column
                taken.add(column)
                break
    return out
