import re

import pytest
from typer.testing import CliRunner

from geoveilig.cli import app
from geoveilig.demo.prevention import demo_prevention_groups
from geoveilig.web.export import export_layers
from geoveilig.web.folium_map import static_map


def test_static_map_is_self_contained(areas, demo_incidents):
    registry = demo_prevention_groups(areas, seed=42, incidents=demo_incidents)
    layers = export_layers(areas, demo_incidents, registry, year=2017, crime_type="hic")
    assert [lay.name for lay in layers] == [
        "High Impact Crimes per wijk, 2017", "Verandering t.o.v. 2016",
        "Dekking preventiegroepen 31-12-2017", "Actieve preventiegroepen"]
    html = static_map(areas, layers, title="Helmond 2017", online_base=False)
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)
    links = re.findall(r'<link[^>]+href="([^"]+)"', html)
    assert scripts == [] and links == []  # Leaflet is inlined, nothing from a CDN
    assert "L.map(" in html and "Leaflet" in html
    assert "tile.openstreetmap.org" not in html and "service.pdok.nl" not in html
    for name in ("Wijkgrenzen", "High Impact Crimes 2017 (aantal)", "Wijkdekkend"):
        assert name in html
    # aggregates only: no incident ids or coordinates of single incidents
    assert "DEMO-2017" not in html


@pytest.mark.slow  # the whole demo through the CLI; `make test-fast` skips it
def test_map_cli_writes_the_file(monkeypatch, tmp_path, shared_geo, demo_incidents):
    monkeypatch.setenv("GEOVEILIG_GEO_DIR", str(shared_geo))
    monkeypatch.setenv("GEOVEILIG_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    assert runner.invoke(app, ["demo"]).exit_code == 0
    out = tmp_path / "kaart.html"
    result = runner.invoke(app, ["map", "--out", str(out), "--year", "2017",
                                 "--layers", "misdrijven,preventie-dekking"])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "SYNTHETISCHE demo-gegevens" in html
    # online base offered (PDOK BRT-Achtergrondkaart grijs, with Kadaster's attribution),
    # outlines as fallback
    assert "service.pdok.nl/brt/achtergrondkaart/wmts/v2_0/grijs/EPSG:3857" in html
    assert "Kadaster" in html and "tile.openstreetmap.org" not in html
    bad = runner.invoke(app, ["map", "--out", str(out), "--layers", "incidenten"])
    assert bad.exit_code == 1 and "onbekende kaartlaag" in bad.output
    bad = runner.invoke(app, ["map", "--out", str(out), "--crime-type", "fraude"])
    assert bad.exit_code == 1 and "onbekend misdrijftype" in bad.output


def test_public_static_map_goes_through_the_disclosure_control(areas, demo_incidents):
    """The council map shows the counts the public sees (the same cells as the API's public
    wijken layer): perturbed, 1-4 hidden; the exact map is for internal use only."""
    from geoveilig import disclosure
    from geoveilig.errors import InvalidInput

    policy = disclosure.Policy.from_secret("a test secret of 16+ chars")
    sample = demo_incidents
    exact = export_layers(areas, sample, None, year=2017, crime_type="overval",
                          which=("misdrijven",))[0].data
    public = export_layers(areas, sample, None, year=2017, crime_type="overval",
                           which=("misdrijven",), policy=policy)[0].data
    small = exact["count"].between(1, 4)
    assert small.any() and public.loc[small.to_numpy(), "count"].isna().all()
    assert public["count_suppressed"].to_numpy()[small.to_numpy()].all()
    with pytest.raises(InvalidInput):  # a home-made list of types is not a published row
        export_layers(areas, sample, None, year=2017, crime_type="overval,straatroof",
                      which=("misdrijven",), policy=policy)
