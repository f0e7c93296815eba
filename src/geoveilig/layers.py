"""The catalogue of map layers.

A layer is a GeoDataFrame in EPSG:28992 built from plain inputs (``LayerContext``: the areas
and the store) and the layer's own query parameters. The API serves every registered layer as
an OGC API - Features collection; the web map, the CLI and notebooks can call the same
builders. Each layer says which role it needs and how small counts are suppressed for the
public.

Adding a layer is one ``register_layer(Layer(...))`` call; the hotspot, deployment and
recommendation layers plug in that way (see the hooks at the end of this module).

No routing and no settings here: the edges pass ``LayerContext`` in.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from . import RD_NEW, TIMEZONE, crimetypes
from .areas import Areas
from .errors import GeoveiligError, InvalidInput, NotFound, UnknownCrimeType
from .spatial import require_rd
from .store.protocols import DATA_PARTS, IncidentReader, StoreLike

Role = Literal["public", "analyst", "police"]
ROLES: tuple[Role, ...] = ("public", "analyst", "police")
ROLE_RANK: dict[str, int] = {r: i for i, r in enumerate(ROLES)}


def allows(role: str, needed: str) -> bool:
    """Whether ``role`` may see what ``needed`` protects (public < analyst < police)."""
    return ROLE_RANK.get(role, -1) >= ROLE_RANK[needed]


@dataclass(frozen=True)
class LayerContext:
    """What builders get: plain inputs, no settings. ``requester`` (a
    ``store.plans.Requester``) says who asked, for what is recorded (planning runs)."""

    areas: Areas
    store: StoreLike
    requester: Any = None
    #: the deployment's ``disclosure.Policy`` (None: a per-process secret)
    disclosure: Any = None
    #: the hotspot grid (``hotspot_grid``; None: the 125 m grid of ``areas``)
    grid: Any = None


# --- query parameters --------------------------------------------------------------------

@dataclass(frozen=True)
class Param:
    """A query parameter (camelCase API name), declared once: ``parse`` turns the raw text
    into the value the code gets and raises ``InvalidInput`` with a Dutch message otherwise;
    ``schema`` (a mapping, or a function giving one when the allowed values are only known
    after a lazy import, e.g. the hotspot methods) is what the OpenAPI document publishes.
    Build parameters with ``int_param``, ``choice_param`` and ``pattern_param`` so that the
    parser and the schema come from the same bounds, options or pattern."""

    name: str
    description: str
    parse: Callable[[str], Any]
    default: str | None = None
    schema: Mapping[str, Any] | Callable[[], Mapping[str, Any]] = field(
        default_factory=lambda: {"type": "string"})
    example: str | None = None
    required: bool = False
    #: the narrower schema of what the disclosure control lets the public ask for (one
    #: published crime type or group, calendar periods), where it differs
    public_schema: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None

    def openapi_schema(self, public: bool = False) -> dict[str, Any]:
        """The JSON schema of the raw value (with the default, if any); ``public``: of what
        the public may ask for."""
        source = self.public_schema if public and self.public_schema is not None else \
            self.schema
        schema = dict(source() if callable(source) else source)
        if self.default is not None:
            schema["default"] = (int(self.default) if schema.get("type") == "integer"
                                 else self.default)
        return schema

    def parse_value(self, text: str) -> Any:
        """``parse``; any error says this parameter's API name as its location (a core
        function's own field name, e.g. ``crime_type``, never reaches the caller)."""
        try:
            return self.parse(text)
        except GeoveiligError as exc:
            exc.where = self.name
            raise


def int_param(name: str, description: str, lo: int, hi: int | None = None, *,
              default: str | None = None, example: str | None = None,
              required: bool = False) -> Param:
    """An integer parameter in ``lo..hi`` (``hi`` None: no upper bound)."""
    bounds = f"tussen {lo} en {hi}" if hi is not None else f"minstens {lo}"

    def parse(text: str) -> int:
        if not re.fullmatch(r"-?\d+", text.strip()):
            raise InvalidInput(f"{name} moet een geheel getal zijn, niet '{text}'", where=name)
        value = int(text)
        if value < lo or (hi is not None and value > hi):
            raise InvalidInput(f"{name} moet {bounds} liggen" if hi is not None
                               else f"{name} moet {bounds} zijn", where=name)
        return value

    schema: dict[str, Any] = {"type": "integer", "minimum": lo}
    if hi is not None:
        schema["maximum"] = hi
    return Param(name, description, parse, default=default, schema=schema, example=example,
                 required=required)


def choice_param(name: str, description: str,
                 options: tuple[str, ...] | Callable[[], tuple[str, ...]], *,
                 default: str | None = None, example: str | None = None) -> Param:
    """One of ``options`` (or of what the function ``options`` gives, looked up when first
    needed: e.g. the hotspot methods, whose import is slow)."""

    def choices() -> tuple[str, ...]:
        return tuple(options() if callable(options) else options)

    def parse(text: str) -> str:
        return _choice(name, choices())(text)

    return Param(name, description, parse, default=default, example=example,
                 schema=lambda: {"type": "string", "enum": list(choices())})


def pattern_param(name: str, description: str, pattern: str, then: Callable[[str], Any],
                  message: str, *, default: str | None = None, example: str | None = None,
                  required: bool = False) -> Param:
    """Text that must match ``pattern`` (a regular expression that is also the published
    schema), then parsed by ``then``."""
    compiled = re.compile(pattern)

    def parse(text: str) -> Any:
        if not compiled.search(text):
            raise InvalidInput(f"ongeldige waarde '{text}' voor {name}: {message}", where=name)
        return then(text)

    return Param(name, description, parse, default=default, example=example,
                 required=required, schema={"type": "string", "pattern": pattern})


def parse_query(params: tuple[Param, ...], raw: Mapping[str, str]) -> dict[str, Any]:
    """Values of ``params`` from raw query text (defaults filled in, None when absent);
    a missing required parameter is an ``InvalidInput`` at its name."""
    values: dict[str, Any] = {}
    for p in params:
        text = raw.get(p.name, p.default)
        if text is None and p.required:
            raise InvalidInput(f"{p.name} ontbreekt" + (f", bijv. {p.example}"
                                                        if p.example else ""), where=p.name)
        values[p.name] = None if text is None else p.parse_value(text)
    return values


#: the crime type tokens the API accepts: slugs and groups, lower case
def _crime_tokens() -> tuple[str, ...]:
    return (*crimetypes.SLUGS, *(g for g in crimetypes.GROUPS if g not in crimetypes.SLUGS))


CRIME_TYPE_PATTERN = (r"^\s*(" + "|".join(_crime_tokens()) + r")\s*(,\s*("
                      + "|".join(_crime_tokens()) + r")\s*)*$")
#: what the public may ask for: one published row (``disclosure.check_public_row``)
PUBLIC_CRIME_TYPE_PATTERN = r"^\s*(" + "|".join(_crime_tokens()) + r")\s*$"


def parse_crime_type(text: str) -> tuple[str, ...]:
    """A slug or group, or a comma list of them (``CRIME_TYPE_PATTERN``), as category slugs.
    The CLI also takes synonyms (``crimetypes.resolve``); the API takes what it documents."""
    return crimetypes.expand(check_crime_type(text))


def check_crime_type(text: str) -> str:
    if not re.search(CRIME_TYPE_PATTERN, text):
        raise UnknownCrimeType(f"onbekend misdrijftype '{text}': kies een of meer (met komma's) "
                               f"van {', '.join(_crime_tokens())}", where="crimeType")
    return text


@dataclass(frozen=True)
class Period:
    """A half-open period [start, end) of calendar dates (Europe/Amsterdam)."""

    start: date
    end: date
    label: str

    @property
    def last_day(self) -> date:
        return (pd.Timestamp(self.end) - pd.Timedelta(days=1)).date()


MIN_YEAR, MAX_YEAR = 1900, 2100


def parse_period(text: str) -> Period:
    """``2017``, ``2017-Q1``, ``2017-03``, ``2017-W10`` or ``2017-01-01/2017-06-30`` (both days
    included; ``a..b`` excludes the end), within the years 1900-2100."""
    period = _parse_period(text)
    if not (period.start.year >= MIN_YEAR and period.last_day.year <= MAX_YEAR):
        raise InvalidInput(f"periode '{text}' ligt buiten {MIN_YEAR}-{MAX_YEAR}",
                           where="period")
    return period


def _parse_period(text: str) -> Period:
    """Through ``stats.Period.parse`` (the one period grammar of geoveilig), with the API's
    parameter name in the message."""
    from .stats import Period as StatsPeriod

    raw = text.strip()
    try:
        p = StatsPeriod.parse(raw)
    except (InvalidInput, ValueError, OverflowError):
        first, _, last = raw.partition("/")
        try:
            reversed_ = date.fromisoformat(last.strip()) < date.fromisoformat(first.strip())
        except ValueError:
            reversed_ = False
        raise InvalidInput(
            f"periode '{text}': het einde ligt voor het begin" if reversed_ else
            f"ongeldige periode '{text}': gebruik bijvoorbeeld 2017, 2017-Q1, 2017-03 of "
            "2017-01-01/2017-06-30", where="period") from None
    return Period(p.start.date(), p.end.date(), raw if p.kind == "range" else p.key)


def parse_year(text: str) -> Period:
    if not re.fullmatch(r"\d{4}", text.strip()) or not MIN_YEAR <= int(text) <= MAX_YEAR:
        raise InvalidInput(f"ongeldig jaar '{text}': verwacht een jaartal {MIN_YEAR}-"
                           f"{MAX_YEAR}, bv. 2017", where="year")
    return parse_period(text.strip())


def parse_date(text: str) -> date:
    try:
        value = date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"ongeldige datum '{text}': verwacht JJJJ-MM-DD",
                           where="date") from None
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise InvalidInput(f"datum '{text}' ligt buiten {MIN_YEAR}-{MAX_YEAR}", where="date")
    return value


def _choice(name: str, options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise InvalidInput(f"ongeldige waarde '{text}' voor {name}: kies uit "
                               f"{', '.join(options)}", where=name)
        return text
    return parse


def year_regex(lo: int = MIN_YEAR, hi: int = MAX_YEAR) -> str:
    """A regular expression for the four-digit years ``lo..hi`` (for schema patterns)."""
    parts: list[str] = []
    for century in range(lo // 100, hi // 100 + 1):
        first, last = max(lo, century * 100), min(hi, century * 100 + 99)
        if (first, last) == (century * 100, century * 100 + 99):
            parts.append(rf"{century}\d\d")
        else:
            parts.extend(str(y) for y in range(first, last + 1))
    return "|".join(parts)


#: one or more CBS gemeente codes, or every configured gemeente (``areas.parse_gemeenten``)
GEMEENTE_PATTERN = r"^\s*((GM|gm)?\d{4}(\s*,\s*(GM|gm)?\d{4})*|\*|alle)\s*$"


def _parse_gemeente(text: str) -> tuple[str, ...] | None:
    from .areas import parse_gemeenten

    return parse_gemeenten(text)


#: ``gemeente`` on every layer, tile set and report (one declaration: ``Layer`` adds it to
#: each layer's ``params``, ``api/params.py`` to the reports and planning). A code that is not
#: configured answers as a missing resource (404).
GEMEENTE_PARAM = pattern_param(
    "gemeente", "CBS-gemeentecode(s): GM0794, of meer met komma's, of alle (standaard de "
    "ingestelde gemeente; met meer ingestelde gemeenten tonen kaartlagen ze allemaal en "
    "vragen rapporten, hotspots en planning er één).", GEMEENTE_PATTERN, _parse_gemeente,
    "gebruik een CBS-gemeentecode zoals GM0794, een kommalijst daarvan of alle",
    example="GM0794")

CRIME_TYPE_PARAM = Param(
    "crimeType",
    "Misdrijftype: een slug of groep, of een kommalijst daarvan (bv. woninginbraak, hic, "
    "woninginbraak,straatroof).",
    parse_crime_type, default=crimetypes.TOTAL_SLUG,
    schema={"type": "string", "pattern": CRIME_TYPE_PATTERN}, example="woninginbraak",
    public_schema={"type": "string", "pattern": PUBLIC_CRIME_TYPE_PATTERN})
YEAR_PARAM = Param("year", "Kalenderjaar van de telling (alternatief voor period).",
                   parse_year, schema={"type": "integer", "minimum": MIN_YEAR,
                                       "maximum": MAX_YEAR},
                   example="2017")
PERIOD_PARAM = Param(
    "period", "Periode van de telling: 2017, 2017-Q1 (of 2017q1), 2017-03, 2017-W10 of "
    "2017-01-01/2017-06-30 (standaard het laatste volledige jaar met gegevens).", parse_period,
    schema=lambda: {"type": "string", "pattern": _stats_period_pattern()},
    public_schema=lambda: {"type": "string", "pattern": _stats_period_pattern(PUBLIC_PERIODS)},
    example="2017-Q1")
DATE_PARAM = Param("date", "Peildatum (JJJJ-MM-DD; standaard vandaag, of de dag na het "
                   "laatste incident als de gegevens eerder eindigen).", parse_date,
                   schema={"type": "string", "format": "date",
                           "pattern": rf"^\s*({year_regex()})-\d{{2}}-\d{{2}}\s*$"},
                   example="2018-04-20")


#: the periods the public may ask for: calendar years, quarters and months
#: (``disclosure.check_public_period``)
PUBLIC_PERIODS: tuple[str, ...] = ("year", "quarter", "month")


def _stats_period_pattern(kinds: tuple[str, ...] | None = None) -> str:
    from .stats import period_pattern

    return period_pattern(year_regex(), kinds)


#: What a layer's content can depend on (``Layer.depends_on``), each with a version token
#: (``data_versions``): the incidents (imports), the prevention registry, deployments, alerts
#: and their delivery, stored plans, published counts and figures (``geoveilig cbs fetch``),
#: and the calendar day (a default of "today" when the data reach it).
DEPENDENCIES = DATA_PARTS



# --- what users read: labels, units and formats of the properties ---------------------------

FieldKind = Literal["text", "integer", "number", "share", "bool", "date", "datetime"]


@dataclass(frozen=True)
class Field:
    """How a layer property is shown to people (map popups and legends, exports): a Dutch
    ``label``, a ``unit``, how to format it (``kind``: ``share`` is a fraction shown as a
    percentage, ``bool`` as ja/nee) and Dutch labels for coded ``values``. ``hidden``
    properties are for machines only (ids, p-values, slugs beside their label)."""

    label: str
    unit: str = ""
    kind: FieldKind = "text"
    hidden: bool = False
    values: Mapping[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "kind": self.kind}
        if self.unit:
            out["unit"] = self.unit
        if self.hidden:
            out["hidden"] = True
        if self.values:
            out["values"] = dict(self.values)
        return out


def _hide(label: str) -> Field:
    return Field(label, hidden=True)


_DEPLOYMENT_KINDS = {"alarm": "mobiel alarmsysteem", "alarms": "mobiel alarmsysteem",
                     "camera": "flexibele camera", "cameras": "flexibele camera",
                     "buurttent": "BuurtTent", "witte-voeten": "witte-voetenactie"}

#: every property of the catalogue's layers, by name (a browser test scans the map for names
#: that are missing here)
FIELDS: dict[str, Field] = {
    # areas and counts
    "code": Field("CBS-code"), "name": Field("Naam"), "wijk_code": Field("Wijkcode"),
    "buurt_code": Field("Buurtcode"), "wijk_name": Field("Wijk"), "buurt_name": Field("Buurt"),
    "wijk_codes": Field("Wijken"), "buurten": Field("Buurten"),
    "crime_type": _hide("Misdrijftype (code)"), "crime_type_label": Field("Misdrijftype"),
    "crime_types": Field("Misdrijftypen"),
    "period": Field("Periode"), "period_start": _hide("Begin periode"),
    "period_end": _hide("Einde periode"),
    "count": Field("Aantal misdrijven", kind="integer"),
    "count_suppressed": Field("Klein aantal (1-4), niet getoond", kind="bool"),
    "suppressed": Field("Klein aantal, niet getoond", kind="bool"),
    "source": Field("Bron"), "area_km2": Field("Oppervlakte", "km²", "number"),
    "level": _hide("Niveau"), "date": Field("Peildatum", kind="date"),
    # prevention
    "group_id": _hide("Groep (id)"), "type": _hide("Soort (code)"), "type_label": Field("Soort"),
    "label": Field("Naam"), "team_id": _hide("Team (id)"),
    "linked_whatsapp_groups": Field("Gekoppelde WhatsApp-groepen", kind="integer"),
    "status": Field("Status"), "status_label": _hide("Status (tekst)"),
    "status_since": Field("Status sinds", kind="date"), "area_kind": _hide("Soort gebied"),
    "members": Field("Leden", kind="integer"), "synthetic": _hide("Synthetisch"),
    "active_teams": Field("Actieve buurtpreventieteams", kind="integer"),
    "teams_in_formation": Field("Teams in oprichting", kind="integer"),
    "whatsapp_groups": Field("WhatsApp-groepen", kind="integer"),
    "whatsapp_groups_in_formation": Field("WhatsApp-groepen in oprichting", kind="integer"),
    "whatsapp_groups_linked": Field("WhatsApp-groepen gekoppeld aan een team",
                                    kind="integer"),
    "coverage_share": Field("Gedekt door preventiegroepen", kind="share"),
    "coverage_share_teams": Field("Gedekt door teams", kind="share"),
    "coverage_share_whatsapp": Field("Gedekt door WhatsApp-groepen", kind="share"),
    "covered_km2": Field("Gedekte oppervlakte", "km²", "number"),
    "fully_covered": Field("Wijkdekkend", kind="bool"),
    # incidents
    "incident_id": Field("Registratienummer"), "occurred_at": Field("Moment", kind="datetime"),
    "occurred_from": Field("Vanaf", kind="datetime"),
    "occurred_to": Field("Tot", kind="datetime"), "address": Field("Adres"),
    # hotspots
    "cell_id": _hide("Cel (id)"), "share_in_area": Field("Deel van de cel in de gemeente",
                                                        kind="share"),
    "risk": Field("Risico (relatief)", kind="number"), "rank": Field("Rang", kind="integer"),
    "percentile": Field("Percentiel", kind="number"),
    "risk_class": Field("Risicoklasse", kind="integer"),
    "gi_z": Field("Gi*-z-score", kind="number"), "gi_p": _hide("Gi* p-waarde"),
    "gi_q": _hide("Gi* q-waarde"), "gi_class": _hide("Gi*-klasse (code)"),
    "gi_label": Field("Gi*-klasse"), "gi_empty": _hide("Gi* zonder buren"),
    "method": Field("Methode"), "method_label": Field("Methode"),
    "window": Field("Venster"), "origin": Field("Vanaf", kind="datetime"),
    "window_end": Field("Tot", kind="datetime"),
    # deployments and recommendations
    "id": _hide("Inzet (id)"), "kind": Field("Soort inzet", values=_DEPLOYMENT_KINDS),
    "radius_m": Field("Straal", "m", "integer"), "area_wkt": _hide("Gebied (WKT)"),
    "start": Field("Sinds", kind="datetime"), "end": Field("Tot", kind="datetime"),
    "planned_start": Field("Gepland vanaf", kind="datetime"),
    "planned_end": Field("Gepland tot", kind="datetime"), "plan_id": Field("Plan"),
    "plan_rank": Field("Rang in plan", kind="integer"), "units": Field("Eenheden",
                                                                       kind="integer"),
    "approximate": Field("Plaats bij benadering", kind="bool"), "note": Field("Opmerking"),
    "effect_ready": Field("Effect meetbaar", kind="bool"), "revision": _hide("Versie"),
    "expected_covered": Field("Verwacht gedekt", kind="number"),
    "share_of_risk": Field("Deel van het risico", kind="share"),
    "distance_to_existing_m": Field("Afstand tot bestaande inzet", "m", "integer"),
    "explanation": Field("Toelichting"), "backtest_score": Field("Backtest", kind="number"),
    "objective_unit": Field("Eenheid"), "site_id": _hide("Plaats (id)"),
    "seq": _hide("Volgnummer"), "solver": _hide("Rekenmethode"), "unit_id": Field("Eenheid"),
    "duration_days": Field("Duur", "dagen", "integer"), "until": Field("Tot", kind="date"),
    # alerts
    "verhoogd_risico": Field("Verhoogd risico", kind="bool"),
    "valid_through": Field("Geldig tot en met", kind="date"),
}


def field_catalogue() -> dict[str, dict[str, Any]]:
    """``FIELDS`` as plain JSON for the web map."""
    return {name: f.as_json() for name, f in FIELDS.items()}


#: risk below this share of the highest cell counts as none (transparent on the map)
NEGLIGIBLE_RISK = 1e-6


def risk_classes(risk: np.ndarray, k: int = 5) -> tuple[np.ndarray, list[float]]:
    """Map classes of a risk surface: quantile classes over the cells with risk above zero
    (each class holds about a fifth of them), class 0 for cells without risk. Returns the
    class per cell and the class edges (at most ``k + 1``; tied edges merged, so a surface
    with few distinct values has fewer classes). Quantiles rather than natural breaks: a
    planner reads class 5 as "the top fifth of the cells at risk", the same ranking the
    backtest's hit rate uses, and the classes stay stable when one extreme cell changes."""
    values = np.asarray(risk, dtype=float)
    finite = np.isfinite(values)
    top = values[finite].max() if finite.any() else 0.0
    # "above zero": more than a millionth of the highest cell (a kernel density's far tails are
    # positive but negligible, and print as 0)
    ok = finite & (values > 0) & (values > top * NEGLIGIBLE_RISK)
    classes = np.zeros(len(values), dtype=int)
    if not ok.any():
        return classes, []
    edges = np.unique(np.quantile(values[ok], np.linspace(0, 1, k + 1)))
    if len(edges) == 1:
        edges = np.array([edges[0], edges[0]])
    classes[ok] = np.clip(np.searchsorted(edges[1:-1], values[ok], side="right") + 1,
                          1, len(edges) - 1)
    return classes, [float(e) for e in edges]


# --- suppression -------------------------------------------------------------------------

@dataclass(frozen=True)
class Suppression:
    """Disclosure control of a count layer for the public (``geoveilig.disclosure``): only
    calendar years, quarters and months and one published crime type or group; each count
    perturbed by the cell-key method, a count of 1 up to ``threshold - 1`` replaced by null
    with ``<column>_suppressed`` true. ``level`` names the cells (``wijk``, ``buurt``)."""

    columns: tuple[str, ...]
    threshold: int = 5
    level: str = "wijk"

    def apply(self, frame: gpd.GeoDataFrame, policy: Any = None) -> gpd.GeoDataFrame:
        from . import disclosure

        policy = policy or disclosure.process_policy()
        if policy.threshold != self.threshold:
            policy = disclosure.Policy(policy.secret, threshold=self.threshold)
        return disclosure.protect_area_counts(frame, policy, self.level, self.columns)


# --- the layer record ----------------------------------------------------------------------

Builder = Callable[[LayerContext, Mapping[str, Any]], gpd.GeoDataFrame]


@dataclass(frozen=True)
class Layer:
    """One map layer / OGC collection.

    ``builder(ctx, params)`` returns a GeoDataFrame in EPSG:28992 with the column ``id_column``
    (the feature id). ``time_columns`` names the property (or start/end pair) that the
    OGC ``datetime`` filter uses; ``queryables`` the properties that can be filtered by
    equality (``?wijk_code=WK079401``)."""

    id: str
    title: str
    description: str
    builder: Builder
    role: Role = "public"
    params: tuple[Param, ...] = ()
    id_column: str = "code"
    time_columns: tuple[str, ...] = ()
    queryables: tuple[str, ...] = ()
    suppression: Suppression | None = None
    geometry_type: str = "Polygon"
    temporal: Callable[[LayerContext], tuple[str | None, str | None]] | None = None
    keywords: tuple[str, ...] = ()
    #: computed from incident times: roles below the police get them by month only and an
    #: ``origin`` on the first of a month (``disclosure.MonthStore``, docs/privacy.md)
    month_times: bool = False
    #: the content depends on the caller's role in another way (e.g. which stored plans it may
    #: see): caches keep one copy per role
    per_role: bool = False
    #: the parts of the stored data its content depends on (``DEPENDENCIES``): caches of this
    #: layer are keyed by exactly these versions, so other changes leave it cached
    depends_on: tuple[str, ...] = DEPENDENCIES
    #: values for parameters left out that come from the data or the clock (e.g. a date of
    #: "today"), filled in before a cache key is made (``with_defaults``)
    defaults: Callable[[LayerContext], Mapping[str, Any]] | None = None
    #: with several gemeenten configured, the layer is about one of them and ``gemeente`` is
    #: required (hotspots); otherwise a layer without it covers every configured gemeente
    gemeente_required: bool = False

    def __post_init__(self) -> None:
        # every layer takes ``gemeente`` (declared once: GEMEENTE_PARAM)
        if all(p.name != GEMEENTE_PARAM.name for p in self.params):
            object.__setattr__(self, "params", (*self.params, GEMEENTE_PARAM))

    def scoped(self, ctx: LayerContext, params: Mapping[str, Any]) -> LayerContext:
        """The context limited to the ``gemeente`` parameter's gemeenten (``scope``): their
        areas, a store view with their incidents and (hotspots) their grid. The context itself
        when the selection is every configured gemeente (one gemeente: always)."""
        from .scope import for_gemeente

        areas, store = for_gemeente(ctx.areas, ctx.store, params.get("gemeente"),
                                    required=self.gemeente_required)
        if areas is ctx.areas:
            return ctx
        # the grid of the chosen gemeente, with the context's cell size (only the hotspot
        # layer, which is about one gemeente, uses it: made once per gemeente and size)
        grid = None if ctx.grid is None or not self.gemeente_required else hotspot_grid(
            areas, float(ctx.grid.cell_size))
        return dataclasses.replace(ctx, areas=areas, store=store, grid=grid)

    def version(self, versions: Mapping[str, str]) -> str:
        """This layer's data version from ``data_versions``."""
        return "|".join(f"{d}={versions[d]}" for d in self.depends_on)

    def with_defaults(self, ctx: LayerContext, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` with the data-derived defaults of the parameters left out."""
        out = dict(params)
        if self.defaults is not None and any(out.get(p.name) is None for p in self.params):
            for name, value in self.defaults(ctx).items():
                if out.get(name) is None:
                    out[name] = value
        return out

    @property
    def depends_on_role(self) -> bool:
        """Whether two roles allowed to see this layer may get different content (caches
        must then be keyed by role)."""
        return self.suppression is not None or self.month_times or self.per_role

    def parse_params(self, raw: Mapping[str, str]) -> dict[str, Any]:
        """Layer parameters from raw query text (defaults filled in), validated; an error
        names the parameter (its API name)."""
        return parse_query(self.params, raw)

    def check_query(self, params: Mapping[str, Any], role: str) -> bool:
        """Whether ``role`` gets this layer through the disclosure control; if so, refuse
        what the public may not ask for (``disclosure.check_public_query``)."""
        from . import disclosure

        public = disclosure.protects(role) and self.suppression is not None
        if public:
            disclosure.check_public_query(params)
        return public

    def build(self, ctx: LayerContext, params: Mapping[str, Any], role: str = "public"
              ) -> gpd.GeoDataFrame:
        """The layer as ``role`` may see it (suppression applied for the public)."""
        from . import disclosure

        if not allows(role, self.role):
            raise NotFound(f"onbekende collectie '{self.id}'")
        whole = ctx.areas
        ctx = self.scoped(ctx, params)
        public = self.check_query(params, role)
        if self.month_times and not disclosure.exact_times(role):
            ctx = dataclasses.replace(ctx, store=disclosure.MonthStore(ctx.store))
            params = {**params,
                      "origin": disclosure.month_origin(ctx.store, params.get("origin"))}
        frame = self.builder(ctx, params)
        if ctx.areas is not whole:  # what the builder took from elsewhere (deployments...)
            from .scope import keep_rows

            frame = keep_rows(frame, ctx.areas)
        require_rd(frame, f"laag {self.id} (bouwer)")
        if public:
            frame = self.suppression.apply(frame, ctx.disclosure)  # type: ignore[union-attr]
        return frame


_REGISTRY: dict[str, Layer] = {}


def register_layer(layer: Layer) -> Layer:
    """Add (or replace) a layer in the catalogue; returns it."""
    _REGISTRY[layer.id] = layer
    return layer


def unregister_layer(layer_id: str) -> None:
    """Remove a layer (tests, plug-ins that go away)."""
    _REGISTRY.pop(layer_id, None)


def get_layer(layer_id: str) -> Layer:
    try:
        return _REGISTRY[layer_id]
    except KeyError:
        raise NotFound(f"onbekende collectie '{layer_id}'") from None


def all_layers() -> list[Layer]:
    return list(_REGISTRY.values())


def visible_layers(role: str) -> list[Layer]:
    return [layer for layer in _REGISTRY.values() if allows(role, layer.role)]


# --- builders: incident counts per wijk / buurt ----------------------------------------------

def _incident_temporal(ctx: LayerContext) -> tuple[str | None, str | None]:
    rng = ctx.store.time_range()
    if rng is None:
        return None, None
    return rng[0].isoformat(), rng[1].isoformat()


def default_period(store: IncidentReader) -> Period:
    """The last complete calendar year with data (the current year if nothing is stored)."""
    rng = store.time_range()
    if rng is None:
        y = pd.Timestamp.now(tz=TIMEZONE).year
        return parse_period(str(y))
    hi = rng[1]
    year = hi.year if (hi.month, hi.day) == (12, 31) else hi.year - 1
    year = max(year, rng[0].year)
    return parse_period(str(year))


def _period_of(ctx: LayerContext, params: Mapping[str, Any]) -> Period:
    year, period = params.get("year"), params.get("period")
    if year is not None and period is not None:
        raise InvalidInput("geef year of period, niet allebei", where="period")
    return year or period or default_period(ctx.store)


def area_counts(ctx: LayerContext, params: Mapping[str, Any], level: str) -> gpd.GeoDataFrame:
    """Incident counts per wijk or buurt for one crime type (or group) and period. Columns:
    ``code``, ``name`` (+ ``wijk_code`` for buurten), ``crime_type``, ``crime_type_label``,
    ``period``, ``period_start``, ``period_end`` (inclusive), ``count``, ``area_km2``,
    ``geometry``. (The statistics module's richer table replaces this single function.)"""
    if ctx.store.time_range() is None:  # no incidents: published counts, when stored
        from .sources.layers import published_area_counts
        published = published_area_counts(ctx, params, level)
        if published is not None:
            return published
    slugs = params.get("crimeType") or crimetypes.GROUPS[crimetypes.TOTAL_SLUG]
    period = _period_of(ctx, params)
    base = ctx.areas.wijken if level == "wijk" else ctx.areas.buurten
    # only this service's areas are read (in SQL on PostGIS), not a national table's others
    inc = ctx.store.incidents(start=period.start, end=period.end, crime_types=slugs,
                              area_codes=list(base["code"]))
    key = "wijk_code" if level == "wijk" else "buurt_code"
    counts = inc.groupby(key).size()
    cols = ["code", "name"] + (["wijk_code"] if level == "buurt" else [])
    out = base[[*cols, "geometry"]].copy()
    spec = crimetypes.TOTAL_SLUG if set(slugs) == set(crimetypes.SLUGS) else ",".join(slugs)
    out["crime_type"] = spec
    label = (crimetypes.label(spec) if "," not in spec
             else ", ".join(crimetypes.label(s) for s in slugs))
    out["crime_type_label"] = label
    out["period"] = period.label
    out["period_start"] = period.start.isoformat()
    out["period_end"] = period.last_day.isoformat()
    out["count"] = counts.reindex(out["code"]).fillna(0).astype(int).to_numpy()
    batches = ctx.store.batches()  # the source on every row: never confuse demo with real
    synthetic = bool(batches["synthetic"].astype(bool).any()) if len(batches) else False
    out["source"] = "incidenten (synthetisch)" if synthetic else "incidenten"
    out["area_km2"] = (out.geometry.area / 1e6).round(3)
    return gpd.GeoDataFrame(out.reset_index(drop=True), geometry="geometry", crs=RD_NEW)


def build_wijken(ctx: LayerContext, params: Mapping[str, Any]) -> gpd.GeoDataFrame:
    return area_counts(ctx, params, "wijk")


def build_buurten(ctx: LayerContext, params: Mapping[str, Any]) -> gpd.GeoDataFrame:
    return area_counts(ctx, params, "buurt")


def build_incidents(ctx: LayerContext, params: Mapping[str, Any]) -> gpd.GeoDataFrame:
    """Incident points (police only): id, type, times, buurt/wijk, address."""
    slugs = params.get("crimeType")
    inc = ctx.store.incidents(crime_types=slugs)
    out = gpd.GeoDataFrame({
        "incident_id": inc["incident_id"].astype(str).to_numpy(),
        "crime_type": inc["crime_type"].to_numpy(),
        "crime_type_label": inc["crime_type"].map(
            lambda s: crimetypes.BY_SLUG[s].label if s in crimetypes.BY_SLUG else s).to_numpy(),
        "occurred_at": _iso(inc["occurred_at"]),
        "occurred_from": _iso(inc["occurred_from"]),
        "occurred_to": _iso(inc["occurred_to"]),
        "buurt_code": inc["buurt_code"].to_numpy(),
        "wijk_code": inc["wijk_code"].to_numpy(),
        "address": inc["address"].to_numpy(),
    }, geometry=inc.geometry.values, crs=RD_NEW)
    return out


def _iso(values: pd.Series) -> np.ndarray:
    out = values.map(lambda t: None if pd.isna(t) else t.isoformat())
    return out.to_numpy(dtype=object)


# --- builders: prevention ------------------------------------------------------------------

def _today(ctx: LayerContext) -> date:
    """"Now" for a date parameter: today, or the day after the last incident when the data
    end before today (``geoveilig.times.reference_date``)."""
    from .times import reference_date

    rng = ctx.store.time_range()
    return reference_date(rng[1] if rng is not None else None)[0]


def _registry(ctx: LayerContext):  # type: ignore[no-untyped-def]
    from .store.prevention import load_registry

    return load_registry(ctx.store)


def build_prevention_groups(ctx: LayerContext, params: Mapping[str, Any]) -> gpd.GeoDataFrame:
    """Buurtpreventieteams and WhatsApp groups with their area and status on ``date``."""
    from .prevention import group_areas

    when = params.get("date") or _today(ctx)
    frame = group_areas(_registry(ctx), ctx.areas, when)
    frame["date"] = when.isoformat()
    return frame


def build_prevention_coverage(ctx: LayerContext, params: Mapping[str, Any]
                              ) -> gpd.GeoDataFrame:
    """Prevention coverage per wijk on ``date`` (aggregates only: public)."""
    from .prevention import coverage_layer

    when = params.get("date") or _today(ctx)
    frame = coverage_layer(_registry(ctx), ctx.areas, when, level="wijk")
    frame["date"] = when.isoformat()  # the date used, also when it was the default
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=RD_NEW)


def _date_default(ctx: LayerContext) -> dict[str, Any]:
    return {"date": _today(ctx)}


def _prevention_temporal(ctx: LayerContext) -> tuple[str | None, str | None]:
    reg = _registry(ctx)
    first = reg.first_date()
    return (first.date().isoformat() if first is not None else None), None


# --- the catalogue ---------------------------------------------------------------------------

COUNT_SUPPRESSION = Suppression(("count",), threshold=5, level="wijk")
BUURT_SUPPRESSION = Suppression(("count",), threshold=5, level="buurt")

register_layer(Layer(
    id="wijken", title="Wijken: geregistreerde misdrijven",
    description="Aantal geregistreerde misdrijven per CBS-wijk voor een misdrijftype en "
                "periode. Voor het publiek worden aantallen van 1 tot en met 4 niet getoond en "
                "de andere licht verstoord (celsleutelmethode, zie docs/privacy.md).",
    builder=build_wijken, role="public", params=(CRIME_TYPE_PARAM, YEAR_PARAM, PERIOD_PARAM),
    id_column="code", time_columns=("period_start", "period_end"), queryables=("code",),
    suppression=COUNT_SUPPRESSION, temporal=_incident_temporal,
    depends_on=("incidents", "published", "today"),
    keywords=("wijk", "misdrijven", "CBS")))

register_layer(Layer(
    id="buurten", title="Buurten: geregistreerde misdrijven",
    description="Aantal geregistreerde misdrijven per CBS-buurt voor een misdrijftype en "
                "periode. Voor het publiek worden aantallen van 1 tot en met 4 niet getoond en "
                "de andere licht verstoord (celsleutelmethode, zie docs/privacy.md).",
    builder=build_buurten, role="public", params=(CRIME_TYPE_PARAM, YEAR_PARAM, PERIOD_PARAM),
    id_column="code", time_columns=("period_start", "period_end"),
    queryables=("code", "wijk_code"), suppression=BUURT_SUPPRESSION,
    temporal=_incident_temporal, depends_on=("incidents", "published", "today"),
    keywords=("buurt", "misdrijven", "CBS")))

register_layer(Layer(
    id="prevention-groups", title="Preventiegroepen",
    description="Buurtpreventieteams en WhatsApp-preventiegroepen met hun gebied en status "
                "op de peildatum (alleen voor de gemeente: het publiek ziet de dekking per "
                "wijk).",
    builder=build_prevention_groups, role="analyst", params=(DATE_PARAM,),
    id_column="group_id", queryables=("type", "status", "area_kind"),
    temporal=_prevention_temporal, depends_on=("prevention", "incidents", "today"),
    defaults=_date_default,
    keywords=("preventie", "WhatsApp", "buurtpreventie")))

register_layer(Layer(
    id="prevention-coverage", title="Dekking buurtpreventie per wijk",
    description="Aandeel van elke wijk dat op de peildatum gedekt is door actieve "
                "buurtpreventieteams en WhatsApp-groepen, en of de wijk 'wijkdekkend' is.",
    builder=build_prevention_coverage, role="public", params=(DATE_PARAM,),
    id_column="code", queryables=("code", "fully_covered"),
    temporal=_prevention_temporal, depends_on=("prevention", "incidents", "today"),
    defaults=_date_default,
    keywords=("preventie", "dekking", "wijk")))

register_layer(Layer(
    id="incidents", title="Incidenten (politie)",
    description="Afzonderlijke geregistreerde incidenten als punten. Alleen voor de politie; "
                "elke opvraging wordt gelogd.",
    builder=build_incidents, role="police",
    params=(Param("crimeType", "Misdrijftype(n): slug, groep of kommalijst (standaard alle).",
                  parse_crime_type, schema=CRIME_TYPE_PARAM.schema, example="woninginbraak"),),
    id_column="incident_id", time_columns=("occurred_at",),
    queryables=("crime_type", "buurt_code", "wijk_code"), geometry_type="Point",
    temporal=_incident_temporal, depends_on=("incidents",),
    keywords=("incidenten", "politie")))

# --- hotspots (geoveilig.hotspots) ------------------------------------------------------------

_GRIDS: dict[tuple[int, float], tuple[Areas, Any]] = {}

#: the default hotspot cell size in metres (the Dutch police's CAS grid)
GRID_SIZE = 125.0


def hotspot_grid(areas: Areas, size: float = GRID_SIZE):  # type: ignore[no-untyped-def]
    """The hotspot grid of ``areas`` with cells of ``size`` metres (a ``hotspots.Grid``),
    made once per Areas object and size."""
    from .hotspots import make_grid

    key = (id(areas), float(size))
    hit = _GRIDS.get(key)
    if hit is None or hit[0] is not areas:
        hit = (areas, make_grid(areas, float(size), areas=areas))
        _GRIDS[key] = hit
    return hit[1]


def context_grid(ctx: LayerContext):  # type: ignore[no-untyped-def]
    """The grid a builder uses: the context's (the API's GEOVEILIG_GRID_SIZE) or 125 m."""
    return ctx.grid if ctx.grid is not None else hotspot_grid(ctx.areas)


def _hotspot_methods() -> tuple[str, ...]:
    from .hotspots import METHODS

    return tuple(METHODS)


#: a forecast window of 1 day to 1 year: days (1-366), weeks (1-52) or months (1-12, 30 days)
WINDOW_PATTERN = (r"^\s*(([1-9]|[1-9]\d|[12]\d\d|3[0-5]\d|36[0-6])d|([1-9]|[1-4]\d|5[0-2])w|"
                  r"([1-9]|1[0-2])m)\s*$")


def _method(text: str) -> str:
    return _choice("method", _hotspot_methods())(text)


def _window(text: str) -> str:
    """A window as the planning bodies take it (``14d``, ``2w``, ``28``: 1 day to 1 year)."""
    from .hotspots.events import parse_window

    try:
        days = parse_window(text).days
    except (ValueError, OverflowError, InvalidInput):
        days = -1
    if not 1 <= days <= 366:
        raise InvalidInput(f"ongeldig venster '{text}': gebruik bv. 14d, 2w of 1m (1 dag tot "
                           "1 jaar)", where="window")
    return text


def parse_window_text(text: str) -> str:
    """A window in ``WINDOW_PATTERN`` (the text itself: the hotspot code reads it)."""
    if not re.search(WINDOW_PATTERN, text):
        raise InvalidInput(f"ongeldig venster '{text}': gebruik bv. 14d, 2w of 1m (1 dag tot "
                           "1 jaar)", where="window")
    return text.strip()


def build_hotspots(ctx: LayerContext, params: Mapping[str, Any]) -> gpd.GeoDataFrame:
    """The risk surface on the hotspot grid (``context_grid``: 125 m unless the context has
    another) for a crime type, method, origin and window (``hotspots.hotspot_surface``;
    ``best`` needs a backtest and is not offered here: use the CLI ``geoveilig hotspots``)."""
    from .hotspots import hotspot_surface

    slugs = params.get("crimeType") or crimetypes.GROUPS["inbraak"]
    inc = ctx.store.incidents(crime_types=slugs)
    if len(inc) == 0:
        raise InvalidInput("geen incidenten van dit type in de database", where="crimeType")
    origin = params.get("origin")
    frame = hotspot_surface(inc, context_grid(ctx), params.get("method") or "prospective",
                            origin=None if origin is None else origin.isoformat(),
                            window=params.get("window") or "14d")
    frame["cell_id"] = frame["cell_id"].astype(str)
    # What is the same for every cell (method, window, origin) is said once, in the
    # response's "parameters" member, not 3,772 times: the layer is served whole to the map.
    constant: dict[str, Any] = {c: str(frame[c].iloc[0]) for c in _HOTSPOT_CONSTANT
                                if c in frame and len(frame)}
    out = frame[[c for c in _HOTSPOT_COLUMNS if c in frame]].copy()
    for col, digits in _HOTSPOT_ROUNDING.items():
        if col in out:
            out[col] = out[col].round(digits)
    if "risk" in out:  # relative risk: six significant digits are plenty
        out["risk"] = _significant(out["risk"].to_numpy(dtype=float), 6)
        # map classes over the cells at risk; zero-risk cells are class 0 (transparent)
        out["risk_class"], constant["risk_breaks"] = risk_classes(out["risk"].to_numpy())
    gdf = gpd.GeoDataFrame(out, geometry="geometry", crs=RD_NEW)
    gdf.attrs["parameters"] = constant
    return gdf


_HOTSPOT_CONSTANT = ("method", "method_label", "window", "origin", "window_end")
_HOTSPOT_COLUMNS = ("cell_id", "buurt_code", "wijk_code", "share_in_area", "risk", "rank",
                    "percentile", "gi_z", "gi_p", "gi_q", "gi_class", "gi_label", "gi_empty",
                    "geometry")
_HOTSPOT_ROUNDING = {"share_in_area": 3, "percentile": 2, "gi_z": 3, "gi_p": 4, "gi_q": 4}


def _significant(values: np.ndarray, digits: int) -> np.ndarray:
    """``values`` rounded to ``digits`` significant digits (0 and non-finite kept)."""
    out = values.copy()
    ok = np.isfinite(values) & (values != 0)
    scale = np.floor(np.log10(np.abs(values[ok])))
    factor = 10.0 ** (digits - 1 - scale)
    out[ok] = np.round(values[ok] * factor) / factor
    return out


register_layer(Layer(
    id="hotspots", title="Hotspots (risico per cel van 125 m)",
    description="Voorspeld risico per cel van 125 m voor een misdrijftype, methode, "
                "startmoment en venster, met Getis-Ord Gi*-klasse. Voor de gemeente.",
    builder=build_hotspots, role="analyst",
    params=(
        Param("crimeType", "Misdrijftype(n) (standaard inbraak: woning, schuur en garage).",
              parse_crime_type, default="inbraak", schema=CRIME_TYPE_PARAM.schema,
              example="woninginbraak"),
        choice_param("method", "Hotspotmethode (naive, kde, prospective, gistar, learned, "
                     "emerging, combined).", _hotspot_methods, default="prospective"),
        Param("origin", "Startmoment van de voorspelling (JJJJ-MM-DD; standaard de dag na het "
              "laatste incident).", parse_date, schema=DATE_PARAM.schema,
              example="2018-01-01"),
        Param("window", "Voorspelperiode, bv. 14d, 2w, 1m (1 dag tot 1 jaar).",
              parse_window_text, default="14d",
              schema={"type": "string", "pattern": WINDOW_PATTERN}, example="14d"),
    ),
    id_column="cell_id", queryables=("gi_class", "buurt_code", "wijk_code"),
    temporal=_incident_temporal, depends_on=("incidents",),
    keywords=("hotspots", "risico", "Gi*"), month_times=True, gemeente_required=True))


# --- deployments (geoveilig.store.deployments) -------------------------------------------------

def build_deployments(ctx: LayerContext, params: Mapping[str, Any]) -> gpd.GeoDataFrame:
    """Alarms, cameras and BuurtTent visits as points, with their status, planned and actual
    period, plan link and whether their effect can be evaluated yet (``effect_ready``)."""
    from .placement.service import effect_ready
    from .store.deployments import list_deployments

    frame = list_deployments(ctx.store)
    span = ctx.store.time_range()
    frame["effect_ready"] = effect_ready(frame, span[1] if span else None).to_numpy()
    for col in ("start", "end", "planned_start", "planned_end"):
        frame[col] = _iso(frame[col])
    frame["id"] = frame["id"].astype(str)
    for col in ("plan_id", "plan_rank"):
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=RD_NEW)


register_layer(Layer(
    id="deployments", title="Inzet: alarmsystemen, camera's, BuurtTent",
    description="Geregistreerde inzet (mobiele alarmsystemen, flexibele camera's, "
                "BuurtTent-bezoeken) met plaats en periode. Voor de gemeente.",
    builder=build_deployments, role="analyst", id_column="id",
    time_columns=("start", "end"),
    queryables=("kind", "status", "wijk_code", "buurt_code"),
    geometry_type="Point", depends_on=("deployments", "incidents"),
    keywords=("inzet", "alarm", "camera", "BuurtTent")))

# --- hooks for the layers built elsewhere ----------------------------------------------------
# recommendations (issue 6): register_layer(Layer(id="recommendations", role="analyst",
#   builder=<last planning run as points with explanations>, ...)); planning requests
#   themselves go through geoveilig.api.planning.register_planner.

# alerts: "alerts" (analyst) and "alerts-buurten" (public), see geoveilig.alerts.layers;
# published counts, rates and perception: geoveilig.sources.layers registers its layers
from .alerts import layers as _alert_layers  # noqa: E402, F401
from .sources import layers as _published_layers  # noqa: E402, F401
