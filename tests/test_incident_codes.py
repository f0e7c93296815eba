"""The police's own incident codes (BVH maatschappelijke klasse) and the open data's label
variants as crime types (issue 16, research item)."""

from __future__ import annotations

import pandas as pd
import pytest

from geoveilig import crimetypes
from geoveilig.errors import UnknownCrimeType
from geoveilig.incidents import parse_incidents


@pytest.mark.parametrize(("text", "slug"), [
    ("A20", "woninginbraak"), ("a30", "woninginbraak"),
    ("A20 Gekwal. diefstal in/uit woning", "woninginbraak"),
    ("B34", "inbraak-schuur-garage"), ("A10", "diefstal-uit-motorvoertuig"),
    ("A70", "diefstal-motorvoertuig"), ("A72", "fietsendiefstal"),
    ("B63", "diefstal-bromfiets"), ("A40", "zakkenrollerij"), ("F522", "zedenmisdrijf"),
    ("F12", "openlijk-geweld"), ("F533", "bedreiging"), ("F550", "mishandeling"),
    ("B70", "straatroof"), ("B72", "overval"), ("C40", "vernieling"), ("F11", "vernieling"),
    ("A23", "inbraak-bedrijf"), ("A50", "winkeldiefstal"), ("F600", "overig"),
    ("Diefstal/inbraak box/garage/schuur", "inbraak-schuur-garage"),
    ("Diefstal/inbraak bedrijven enz.", "inbraak-bedrijf"),
])
def test_incident_codes_and_label_variants(text, slug):
    assert crimetypes.resolve(text) == slug


@pytest.mark.parametrize("text", ["D11", "M011", "D21", "A99", "A2", "F5"])
def test_codes_of_no_wvs_class_or_unknown_are_refused(text):
    with pytest.raises(UnknownCrimeType):
        crimetypes.resolve(text)


def test_catalogue_lists_the_incident_codes():
    rows = crimetypes.catalogue()
    codes = {r["name"]: r["slug"] for r in rows if r["kind"] == "incidentcode"}
    assert codes == crimetypes.INCIDENT_CODES
    assert codes["A73"] == "diefstal-bromfiets"


def test_a_file_with_incident_codes_and_classes(areas):
    csv = ("Registratienummer;Incidentcode;Omschrijving;Pleegdatum;X;Y\n"
           "R1;A20;1.1.1 Diefstal/inbraak woning;14-03-2017 21:30;172000;387500\n"
           "R2;A73;1.2.3 Diefstal van brom-, snor-, fietsen;14-03-2017 21:30;172000;387500\n"
           "R3;A72;1.2.3 Diefstal van brom-, snor-, fietsen;14-03-2017 21:30;172000;387500\n"
           "R4;F550;1.1.1 Diefstal/inbraak woning;14-03-2017 21:30;172000;387500\n")
    parsed = parse_incidents(csv.encode(), filename="bvh.csv", areas=areas,
                             now=pd.Timestamp("2018-01-01", tz="Europe/Amsterdam"))
    assert parsed.frame.set_index("incident_id")["crime_type"].to_dict() == {
        "R1": "woninginbraak", "R2": "diefstal-bromfiets", "R3": "fietsendiefstal"}
    assert parsed.rejects["row"].tolist() == [5]
    assert "verschillende misdrijftypen" in parsed.rejects["reason"].iloc[0]
