"""A small client for the CBS OData interface (StatLine ``opendata.cbs.nl`` and the police's
tables on ``dataderden.cbs.nl``).

* **Paging**: a reply is ``{"value": [...]}``; when the server has more it adds
  ``odata.nextLink`` (OData v3, JSON light) or ``@odata.nextLink`` (v4). Every page is
  followed until none is left.
* **Retries**: time-outs, dropped connections, 429 and 5xx are retried with exponential
  back-off (``retries`` times); a refused connection or unknown host (offline) is reported at
  once; other 4xx answers are a definite ``SourceError``.
* **Progress**: ``progress(text)`` is called after every page (the CLI prints it).
* **Cache**: every complete answer is written to
  ``{cache_dir}/{table_id}/{retrieved:YYYY-MM-DD}/{entity}-{hash of the query}.json`` together
  with its URL and retrieval time; a later call with the same query reads the newest cached
  answer instead of the network unless ``refresh=True``.

Offline, ``SourceUnavailable`` carries one Dutch sentence; nothing else is raised for network
trouble.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from ..errors import GeoveiligError

#: StatLine (CBS's own tables: key figures, Veiligheidsmonitor).
CBS_URL = "https://opendata.cbs.nl/ODataApi/odata"
#: Third-party tables published through CBS: the police's registered crimes.
POLICE_URL = "https://dataderden.cbs.nl/ODataApi/odata"

_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class SourceError(GeoveiligError):
    """The open-data server answered, but not with what we asked for (unknown table, bad
    filter, unreadable reply)."""

    status = 502
    code = "source-error"


class SourceUnavailable(GeoveiligError):
    """The open-data server cannot be reached (offline, DNS, time-outs, repeated 5xx)."""

    status = 503
    code = "source-unavailable"


@dataclass(frozen=True)
class Answer:
    """All rows of one query, with where and when they came from."""

    table_id: str
    entity: str
    url: str
    retrieved_at: datetime  # UTC
    rows: list[dict[str, Any]]
    from_cache: bool
    cache_path: Path | None

    @property
    def retrieved_date(self) -> str:
        return self.retrieved_at.date().isoformat()


def next_link(reply: Mapping[str, Any]) -> str | None:
    """The URL of the next page (v3 ``odata.nextLink`` or v4 ``@odata.nextLink``)."""
    link = reply.get("odata.nextLink") or reply.get("@odata.nextLink")
    return str(link) if link else None


class Client:
    """Fetches OData entity sets page by page. ``base_url`` ends before the table id, e.g.
    ``https://opendata.cbs.nl/ODataApi/odata``."""

    def __init__(self, base_url: str, cache_dir: Path | None = None, *, retries: int = 3,
                 backoff: float = 0.5, timeout: float = 60.0,
                 progress: Callable[[str], None] | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.cache_dir = cache_dir
        self.retries = max(0, retries)
        self.backoff = backoff
        self.timeout = timeout
        self.progress = progress or (lambda _text: None)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.requests = 0  # HTTP requests sent (tests and progress)

    # --- URLs ------------------------------------------------------------------------------
    def url(self, table_id: str, entity: str, *, filter: str | None = None,
            select: tuple[str, ...] = ()) -> str:
        params = ["$format=json"]
        if filter:
            params.append("$filter=" + quote(filter, safe="'()"))
        if select:
            params.append("$select=" + ",".join(select))
        return f"{self.base_url}/{table_id}/{entity}?" + "&".join(params)

    # --- HTTP ------------------------------------------------------------------------------
    def _get(self, client: httpx.Client, url: str) -> dict[str, Any]:
        last: str = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            self.requests += 1
            try:
                response = client.get(url, headers={"Accept": "application/json"})
            except httpx.ConnectError as exc:  # no network, DNS, refused: not transient
                raise SourceUnavailable(f"{_host(url)} niet bereikbaar; geen netwerk?") from exc
            except httpx.TransportError as exc:  # time-outs, dropped connections
                last = type(exc).__name__
                continue
            if response.status_code in _RETRY_STATUS:
                last = f"HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                raise SourceError(f"{_host(url)} antwoordde HTTP {response.status_code} op "
                                  f"{_short(url)}")
            try:
                body = response.json()
            except ValueError as exc:
                raise SourceError(f"{_host(url)} gaf geen JSON terug voor {_short(url)}"
                                  ) from exc
            if not isinstance(body, dict) or not isinstance(body.get("value"), list):
                raise SourceError(f"{_host(url)} gaf geen OData-lijst ('value') terug voor "
                                  f"{_short(url)}")
            return body
        raise SourceUnavailable(f"{_host(url)} gaf na {self.retries + 1} pogingen geen "
                                f"antwoord ({last})")

    def pages(self, url: str) -> Iterator[list[dict[str, Any]]]:
        """Every page of rows of ``url``, following next links."""
        seen: set[str] = set()
        with httpx.Client(timeout=self.timeout, follow_redirects=True) as client:
            while url:
                if url in seen:
                    raise SourceError(f"{_host(url)} verwijst in een kring naar dezelfde "
                                      "pagina")
                seen.add(url)
                body = self._get(client, url)
                yield body["value"]
                url = next_link(body) or ""

    # --- cached fetch ----------------------------------------------------------------------
    def _cache_file(self, table_id: str, entity: str, url: str, day: str) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256(url.encode()).hexdigest()[:12]
        return self.cache_dir / table_id / day / f"{entity}-{digest}.json"

    def _cached(self, table_id: str, entity: str, url: str) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256(url.encode()).hexdigest()[:12]
        found = sorted((self.cache_dir / table_id).glob(f"*/{entity}-{digest}.json"))
        return found[-1] if found else None  # ISO dates sort: the newest last

    def fetch(self, table_id: str, entity: str = "TypedDataSet", *,
              filter: str | None = None, select: tuple[str, ...] = (),
              refresh: bool = False) -> Answer:
        """All rows of ``entity`` of ``table_id`` (optionally filtered), from the cache when
        an earlier answer to the same query is there and ``refresh`` is false."""
        url = self.url(table_id, entity, filter=filter, select=select)
        cached = None if refresh else self._cached(table_id, entity, url)
        if cached is not None:
            doc = json.loads(cached.read_text(encoding="utf-8"))
            self.progress(f"{table_id}/{entity}: {len(doc['rows'])} rijen uit de cache "
                          f"(opgehaald {doc['retrieved_at'][:10]})")
            return Answer(table_id, entity, doc["url"],
                          datetime.fromisoformat(doc["retrieved_at"]), doc["rows"], True, cached)
        rows: list[dict[str, Any]] = []
        for i, page in enumerate(self.pages(url), start=1):
            rows.extend(page)
            self.progress(f"{table_id}/{entity}: pagina {i}, {len(rows)} rijen")
        now = self.clock().astimezone(UTC)
        path = self._cache_file(table_id, entity, url, now.date().isoformat())
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"table_id": table_id, "entity": entity, "url": url,
                                       "retrieved_at": now.isoformat(), "rows": rows},
                                      ensure_ascii=False), encoding="utf-8")
            tmp.replace(path)
        return Answer(table_id, entity, url, now, rows, False, path)


def _host(url: str) -> str:
    return httpx.URL(url).host or url


def _short(url: str) -> str:
    return url if len(url) <= 120 else url[:117] + "..."
