"""The query parameters of the API routes outside the layer catalogue, each declared once as a
``layers.Param``: the route parses with ``parse(OPERATION, raw)`` and the OpenAPI document
(``api/openapi.py``) publishes the same declarations (``query_parameter``). A layer's own
parameters are declared on the layer (``Layer.params``); the OGC ones (bbox, limit, ...) in
``api/features.py``. ``tests/test_openapi_params.py`` checks that the published schemas and
the parsers agree.

Where a new API parameter goes: add a ``Param`` (built with ``int_param``, ``choice_param`` or
``pattern_param`` so that the parser and the schema share their bounds) to the tuple of its
operation here, or to the layer's ``params``; nothing else needs to change."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .. import layers, stats
from ..errors import InvalidInput
from ..layers import (
    CRIME_TYPE_PATTERN,
    GEMEENTE_PARAM,
    MAX_YEAR,
    MIN_YEAR,
    Param,
    check_crime_type,
    choice_param,
    int_param,
    pattern_param,
)
from ..report_service import LEVELS
from . import features as ft


def _hotspot_methods() -> tuple[str, ...]:
    from ..hotspots import METHODS

    return tuple(METHODS)


def methods_pattern() -> str:
    names = "|".join(_hotspot_methods())
    return rf"^\s*({names})\s*(,\s*({names})\s*)*$"


def _parse_methods(text: str) -> list[str] | None:
    import re

    if not re.search(methods_pattern(), text):
        raise InvalidInput(f"onbekende methode(n) '{text}': kies een of meer (met "
                                  f"komma's) van {', '.join(_hotspot_methods())}",
                                  where="methods")
    return [m.strip() for m in text.split(",") if m.strip()] or None


def _report_rows(text: str) -> tuple[str, ...]:
    return stats.resolve_rows(check_crime_type(text))


def _report_period(text: str) -> stats.Period:
    layers.parse_period(text)  # the grammar and the years 1900-2100 of every period parameter
    return stats.Period.parse(text)


REPORT_FORMATS = ("json", "csv", "html")

#: ``GET /v1/reports/evaluation``
REPORT = (
    int_param("year", "Kalenderjaar, bijv. 2017 (of period).", MIN_YEAR, MAX_YEAR,
              example="2017"),
    int_param("quarter", "Kwartaal van year (1-4).", 1, 4, example="1"),
    Param("period", "Periode: 2018-Q1 (of 2018q1), 2017-03, 2017-W10 of "
          "2017-01-01/2017-06-30 (in plaats van year; zonder sleutel alleen jaren, kwartalen "
          "en maanden).", _report_period, schema=layers.PERIOD_PARAM.schema,
          public_schema=layers.PERIOD_PARAM.public_schema, example="2018-Q1"),
    replace(choice_param("level", "Niveau: gemeente, wijk of buurt (buurt met een sleutel).",
                         LEVELS, default="gemeente"),
            public_schema={"type": "string", "enum": [v for v in LEVELS if v != "buurt"]}),
    Param("crimeType", "Regels van de tabel: categorieën en/of groepen, met komma's "
          "(standaard de regels van de evaluatietabel).", _report_rows,
          schema={"type": "string", "pattern": CRIME_TYPE_PATTERN}, example="totaal,hic"),
    choice_param("preset", "seed: bootst de tabel van de evaluatie 2017 precies na.",
                 ("seed",)),
    choice_param("f", "Formaat: json, csv of html.", REPORT_FORMATS, default="json"),
    GEMEENTE_PARAM,
)

#: ``GET /v1/backtest``
BACKTEST = (
    Param("crimeType", layers.CRIME_TYPE_PARAM.description, layers.parse_crime_type,
          schema={"type": "string", "pattern": CRIME_TYPE_PATTERN}, example="woninginbraak",
          required=True),
    Param("methods", "Komma-gescheiden hotspotmethoden (standaard alle).", _parse_methods,
          schema=lambda: {"type": "string", "pattern": methods_pattern()},
          example="naive,kde"),
    pattern_param("window", "Voorspelvenster: dagen, weken of maanden (1 dag tot 1 jaar), "
                  "bv. 14d, 2w, 1m.", layers.WINDOW_PATTERN, layers.parse_window_text,
                  "gebruik bv. 14d, 2w of 1m (1 dag tot 1 jaar)", default="14d",
                  example="14d"),
    int_param("origins", "Aantal startmomenten van de rollende toets.", 2, 104,
              default="26", example="4"),
    GEMEENTE_PARAM,
)

#: ``GET /v1/deployments/{deploymentId}/effect``
EFFECT = (
    Param("crimeType", "Misdrijftype of groep (standaard: wat de inzet moet voorkomen).",
          layers.parse_crime_type, schema={"type": "string", "pattern": CRIME_TYPE_PATTERN},
          example="woninginbraak"),
)


def parse(params: tuple[Param, ...], raw: Mapping[str, str],
          also: tuple[str, ...] = ()) -> dict[str, Any]:
    """The values of an operation's parameters (unknown names are a 400 at the first one;
    ``also``: names the route reads itself)."""
    ft.check_unknown(raw, (*(p.name for p in params), *also))
    return layers.parse_query(params, raw)


def query_parameter(p: Param, public: bool = False) -> dict[str, Any]:
    """The OpenAPI 3.0 parameter object of a declared parameter (``public``: as the
    disclosure control lets the public use it)."""
    entry: dict[str, Any] = {"name": p.name, "in": "query", "required": p.required,
                             "description": p.description,
                             "schema": p.openapi_schema(public)}
    if p.example is not None:
        entry["example"] = p.example
    return entry
