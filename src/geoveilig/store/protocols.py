"""What a function that takes a store may rely on, as ``typing.Protocol``s.

Annotate with these instead of ``object``/``Any``, so that the type checker sees the calls,
and a read view such as ``disclosure.MonthStore`` (incidents with times by month) can stand
in for a ``Store``. Outside ``geoveilig.store`` import them under ``TYPE_CHECKING`` only: the
annotations cost nothing at run time (``from __future__ import annotations``).

- ``HasEngine``: the sub-stores' functions (``store.plans``, ``store.deployments``,
  ``store.counts``...) need only the engine; an ``Engine`` is one too (``Engine.engine``).
- ``IncidentReader``: reading incidents and their coverage (reports, sources, layers).
- ``StoreLike``: both, plus ``data_version``/``data_versions`` (what the services and the
  API use).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol, TypeAlias, runtime_checkable

from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd
    import shapely

__all__ = ["DATA_PARTS", "HasEngine", "IncidentReader", "StoreLike"]

#: the parts of the stored data with a version token of their own (``Store.data_versions``):
#: the incidents (imports), the prevention registry, deployments, alerts and their delivery,
#: stored plans, published counts and figures, and the calendar day (a default of "today"
#: when the data reach it)
DATA_PARTS = ("incidents", "prevention", "deployments", "alerts", "plans", "published",
              "today")

TimeBound: TypeAlias = "datetime | date | str | pd.Timestamp | None"


@runtime_checkable
class HasEngine(Protocol):
    @property
    def engine(self) -> Engine: ...


class IncidentReader(Protocol):
    def incidents(
        self, *, start: TimeBound = None, end: TimeBound = None,
        crime_types: Iterable[str] | None = None, area_codes: Iterable[str] | None = None,
        bbox: Sequence[float] | None = None, within: shapely.Geometry | None = None,
    ) -> gpd.GeoDataFrame: ...

    def count_incidents(
        self, *, start: TimeBound = None, end: TimeBound = None,
        crime_types: Iterable[str] | None = None, area_codes: Iterable[str] | None = None,
        bbox: Sequence[float] | None = None, within: shapely.Geometry | None = None,
    ) -> int: ...

    def time_range(self) -> tuple[pd.Timestamp, pd.Timestamp] | None: ...

    def batches(self) -> pd.DataFrame: ...

    def has_synthetic_data(self) -> bool: ...


class StoreLike(IncidentReader, HasEngine, Protocol):
    def data_version(self) -> str: ...

    def data_versions(self) -> dict[str, str]: ...
