"""Default coverage radius per kind of unit (metres): the one place the planners
(``placement.policies``), the service, the CLI and the API take them from. A light module
(no imports), so that ``geoveilig recommend --help`` shows them without loading the
planners. A mobile alarm covers about 100-200 m, a flexible camera 50-100 m; a BuurtTent
visit reaches about 500 m (used for stored deployments without a radius)."""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_RADIUS_M: Mapping[str, float] = {"alarm": 150.0, "camera": 75.0, "buurttent": 500.0}
