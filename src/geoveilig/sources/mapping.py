"""The police's crime classes (``SoortMisdrijf`` of the police tables 47018NED/47022NED on
``dataderden.cbs.nl``, "volgens de indeling van de politie") against this project's categories
(``geoveilig.crimetypes``).

Each police class maps to a tuple of project slugs with a ``match``:

* ``exact``: the same category.
* ``wider``: the police class holds more than the project category (e.g. "Diefstal/inbraak
  woning" also counts theft from a dwelling without break-in).
* ``combined``: one police class covers several project categories that cannot be told apart
  in the published counts ("Diefstal van brom-, snor-, fietsen" = fietsendiefstal +
  diefstal-bromfiets); comparisons then use the sum of those categories.
* ``overig``: part of the project's residual ``overig``.
* ``total``: the roll-up row (never summed with the detail rows).

``UNMATCHED`` lists the project categories with no published counterpart of their own.
Classes not in the table (new codes) are kept with their own code and label and counted under
``overig``, with a warning (nothing is dropped)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .. import crimetypes


@dataclass(frozen=True)
class ClassMapping:
    code: str  # police code without padding, e.g. "1.1.1"
    label: str  # police label as published
    slugs: tuple[str, ...]
    match: str  # exact | wider | combined | overig | total
    note: str = ""


TOTAL_CODE = "0.0.0"

_ROWS: tuple[ClassMapping, ...] = (
    ClassMapping("0.0.0", "Totaal misdrijven", crimetypes.SLUGS, "total",
                 "de optelling van alle klassen"),
    ClassMapping("1.1.1", "Diefstal/inbraak woning", ("woninginbraak",), "wider",
                 "ook diefstal uit een woning zonder inbraak en pogingen"),
    ClassMapping("1.1.2", "Diefstal/inbraak box/garage/schuur", ("inbraak-schuur-garage",),
                 "exact"),
    ClassMapping("1.2.1", "Diefstal uit/vanaf motorvoertuigen",
                 ("diefstal-uit-motorvoertuig",), "exact"),
    ClassMapping("1.2.2", "Diefstal van motorvoertuigen", ("diefstal-motorvoertuig",), "exact"),
    ClassMapping("1.2.3", "Diefstal van brom-, snor-, fietsen",
                 ("fietsendiefstal", "diefstal-bromfiets"), "combined",
                 "fietsen en brom-/snorfietsen worden samen gepubliceerd"),
    ClassMapping("1.2.4", "Zakkenrollerij", ("zakkenrollerij",), "exact"),
    ClassMapping("1.2.5", "Diefstal af/uit/van ov. voertuigen", ("overig",), "overig"),
    ClassMapping("1.3.1", "Ongevallen (weg)", ("overig",), "overig"),
    ClassMapping("1.4.1", "Zedenmisdrijf", ("zedenmisdrijf",), "exact"),
    ClassMapping("1.4.2", "Moord, doodslag", ("overig",), "overig"),
    ClassMapping("1.4.3", "Openlijk geweld (persoon)", ("openlijk-geweld",), "exact"),
    ClassMapping("1.4.4", "Bedreiging", ("bedreiging",), "exact"),
    ClassMapping("1.4.5", "Mishandeling", ("mishandeling",), "exact"),
    ClassMapping("1.4.6", "Straatroof", ("straatroof",), "exact"),
    ClassMapping("1.4.7", "Overval", ("overval",), "exact"),
    ClassMapping("1.5.2", "Diefstallen (water)", ("overig",), "overig"),
    ClassMapping("1.6.1", "Brand/ontploffing", ("overig",), "overig"),
    ClassMapping("1.6.2", "Overige vermogensdelicten", ("overig",), "overig"),
    ClassMapping("1.6.3", "Mensenhandel", ("overig",), "overig"),
    ClassMapping("2.1.1", "Drugs/drankoverlast", ("overig",), "overig"),
    ClassMapping("2.2.1", "Vernieling cq. zaakbeschadiging", ("vernieling",), "exact"),
    ClassMapping("2.4.1", "Burengerucht (relatieproblemen)", ("overig",), "overig"),
    ClassMapping("2.4.2", "Huisvredebreuk", ("overig",), "overig"),
    ClassMapping("2.5.1", "Diefstal/inbraak bedrijven en instellingen", ("inbraak-bedrijf",),
                 "wider", "ook diefstal zonder inbraak bij bedrijven en instellingen"),
    ClassMapping("2.5.2", "Winkeldiefstal", ("winkeldiefstal",), "exact"),
    ClassMapping("2.6.x", "Milieu (2.6.1 t/m 2.6.14)", ("overig",), "overig"),
    ClassMapping("2.7.2", "Bijzondere wetten", ("overig",), "overig"),
    ClassMapping("2.7.3", "Leefbaarheid (overig)", ("overig",), "overig"),
    ClassMapping("3.x", "Drugs-, wapen- en mensenhandel, verkeer, fraude, cybercrime, "
                 "discriminatie e.a. (3.1.1 t/m 3.9.3)", ("overig",), "overig"),
)

BY_CODE: dict[str, ClassMapping] = {m.code: m for m in _ROWS}

#: Project categories without a published class of their own.
UNMATCHED: dict[str, str] = {
    "fietsendiefstal": "alleen samen met brom- en snorfietsen gepubliceerd (1.2.3)",
    "diefstal-bromfiets": "alleen samen met fietsen gepubliceerd (1.2.3)",
}


def normalise_code(code: object) -> str:
    """CBS pads dimension keys with spaces ('1.1.1   '); strip them."""
    return str(code).strip()


def lookup(code: object) -> ClassMapping | None:
    """The mapping of one police class; the families 2.6.* and 3.* map as one row each."""
    c = normalise_code(code)
    if c in BY_CODE:
        return BY_CODE[c]
    if c.startswith("2.6."):
        return BY_CODE["2.6.x"]
    if c.startswith("3."):
        return BY_CODE["3.x"]
    return None


def category_of(code: object) -> str:
    """The category key a published count is aggregated under: a slug, ``a+b`` for a
    combined class, ``totaal`` for the roll-up, ``overig`` for residual and unknown
    classes."""
    m = lookup(code)
    if m is None:
        return "overig"
    if m.match == "total":
        return crimetypes.TOTAL_SLUG
    return "+".join(m.slugs)


def category_label(key: str) -> str:
    """Dutch label of a category key from ``category_of``."""
    if key == crimetypes.TOTAL_SLUG:
        return crimetypes.TOTAL_LABEL
    return " + ".join(crimetypes.BY_SLUG[s].label for s in key.split("+"))


def category_slugs(key: str) -> tuple[str, ...]:
    """The project slugs an aggregation key stands for."""
    if key == crimetypes.TOTAL_SLUG:
        return crimetypes.SLUGS
    return tuple(key.split("+"))


def table() -> pd.DataFrame:
    """The mapping as a table (``geoveilig cbs mapping``, docs/sources.md)."""
    return pd.DataFrame([{"code": m.code, "label": m.label, "categories": ", ".join(m.slugs)
                          if m.match != "total" else crimetypes.TOTAL_SLUG,
                          "match": m.match, "note": m.note} for m in _ROWS])
