"""Buurtpreventieteams and WhatsApp-preventiegroepen: the registry, coverage per wijk and
buurt over time, the gap ranking and map-ready layers.

The core takes plain data (a ``Registry``, ``Areas``, risk per area) and does no I/O; the
store functions live in ``geoveilig.store.prevention`` and the file formats in
``geoveilig.prevention.io``.
"""

from .coverage import (
    COVERAGE_COLUMNS,
    MIN_OVERLAP_SHARE,
    WIJKDEKKEND_THRESHOLD,
    coverage,
    coverage_layer,
    gap_ranking,
    group_areas,
    growth_per_quarter,
    hic_risk,
    risk_from_surface,
)
from .io import (
    ParsedRegistry,
    check_personal_data,
    parse_registry,
    personal_column,
    registry_table,
    to_csv,
    to_geojson,
)
from .registry import (
    ACTIVE,
    AREA_BUURTEN,
    AREA_POLYGON,
    FORMING,
    STATUS_LABELS,
    STATUSES,
    STOPPED,
    TEAM,
    TYPE_LABELS,
    TYPES,
    WHATSAPP,
    Registry,
    empty_registry,
    make_registry,
    merge_registries,
    normalise_status,
    normalise_type,
)

__all__ = [
    "ACTIVE", "AREA_BUURTEN", "AREA_POLYGON", "COVERAGE_COLUMNS", "FORMING",
    "MIN_OVERLAP_SHARE", "STATUSES", "STATUS_LABELS", "STOPPED", "TEAM", "TYPES",
    "TYPE_LABELS", "WHATSAPP", "WIJKDEKKEND_THRESHOLD", "ParsedRegistry", "Registry",
    "check_personal_data", "coverage", "coverage_layer", "empty_registry", "gap_ranking",
    "group_areas", "growth_per_quarter", "hic_risk", "make_registry", "merge_registries",
    "normalise_status", "normalise_type", "parse_registry", "personal_column",
    "registry_table", "risk_from_surface", "to_csv", "to_geojson",
]
