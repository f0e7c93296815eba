"""A small local OData server (``http.server`` in a thread on 127.0.0.1) that answers like the
CBS feeds: ``/{table}/{entity}?$filter=...`` with ``{"value": [...]}`` pages and
``odata.nextLink`` (v3) or ``@odata.nextLink`` (v4). It understands the two filter forms the
client sends (``substring(col,i,n) eq 'x'`` and ``startswith(col,'x')`` joined by ``and``), can
fail the first N requests with 5xx, and counts requests.

The rows are written here by hand in the documented layout (padded dimension keys, ``Name_N``
topic columns, ``null`` for unpublished cells); they are not copies of real answers."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

_SUBSTRING = re.compile(r"substring\((\w+),(\d+),(\d+)\) eq '([^']*)'")
_STARTS = re.compile(r"startswith\((\w+),'([^']*)'\)")


def _matches(row: dict[str, Any], flt: str) -> bool:
    for col, i, n, val in _SUBSTRING.findall(flt):
        if str(row.get(col, ""))[int(i):int(i) + int(n)] != val:
            return False
    return all(str(row.get(col, "")).startswith(val) for col, val in _STARTS.findall(flt))


class FakeCbs:
    def __init__(self, page_size: int = 1000, v4: bool = False) -> None:
        self.tables: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.page_size = page_size
        self.v4 = v4
        self.fail_next = 0  # answer this many requests with 503
        self.fail_status = 503
        self.requests: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def do_GET(self) -> None:
                fake.requests.append(self.path)
                if fake.fail_next > 0:
                    fake.fail_next -= 1
                    self.send_response(fake.fail_status)
                    self.end_headers()
                    return
                parts = urlsplit(self.path)
                segs = [s for s in parts.path.split("/") if s]
                key = (segs[-2], segs[-1]) if len(segs) >= 2 else ("", "")
                if key not in fake.tables:
                    self.send_response(404)
                    self.end_headers()
                    return
                q = {k: v[0] for k, v in parse_qs(parts.query).items()}
                rows = [r for r in fake.tables[key] if _matches(r, q.get("$filter", ""))]
                skip = int(q.get("$skip", "0"))
                page = rows[skip:skip + fake.page_size]
                body: dict[str, Any] = {"value": page}
                if skip + fake.page_size < len(rows):
                    nq = dict(q, **{"$skip": str(skip + fake.page_size)})
                    link = f"http://127.0.0.1:{fake.port}{parts.path}?{urlencode(nq)}"
                    body["@odata.nextLink" if fake.v4 else "odata.nextLink"] = link
                if not fake.v4:
                    body["odata.metadata"] = f"http://127.0.0.1:{fake.port}/$metadata#x"
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/odata"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def pad(code: str, width: int = 10) -> str:
    return code.ljust(width)


BUURTEN = ("BU07941002", "BU07941100", "BU07941000")
WIJKEN = ("WK079410", "WK079411")
CLASSES = {"0.0.0": "Totaal misdrijven", "1.1.1": "Diefstal/inbraak woning",
           "1.2.3": "Diefstal van brom-, snor-, fietsen", "1.4.5": "Mishandeling",
           "3.7.4": "Cybercrime"}


def count_value(area: str, year: int, month: int, cls: str) -> int | None:
    """Deterministic small counts; one unpublished cell (None)."""
    if area == "BU07941000" and cls == "1.4.5" and month == 2 and year == 2017:
        return None
    base = {"1.1.1": 3, "1.2.3": 5, "1.4.5": 2, "3.7.4": 1}
    if cls == "0.0.0":
        return sum(count_value(area, year, month, c) or 0 for c in base)
    weight = {"BU07941002": 1, "BU07941100": 2, "BU07941000": 3}.get(area)
    if weight is None:  # wijk / gemeente: the sum of their buurten
        members = [b for b in BUURTEN if b.startswith("BU" + area[2:8])] if area.startswith(
            "WK") else list(BUURTEN)
        return sum(count_value(b, year, month, cls) or 0 for b in members)
    return base[cls] * weight + (year - 2016)


def police_rows(years: tuple[int, ...] = (2016, 2017)) -> list[dict[str, Any]]:
    rows = []
    i = 0
    for year in years:
        for month in range(1, 13):
            for area in ("GM0794", *WIJKEN, *BUURTEN, "GM0795"):
                for cls in CLASSES:
                    rows.append({"ID": i, "SoortMisdrijf": pad(cls, 8),
                                 "WijkenEnBuurten": pad(area),
                                 "Perioden": f"{year}MM{month:02d}",
                                 "GeregistreerdeMisdrijven_1": count_value(area, year, month,
                                                                          cls)})
                    i += 1
    return rows


def install_police(fake: FakeCbs, table: str = "47022NED",
                   years: tuple[int, ...] = (2016, 2017)) -> None:
    fake.tables[(table, "TypedDataSet")] = police_rows(years)
    fake.tables[(table, "SoortMisdrijf")] = [
        {"Key": pad(k, 8), "Title": v, "Description": None} for k, v in CLASSES.items()]
    fake.tables[(table, "Perioden")] = [
        {"Key": f"{y}MM{m:02d}", "Title": f"{y} maand {m}"} for y in years
        for m in range(1, 13)]


FIGURES = {  # area -> (inhabitants, dwellings, land ha) for 2016; 2017 adds 1 %
    "GM0794": (90_000, 40_000, 5_300.0), "WK079410": (2_000, 900, 100.0),
    "WK079411": (1_500, 15, 80.0), "BU07941002": (1_200, 500, 50.0),
    "BU07941100": (800, 400, 50.0), "BU07941000": (12, 15, 80.0),
}


def install_figures(fake: FakeCbs, table: str, year: int) -> None:
    grow = 1.0 if year == 2016 else 1.01
    fake.tables[(table, "TypedDataSet")] = [
        {"ID": i, "WijkenEnBuurten": pad(a), "Gemeentenaam_1": "Helmond  ",
         "SoortRegio_2": "Buurt     ", "Codering_3": pad(a), "AantalInwoners_5": round(v[0] * grow),
         "Woningvoorraad_35": round(v[1] * grow) if a != "BU07941000" else -99997,
         "OppervlakteLand_112": v[2]}
        for i, (a, v) in enumerate(FIGURES.items())]


def install_perception(fake: FakeCbs, table: str = "81877NED") -> None:
    fake.tables[(table, "DataProperties")] = [
        {"ID": 0, "Position": "0", "Type": "Dimension", "Key": "Marges", "Title": "Marges"},
        {"ID": 1, "Type": "GeoDimension", "Key": "RegioS", "Title": "Regio's"},
        {"ID": 2, "Type": "TimeDimension", "Key": "Perioden", "Title": "Perioden"},
        {"ID": 3, "Type": "Topic", "Key": "VoeltZichWelEensOnveilig_1",
         "Title": "Voelt zich wel eens onveilig", "Unit": "%"},
        {"ID": 4, "Type": "Topic", "Key": "VoeltZichWelEensOnveiligInBuurt_2",
         "Title": "Voelt zich wel eens onveilig in eigen buurt", "Unit": "%"},
        {"ID": 5, "Type": "Topic", "Key": "RapportcijferLeefbaarheid_3",
         "Title": "Rapportcijfer leefbaarheid woonbuurt", "Unit": "rapportcijfer"},
    ]
    fake.tables[(table, "Marges")] = [
        {"Key": "MW00000", "Title": "Waarde"},
        {"Key": "MOG0095", "Title": "Ondergrens 95%-interval"},
        {"Key": "MBG0095", "Title": "Bovengrens 95%-interval"}]
    rows = []
    values = {2016: (38.0, 20.0, 7.1), 2017: (35.5, 18.0, 7.2)}
    for year, (a, b, c) in values.items():
        for region in ("GM0794    ", "GM0772    "):
            for marge, d in (("MW00000", 0.0), ("MOG0095", -2.5), ("MBG0095", 2.5)):
                rows.append({"ID": len(rows), "Marges": marge, "RegioS": region,
                             "Perioden": f"{year}JJ00", "VoeltZichWelEensOnveilig_1": a + d,
                             "VoeltZichWelEensOnveiligInBuurt_2": b + d,
                             "RapportcijferLeefbaarheid_3": c + d / 10})
    fake.tables[(table, "TypedDataSet")] = rows
