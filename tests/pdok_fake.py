"""A local stand-in for PDOK's CBS wijken-en-buurten WFS (``http.server`` in a thread on
127.0.0.1). It answers the GetFeature requests ``geoveilig.areas.pdok_request`` makes
(``typeNames=wijkenbuurten{year}:gemeenten{year}|cbs_wijken_{year}|cbs_buurten_{year}``,
``CQL_FILTER=gemeentecode='GM....'``) with GeoJSON in RD New and PDOK's attribute names
(``gemeentecode``/``gemeentenaam``, ``wijkcode``/``wijknaam``, ``buurtcode``/``buurtnaam``,
``aantal_inwoners``, ``woningvoorraad`` with CBS's ``-99999999`` for "secret").

The answers are written here from the boundaries the tests load (never saved in the
repository), so the served geometry is the real Helmond geometry of ``GEOVEILIG_GEO_DIR``."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from geoveilig.areas import LEVELS, Areas

_NAMES = {"gemeente": ("gemeentecode", "gemeentenaam"), "wijk": ("wijkcode", "wijknaam"),
          "buurt": ("buurtcode", "buurtnaam")}
_TYPE_SUFFIX = {"gemeente": "gemeenten{year}", "wijk": "cbs_wijken_{year}",
                "buurt": "cbs_buurten_{year}"}


def wfs_response(layer_gdf: Any, level: str, gemeente: str = "GM0794") -> dict[str, Any]:
    """A response shaped like PDOK's CBS wijken-en-buurten WFS (GeoJSON, RD, PDOK names)."""
    names = _NAMES[level]
    gdf = layer_gdf[["code", "name", "geometry"]].rename(
        columns={"code": names[0], "name": names[1]})
    gdf["gemeentecode"] = gemeente
    gdf["aantal_inwoners"] = 1000
    gdf["woningvoorraad"] = -99999999  # CBS code for "secret"
    data = json.loads(gdf.to_json())
    data["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::28992"}}
    return data


class FakePdok:
    """Serves ``areas`` (one or more gemeenten: each answers its own ``CQL_FILTER``) for
    ``year`` under ``self.url`` (with ``{year}`` in it, as ``GEOVEILIG_PDOK_URL``);
    ``requests`` holds the query of every request."""

    def __init__(self, areas: Areas, year: int = 2017) -> None:
        self.responses = {
            (_TYPE_SUFFIX[lvl].format(year=year), f"gemeentecode='{code}'"): json.dumps(
                wfs_response(areas.select(code).layer(lvl), lvl, code)).encode()
            for code in areas.gemeente_codes for lvl in LEVELS}
        self.gemeente = areas.gemeente_code
        self.requests: list[dict[str, list[str]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                q = parse_qs(urlsplit(self.path).query)
                fake.requests.append(q)
                typename = q.get("typeNames", [""])[0].partition(":")[2]
                body = fake.responses.get((typename, q.get("CQL_FILTER", [""])[0]))
                if body is None:
                    self.send_response(400)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/cbs/wijkenbuurten/{{year}}/wfs"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FakePdok:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def closed_url() -> str:
    """A PDOK URL on a local port nobody listens on (as offline: the connection is refused)."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/cbs/wijkenbuurten/{{year}}/wfs"
