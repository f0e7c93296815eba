"""The crime-type taxonomy: the categories of the Helmond evaluation table (with their Dutch
labels as printed), their slugs, groups, and the synonyms accepted on input.

No I/O here. ``resolve`` turns user text into one slug; ``expand`` turns a comma-separated
list of slugs and groups into the set of category slugs it covers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import UnknownCrimeType


@dataclass(frozen=True)
class CrimeType:
    slug: str
    label: str  # Dutch label as printed in the seed table
    synonyms: tuple[str, ...] = field(default=())


#: Order = the row order of the evaluation table (chapter 2 of the source document).
CRIME_TYPES: tuple[CrimeType, ...] = (
    CrimeType("woninginbraak", "Woninginbraken", (
        "woninginbraak", "inbraak woning", "inbraak in woning", "diefstal/inbraak woning",
        "burglary", "residential burglary", "home burglary", "poging woninginbraak",
    )),
    CrimeType("openlijk-geweld", "Openlijk geweld", (
        "openlijk geweld (persoon)", "openlijk geweld tegen personen", "public violence",
    )),
    CrimeType("vernieling", "Vernielingen", (
        "vernieling", "vernieling cq. zaakbeschadiging", "vernieling of beschadiging",
        "zaakbeschadiging", "vandalisme", "vandalism", "criminal damage",
    )),
    CrimeType("fietsendiefstal", "Fietsendiefstallen", (
        "fietsendiefstal", "fietsdiefstal", "diefstal fiets", "diefstal van fiets",
        "diefstal/verduistering fiets",
        "bicycle theft", "bike theft",
    )),
    CrimeType("inbraak-bedrijf", "Inbraken/diefstallen bedrijven/instellingen", (
        "inbraak bedrijf", "inbraak bedrijven", "diefstal/inbraak bedrijven en instellingen",
        "inbraak/diefstal bedrijven en instellingen", "business burglary", "commercial burglary",
    )),
    CrimeType("zedenmisdrijf", "Zedenmisdrijven", (
        "zedenmisdrijf", "zeden", "sexual offence", "sexual offense", "sexual offences",
    )),
    CrimeType("bedreiging", "Bedreigingen", ("bedreiging", "threat", "threats")),
    CrimeType("mishandeling", "Mishandeling", (
        "mishandelingen", "eenvoudige mishandeling", "assault",
    )),
    CrimeType("diefstal-motorvoertuig", "Diefstallen van motorvoertuigen", (
        "diefstal van motorvoertuig", "diefstal motorvoertuig", "diefstal/verduistering auto",
        "diefstal van personenauto", "autodiefstal", "vehicle theft", "car theft",
        "motor vehicle theft",
    )),
    CrimeType("diefstal-bromfiets", "Diefstallen brom- en snorfietsen", (
        "diefstal bromfiets", "diefstal brom-/snorfiets", "diefstal van brom- en snorfietsen",
        "diefstal/verduistering bromfiets", "diefstal brom- en snorfiets", "moped theft",
        "scooter theft",
    )),
    CrimeType("diefstal-uit-motorvoertuig", "Diefstallen uit/vanaf motorvoertuigen", (
        "diefstal uit/vanaf motorvoertuig", "diefstal uit motorvoertuig",
        "diefstal uit/vanaf motorvoertuigen", "diefstal uit auto", "autokraak",
        "theft from vehicle", "theft from motor vehicle",
    )),
    CrimeType("winkeldiefstal", "Winkeldiefstallen", (
        "winkeldiefstal", "shoplifting", "shop theft",
    )),
    CrimeType("inbraak-schuur-garage", "Inbraak uit schuur of garagebox", (
        "inbraak schuur", "inbraak garagebox", "inbraak schuur/garagebox",
        "diefstal/inbraak uit schuur/garage", "inbraak uit schuur", "inbraak schuur of garage",
        "shed burglary", "garage burglary",
    )),
    CrimeType("straatroof", "Straatroven", ("straatroof", "street robbery", "mugging")),
    CrimeType("overval", "Overvallen", ("overval", "robbery", "armed robbery", "hold-up")),
    CrimeType("zakkenrollerij", "Zakkenrollerij", (
        "zakkenroller", "zakkenrollen", "pickpocketing", "pickpocket",
    )),
    CrimeType("overig", "Overige misdrijven (WvS)", (
        "overig", "overige", "overige misdrijven", "overige wvs", "other", "other crime",
    )),
)

#: The seed table's first row; as a filter it means every category.
TOTAL_SLUG = "totaal"
TOTAL_LABEL = "Totaal aantal misdrijven (WvS)"

SLUGS: tuple[str, ...] = tuple(c.slug for c in CRIME_TYPES)
BY_SLUG: dict[str, CrimeType] = {c.slug: c for c in CRIME_TYPES}

#: Groups of categories. ``hic`` = High Impact Crime as the police define it.
GROUPS: dict[str, tuple[str, ...]] = {
    "totaal": SLUGS,
    "hic": (
        "woninginbraak", "straatroof", "overval", "openlijk-geweld", "bedreiging",
        "mishandeling", "zedenmisdrijf",
    ),
    "geweld": (
        "openlijk-geweld", "bedreiging", "mishandeling", "zedenmisdrijf", "straatroof",
        "overval",
    ),
    "vermogen": (
        "woninginbraak", "inbraak-bedrijf", "inbraak-schuur-garage", "fietsendiefstal",
        "diefstal-motorvoertuig", "diefstal-bromfiets", "diefstal-uit-motorvoertuig",
        "winkeldiefstal", "zakkenrollerij",
    ),
    # Demand for mobile alarm systems: burglaries of dwellings and their sheds/garages.
    "inbraak": ("woninginbraak", "inbraak-schuur-garage"),
    # Demand for flexible cameras: incidents in public space.
    "straat": ("openlijk-geweld", "straatroof", "vernieling", "zakkenrollerij", "overval"),
}

GROUP_LABELS: dict[str, str] = {
    "totaal": TOTAL_LABEL,
    "hic": "High Impact Crimes",
    "geweld": "Geweldsmisdrijven",
    "vermogen": "Vermogensmisdrijven",
    "inbraak": "Inbraken (woning, schuur en garagebox)",
    "straat": "Misdrijven in de openbare ruimte",
}


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    text = text.lower().strip()
    text = re.sub(r"[\s_]+", " ", text)
    return re.sub(r"\s*([/\-])\s*", r"\1", text)


def _plural_variants(text: str) -> set[str]:
    """Dutch/English singular-plural variants of a normalised name."""
    out = {text}
    for suffix in ("en", "s", "n"):
        if text.endswith(suffix):
            out.add(text[: -len(suffix)])
    # a doubled consonant before -en: diefstallen -> diefstal
    if re.search(r"([bdfgklmnprst])\1en$", text):
        out.add(text[:-3])
    out |= {text + "en", text + "s"}
    return out


#: The police's own classes as the politie/CBS open data give them ("soort misdrijf", the
#: code of the Standaardclassificatie misdrijven with its label, e.g. ``1.1.1 Diefstal/inbraak
#: woning``), mapped to our categories. Accepted as the bare code, the label, or both.
#: ``1.2.3`` (bromfietsen, snorfietsen and fietsen together) counts as ``fietsendiefstal``, the
#: larger part; classes that are no WvS crime (accidents, nuisance) are not listed and refused.
POLICE_CLASSES: tuple[tuple[str, str, str], ...] = (
    ("1.1.1", "Diefstal/inbraak woning", "woninginbraak"),
    ("1.1.2", "Diefstal/inbraak box/garage/schuur/tuinhuis", "inbraak-schuur-garage"),
    ("1.2.1", "Diefstal uit/vanaf motorvoertuigen", "diefstal-uit-motorvoertuig"),
    ("1.2.2", "Diefstal van motorvoertuigen", "diefstal-motorvoertuig"),
    ("1.2.3", "Diefstal van brom-, snor-, fietsen", "fietsendiefstal"),
    ("1.2.4", "Zakkenrollerij", "zakkenrollerij"),
    ("1.2.5", "Diefstal af/uit/van overige voertuigen", "overig"),
    ("1.4.1", "Zedenmisdrijf", "zedenmisdrijf"),
    ("1.4.2", "Moord, doodslag", "overig"),
    ("1.4.3", "Openlijk geweld (persoon)", "openlijk-geweld"),
    ("1.4.4", "Bedreiging", "bedreiging"),
    ("1.4.5", "Mishandeling", "mishandeling"),
    ("1.4.6", "Straatroof", "straatroof"),
    ("1.4.7", "Overval", "overval"),
    ("1.5.2", "Diefstallen (water)", "overig"),
    ("1.6.1", "Brand/ontploffing", "overig"),
    ("1.6.2", "Overige vermogensdelicten", "overig"),
    ("1.6.3", "Mensenhandel", "overig"),
    ("2.2.1", "Vernieling cq. zaakbeschadiging", "vernieling"),
    ("2.4.2", "Huisvredebreuk", "overig"),
    ("2.5.1", "Diefstal/inbraak bedrijven en instellingen", "inbraak-bedrijf"),
    ("2.5.2", "Winkeldiefstal", "winkeldiefstal"),
    ("3.1.1", "Drugshandel", "overig"),
    ("3.1.2", "Mensensmokkel", "overig"),
    ("3.1.3", "Wapenhandel", "overig"),
    ("3.2.1", "Kinderporno", "overig"),
    ("3.2.2", "Kinderprostitutie", "overig"),
    ("3.6.4", "Aantasting openbare orde", "overig"),
    ("3.7.1", "Discriminatie", "overig"),
    ("3.7.3", "Maatschappelijke integriteit (overig)", "overig"),
    ("3.7.4", "Cybercrime", "overig"),
    ("3.9.1", "Horizontale fraude", "overig"),
    ("3.9.2", "Verticale fraude", "overig"),
    ("3.9.3", "Fraude (overig)", "overig"),
)
_CODE = re.compile(r"^(\d\.\d\.\d)\b\s*(.*)$")
_BY_CODE: dict[str, str] = {code: slug for code, _, slug in POLICE_CLASSES}


def _build_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for ct in CRIME_TYPES:
        for name in (ct.slug, ct.slug.replace("-", " "), ct.label, *ct.synonyms):
            for variant in _plural_variants(_norm(name)):
                lookup.setdefault(variant, ct.slug)
    for _, name, slug in POLICE_CLASSES:
        for variant in _plural_variants(_norm(name)):
            lookup.setdefault(variant, slug)
    return lookup


_LOOKUP = _build_lookup()
HINT = "zie 'geoveilig crimetypes' voor alle namen en codes"


def catalogue() -> list[dict[str, str]]:
    """Every accepted input per category, for ``geoveilig crimetypes``: rows with ``slug``,
    ``label`` (Dutch), ``kind`` (slug, label, synonym, police code, police class) and
    ``name`` (what may be written in a file or an option)."""
    rows: list[dict[str, str]] = []
    for ct in CRIME_TYPES:
        def add(kind: str, name: str, ct: CrimeType = ct) -> None:
            rows.append({"slug": ct.slug, "label": ct.label, "kind": kind, "name": name})
        add("slug", ct.slug)
        add("label", ct.label)
        for syn in ct.synonyms:
            add("synoniem", syn)
        for code, name, slug in POLICE_CLASSES:
            if slug == ct.slug:
                add("politiecode", code)
                add("politieklasse", f"{code} {name}")
                add("politieklasse", name)
    return rows


def resolve(text: str) -> str:
    """Return the slug of one crime category named by ``text`` (slug, Dutch label, police/CBS
    name, English name, singular or plural). Raises ``UnknownCrimeType`` otherwise."""
    key = _norm(text)
    code = _CODE.match(key)
    if code is not None and code.group(1) in _BY_CODE:
        # a police code, alone or before its label ("1.1.1 Diefstal/inbraak woning")
        return _BY_CODE[code.group(1)]
    if key in _LOOKUP:
        return _LOOKUP[key]
    for variant in _plural_variants(key):
        if variant in _LOOKUP:
            return _LOOKUP[variant]
    raise UnknownCrimeType(
        f"onbekend misdrijftype '{text}'; kies uit: {', '.join(SLUGS)} "
        f"of een groep: {', '.join(GROUPS)} ({HINT})"
    )


def resolve_many(values: Iterable[object]) -> tuple[list[str | None], list[int]]:
    """Vectorised ``resolve`` for a column: returns slugs (None where unknown) and the
    positions of unknown values. Each distinct value is resolved once."""
    cache: dict[object, str | None] = {}
    slugs: list[str | None] = []
    bad: list[int] = []
    for i, v in enumerate(values):
        if v not in cache:
            try:
                cache[v] = resolve(str(v)) if v is not None and str(v).strip() else None
            except UnknownCrimeType:
                cache[v] = None
        slugs.append(cache[v])
        if cache[v] is None:
            bad.append(i)
    return slugs, bad


def expand(spec: str | Iterable[str]) -> tuple[str, ...]:
    """Expand a slug, group, or comma-separated list of them (or an iterable) to the tuple of
    category slugs it covers, in table order."""
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    chosen: set[str] = set()
    for raw in parts:
        part = _norm(raw)
        if not part:
            continue
        if part in GROUPS:
            chosen.update(GROUPS[part])
        else:
            chosen.add(resolve(raw))
    if not chosen:
        raise UnknownCrimeType("geen misdrijftype opgegeven")
    return tuple(s for s in SLUGS if s in chosen)


def label(slug_or_group: str) -> str:
    """Dutch label of a slug or group."""
    if slug_or_group in GROUP_LABELS:
        return GROUP_LABELS[slug_or_group]
    return BY_SLUG[resolve(slug_or_group)].label
