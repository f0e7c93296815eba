import pytest
from fastapi.testclient import TestClient

from geoveilig.api import create_app
from tests.api_support import build_store


@pytest.fixture(scope="module")
def client(tmp_path_factory, shared_geo, areas, demo_incidents):  # type: ignore[no-untyped-def]
    settings, keys = build_store(tmp_path_factory.mktemp("reports"), shared_geo, areas,
                                 demo_incidents)
    with TestClient(create_app(settings)) as c:
        yield c, keys


def test_evaluation_table_formats(client) -> None:  # type: ignore[no-untyped-def]
    c, _ = client
    r = c.get("/v1/reports/evaluation?year=2017&f=csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert lines[0].startswith("categorie,aantal_2016,aantal_2017,verschil_2017_vs_2016")
    assert lines[1].startswith("Totaal aantal misdrijven (WvS),")
    assert len(lines) == 18  # header, total and the 16 categories of the seed table
    j = c.get("/v1/reports/evaluation?year=2017&level=wijk&crimeType=hic").json()
    assert j["level"] == "wijk"
    h = c.get("/v1/reports/evaluation?period=2018-Q1&f=html")
    assert h.status_code == 200 and "<table" in h.text and "http://" not in h.text.split(
        "<body", 1)[1][:200]


@pytest.mark.parametrize(("query", "parameter"), [
    ("year=1899", "year"),  # the years of every year parameter: 1900-2100
    ("year=1999", None),  # a year without data
    ("year=abc", "year"),
    ("", "year"),
    ("year=2017&level=land", "level"),
    ("year=2017&f=xml", "f"),
    ("year=2017&crimeType=fraude", "crimeType"),
    ("year=2017&jaar=2017", "jaar"),
    ("year=2017&preset=iets", "preset"),
    ("year=2030", None),
])
def test_bad_parameters_are_problems(client, query, parameter) -> None:  # type: ignore[no-untyped-def]
    c, _ = client
    r = c.get(f"/v1/reports/evaluation?{query}")
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 400 and body["detail"]
    if parameter:
        assert body["parameter"] == parameter


def test_buurt_level_needs_a_key(client) -> None:  # type: ignore[no-untyped-def]
    c, keys = client
    assert c.get("/v1/reports/evaluation?year=2017&level=buurt").status_code == 400
    r = c.get("/v1/reports/evaluation?year=2017&level=buurt",
              headers={"Authorization": f"Bearer {keys['analyst']}"})
    assert r.status_code == 200


def test_quarter_report_charts_only_loaded_periods(client, demo_incidents) -> None:  # type: ignore[no-untyped-def]
    """The 2018-Q1 report charts up to ten earlier first quarters; it used to load only five
    years, so 2012-Q1 (inside the store) was drawn as 0. Every bar is the stored count."""
    import re

    import pandas as pd

    c, keys = client
    # exact counts (an analyst key): the public gets cell-key perturbed ones (docs/privacy.md)
    h = c.get("/v1/reports/evaluation?period=2018-Q1&f=html",
              headers={"Authorization": f"Bearer {keys['analyst']}"})
    assert h.status_code == 200
    sample = demo_incidents.iloc[::25]
    t = pd.to_datetime(sample["occurred_at"])
    bars: dict[str, str] = {}
    for key, value in re.findall(r"<title>(\d\d-Q1): ([\d.]+)</title>", h.text):
        bars.setdefault(key, value)  # the first chart is the total
    assert "12-Q1" in bars
    for year in range(2012, 2019):
        want = int(((t >= pd.Timestamp(f"{year}-01-01", tz=t.dt.tz))
                    & (t < pd.Timestamp(f"{year}-04-01", tz=t.dt.tz))).sum())
        assert want > 0
        assert int(bars[f"{year % 100:02d}-Q1"].replace(".", "")) == want


def test_html_report_says_synthetic_on_its_first_page(client) -> None:  # type: ignore[no-untyped-def]
    """Demo data are marked synthetic above the title, not only in a footer."""
    c, keys = client
    h = c.get("/v1/reports/evaluation?year=2017&f=html",
              headers={"Authorization": f"Bearer {keys['analyst']}"})
    assert h.status_code == 200
    banner = h.text.find("SYNTHETISCHE demo-gegevens")
    assert 0 < banner < h.text.find("<h1>")
