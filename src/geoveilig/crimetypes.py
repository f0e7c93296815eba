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
#: Label variants of the same classes as the politie/CBS open data tables spell them in their
#: ``SoortMisdrijf`` dimension (table 47018NED, "Geregistreerde misdrijven; soort misdrijf, wijk,
#: buurt": ``Diefstal/inbraak box/garage/schuur``, ``... bedrijven enz.``, abbreviations).
#: Source: the dimension's titles and descriptions at
#: dataderden.cbs.nl/ODataApi/OData/47018NED/SoortMisdrijf, as transcribed in public code
#: found through the project's search tool (not fetched from CBS itself: no internet here).
POLICE_CLASS_VARIANTS: tuple[tuple[str, str], ...] = (
    ("1.1.2", "Diefstal/inbraak box/garage/schuur"),
    ("1.2.5", "Diefstal af/uit/van ov. voertuigen"),
    ("2.5.1", "Diefstal/inbraak bedrijven enz."),
    ("3.7.3", "Maatsch. integriteit (overig)"),
)

#: The police's own incident codes (BVH "maatschappelijke klasse": a letter and two to four
#: digits, e.g. ``A20 Gekwal. diefstal in/uit woning``) per class of the Standaardclassificatie,
#: as listed in the description of each ``SoortMisdrijf`` of table 47018NED (same source as
#: ``POLICE_CLASS_VARIANTS``). A code counts as its class, except where the code itself is
#: finer than our categories need: in 1.2.3 (fietsen and brom-/snorfietsen together) A72/B62
#: are bicycles (``fietsendiefstal``) and A73/B63 mopeds (``diefstal-bromfiets``). Codes of
#: classes that are no WvS crime here (1.3.1 accidents D11-D13, 2.6.x environment M..., 3.5.x
#: traffic D20-D52, 2.7.2 special laws F91-F94, ...) are not listed and refused, as their
#: classes are.
_INCIDENT_CODES_BY_CLASS: dict[str, tuple[str, ...]] = {
    "1.1.1": ("A20", "A30", "B20", "B30"),
    "1.1.2": ("A21", "A34", "B21", "B34"),
    "1.2.1": ("A10", "B10"),
    "1.2.2": ("A70", "A71", "A76", "B60", "B61", "B66"),
    "1.2.4": ("A40",),
    "1.2.5": ("A12", "A74", "B12", "B64"),
    "1.4.1": ("F520", "F521", "F522", "F523", "F525", "F526", "F527", "F5295", "F5296"),
    "1.4.2": ("F540", "F541", "F542", "F543", "F544"),
    "1.4.3": ("F12",),
    "1.4.4": ("F530", "F531", "F532", "F533"),
    "1.4.5": ("F550", "F551"),
    "1.4.6": ("B70",),
    "1.4.7": ("B72", "B73", "B74"),
    "1.5.2": ("A11", "A75", "B11", "B65"),
    "1.6.1": ("F13", "F14"),
    "1.6.2": ("A27", "A36", "A60", "A80", "A81", "A82", "A90", "A95", "B27", "B36", "B95"),
    "1.6.3": ("F561", "F562", "F563", "F564", "F565", "F5293"),
    "2.2.1": ("C20", "C30", "C40", "F11"),
    "2.4.2": ("F15",),
    "2.5.1": ("A22", "A23", "A24", "A25", "A26", "A31", "A32", "A33", "A35", "B22", "B23",
              "B24", "B25", "B26", "B31", "B32", "B33", "B35"),
    "2.5.2": ("A50", "B50"),
    "3.1.1": ("F40", "F41", "F42", "F43", "F44", "F45"),
    "3.1.2": ("F5294",),
    "3.1.3": ("F70", "F71", "F72", "F73"),
    "3.2.1": ("F5291",),
    "3.2.2": ("F5292",),
    "3.6.4": ("F10", "F17", "F18", "F19", "F30"),
    "3.7.1": ("F50",),
    "3.7.3": ("F51", "F5231"),
    "3.7.4": ("F90",),
    "3.9.1": ("F614", "F616", "F617", "F620", "F622", "F625", "F631", "F632", "F633", "F634",
              "F635", "F636", "F637", "F638", "F639"),
    "3.9.2": ("F621", "F623", "F649"),
    "3.9.3": ("F600", "F601", "F602", "F610", "F611", "F612", "F613", "F615", "F624"),
}
#: incident code -> our slug (the split of class 1.2.3 by its codes, see above)
INCIDENT_CODES: dict[str, str] = {
    **{code: slug for cls, codes in _INCIDENT_CODES_BY_CLASS.items()
       for code in codes for c, _, slug in POLICE_CLASSES if c == cls},
    "A72": "fietsendiefstal", "B62": "fietsendiefstal",
    "A73": "diefstal-bromfiets", "B63": "diefstal-bromfiets",
}
_INCIDENT_CODE = re.compile(r"^([a-z]\d{2,4})\b\s*(.*)$")
#: (slug of a police code, slug of its class name) pairs that agree though they differ: the
#: moped codes A73/B63 within class 1.2.3, which counts as ``fietsendiefstal``
_REFINES = frozenset({("diefstal-bromfiets", "fietsendiefstal")})


def refines(code_slugs: Iterable[object], class_slugs: Iterable[object]) -> list[bool]:
    """Per pair, whether the slug of a police code refines that of the class name given with
    it (A73 "Diefstal bromfiets/snorfiets" with "1.2.3 Diefstal van brom-, snor-, fietsen")."""
    return [(a, b) in _REFINES for a, b in zip(code_slugs, class_slugs, strict=True)]
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
    for code, name in POLICE_CLASS_VARIANTS:
        for variant in _plural_variants(_norm(name)):
            lookup.setdefault(variant, _BY_CODE[code])
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
        for code, name in POLICE_CLASS_VARIANTS:
            if _BY_CODE[code] == ct.slug:
                add("politieklasse", name)
        for code, slug in INCIDENT_CODES.items():
            if slug == ct.slug:
                add("incidentcode", code)
    return rows


def resolve(text: str) -> str:
    """Return the slug of one crime category named by ``text`` (slug, Dutch label, police/CBS
    name, English name, singular or plural). Raises ``UnknownCrimeType`` otherwise."""
    key = _norm(text)
    code = _CODE.match(key)
    if code is not None and code.group(1) in _BY_CODE:
        # a police code, alone or before its label ("1.1.1 Diefstal/inbraak woning")
        return _BY_CODE[code.group(1)]
    incident = _INCIDENT_CODE.match(key)
    if incident is not None and incident.group(1).upper() in INCIDENT_CODES:
        # a police incident code, alone or before its text ("A20 Gekwal. diefstal in/uit
        # woning")
        return INCIDENT_CODES[incident.group(1).upper()]
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
