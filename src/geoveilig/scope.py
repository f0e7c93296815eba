"""One gemeente (or some) of the several a service holds: the boundaries of those gemeenten and
a read view of the store limited to their incidents.

A service configured for several gemeenten (``GEOVEILIG_GEMEENTE=GM0794,GM0772`` or ``alle``)
keeps one store with the incidents of all of them (each carries its buurt and wijk, whose
codes name the gemeente). A layer, report or plan for one gemeente gets ``for_gemeente``'s
answer: the ``Areas`` of that gemeente and a ``GemeenteStore`` whose ``incidents()`` and
``count_incidents()`` ask the store for that gemeente's wijk codes only (the filter runs in the
store query: the chunk zone maps on SQLite, SQL on PostGIS). With one gemeente configured
nothing changes: the areas and the store are passed as they are."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from .areas import Areas, gemeente_of, parse_gemeenten
from .errors import InvalidInput


def choose_message(areas: Areas) -> str:
    """The Dutch sentence that asks for a gemeente, naming the choices."""
    return (f"er zijn {len(areas.gemeente)} gemeenten ingesteld: kies er een met gemeente "
            f"({areas.choices()})")


def select_areas(areas: Areas, gemeente: str | Iterable[str] | None, *,
                 required: bool = False) -> Areas:
    """The areas of ``gemeente`` (``parse_gemeenten`` syntax). Without one (or with
    ``alle``): all configured gemeenten, unless ``required`` and there are several, which is
    an ``InvalidInput`` naming the choices (reports, hotspots and planning are about one
    gemeente)."""
    codes = parse_gemeenten(gemeente) if gemeente is not None else None
    if codes is None:
        if required and len(areas.gemeente) > 1:
            raise InvalidInput(choose_message(areas), where="gemeente")
        return areas
    chosen = areas.select(codes)
    if required and len(chosen.gemeente) > 1:
        raise InvalidInput(choose_message(areas), where="gemeente")
    return chosen


def for_gemeente(areas: Areas, store: Any, gemeente: str | Iterable[str] | None, *,
                 required: bool = False) -> tuple[Areas, Any]:
    """``select_areas`` and the store as those gemeenten see it (``GemeenteStore``; the store
    itself when the selection is every configured gemeente)."""
    chosen = select_areas(areas, gemeente, required=required)
    if chosen is areas:
        return areas, store
    return chosen, GemeenteStore(store, chosen)


def scope_env(env: Any, gemeente: str | Iterable[str] | None, *,
              required: bool = False) -> Any:
    """A job's ``jobs.JobEnv`` limited to ``gemeente`` (``for_gemeente``; its grid of the same
    cell size over those gemeenten); the env itself for every configured gemeente."""
    import dataclasses

    from .layers import hotspot_grid

    areas, store = for_gemeente(env.areas, env.store, gemeente, required=required)
    if areas is env.areas:
        return env
    grid = None if env.grid is None else hotspot_grid(areas, float(env.grid.cell_size))
    return dataclasses.replace(env, areas=areas, store=store, grid=grid)


def keep_rows(frame: Any, areas: Areas) -> Any:
    """The rows of a layer frame that belong to the gemeenten of ``areas``, by their
    ``wijk_code``/``buurt_code`` (or, for area layers, ``code``); rows without a code are
    kept (no gemeente can be told from them)."""
    gms = set(areas.gemeente_codes)
    keep = pd.Series(True, index=frame.index)
    for column in ("buurt_code", "wijk_code", "code"):
        if column not in frame:
            continue
        values = frame[column]
        is_area = values.astype(str).str.match(r"^(WK|BU)\d{6}")
        of = pd.Series(gemeente_of(values.where(is_area)), index=frame.index)
        keep &= of.isna() | of.isin(gms)
    return frame.loc[keep.to_numpy()] if not keep.all() else frame


class GemeenteStore:
    """A read view of a store limited to the incidents of some gemeenten (by their wijk
    codes, in the store query); everything else is the store's own. A ``StoreLike``."""

    def __init__(self, store: Any, areas: Areas) -> None:
        self._store = store
        self.areas = areas
        self._wijken = frozenset(str(c) for c in areas.wijken["code"])
        self._buurten = frozenset(str(c) for c in areas.buurten["code"])
        self._gemeenten = frozenset(areas.gemeente_codes)

    def _codes(self, area_codes: Iterable[str] | None) -> list[str]:
        if area_codes is None:
            return sorted(self._wijken)
        out: set[str] = set()
        for code in (str(c) for c in area_codes):
            if code.startswith("GM"):
                if code in self._gemeenten:
                    out |= {w for w in self._wijken if w[2:6] == code[2:]}
            elif code in self._wijken or code in self._buurten:
                out.add(code)
        return sorted(out)

    def incidents(self, *, area_codes: Iterable[str] | None = None, **filters: Any) -> Any:
        codes = self._codes(area_codes)
        if not codes:  # codes of other gemeenten only: nothing, with the store's columns
            return self._store.incidents(area_codes=["WK00000000"], **filters)
        return self._store.incidents(area_codes=codes, **filters)

    def count_incidents(self, *, area_codes: Iterable[str] | None = None,
                        **filters: Any) -> int:
        codes = self._codes(area_codes)
        if not codes:
            return 0
        return int(self._store.count_incidents(area_codes=codes, **filters))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)
