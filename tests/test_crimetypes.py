import csv

import pytest

from geoveilig import crimetypes as ct
from geoveilig.errors import UnknownCrimeType


def test_every_seed_label_resolves(shared_geo):
    seed = shared_geo.parent / "seed" / "helmond_misdrijven_2012_2016_2017.csv"
    with open(seed, encoding="utf-8") as fh:
        labels = [r["categorie"] for r in csv.DictReader(fh)]
    slugs = [ct.TOTAL_SLUG if lbl.startswith("Totaal") else ct.resolve(lbl) for lbl in labels]
    assert slugs[1:] == [s for s in ct.SLUGS if s != "overig"]
    for lbl, slug in zip(labels[1:], slugs[1:], strict=True):
        assert ct.BY_SLUG[slug].label == lbl


@pytest.mark.parametrize(("text", "slug"), [
    ("Woninginbraak", "woninginbraak"),
    ("woninginbraken", "woninginbraak"),
    ("WONINGINBRAKEN", "woninginbraak"),
    ("burglary", "woninginbraak"),
    ("Straatroof", "straatroof"),
    ("straatroven", "straatroof"),
    ("Fietsendiefstal", "fietsendiefstal"),
    ("diefstal/verduistering fiets", "fietsendiefstal"),
    ("fietsdiefstal", "fietsendiefstal"),
    ("Fietsdiefstallen", "fietsendiefstal"),
    ("Overval", "overval"),
    ("zakkenrollen", "zakkenrollerij"),
    ("Diefstal uit/vanaf motorvoertuigen", "diefstal-uit-motorvoertuig"),
    ("inbraak-schuur-garage", "inbraak-schuur-garage"),
    ("Vernieling cq. zaakbeschadiging", "vernieling"),
    ("overige misdrijven", "overig"),
])
def test_synonyms(text, slug):
    assert ct.resolve(text) == slug


def test_groups_expand():
    assert set(ct.expand("hic")) == {"woninginbraak", "straatroof", "overval", "openlijk-geweld",
                                     "bedreiging", "mishandeling", "zedenmisdrijf"}
    assert ct.expand("totaal") == ct.SLUGS
    assert ct.expand("hic,fietsendiefstal") == tuple(
        s for s in ct.SLUGS if s in set(ct.GROUPS["hic"]) | {"fietsendiefstal"})
    assert ct.expand(["straatroof", "Overvallen"]) == ("straatroof", "overval")


def test_unknown_is_refused_with_the_list():
    with pytest.raises(UnknownCrimeType, match="onbekend misdrijftype 'fraude'.*woninginbraak"):
        ct.resolve("fraude")
    with pytest.raises(UnknownCrimeType):
        ct.expand("hic,fraude")
    with pytest.raises(UnknownCrimeType):
        ct.expand(" , ")
