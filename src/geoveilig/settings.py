"""Settings from the environment (prefix ``GEOVEILIG_``). Only the edges (CLI, API, notebooks)
read them; the core takes plain arguments."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: PDOK BRT-Achtergrondkaart, grey variant (WMTS tiles in Web Mercator), and its attribution
BASEMAP_URL = ("https://service.pdok.nl/brt/achtergrondkaart/wmts/v2_0/grijs/EPSG:3857/"
               "{z}/{x}/{y}.png")
BASEMAP_ATTRIBUTION = ('Kaartgegevens &copy; <a href="https://www.kadaster.nl">Kadaster</a> '
                       '(BRT-Achtergrondkaart, PDOK)')


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GEOVEILIG_", extra="ignore")

    #: Folder for the embedded SQLite store and caches.
    data_dir: Path = Field(default=Path("data"))
    #: Folder (or GeoPackage) with the CBS wijk/buurt/gemeente boundaries.
    geo_dir: Path = Field(default=Path("data/geo"))
    #: Overrides the embedded SQLite store, e.g. ``postgresql+psycopg://user@host/db``.
    database_url: str | None = None
    #: CBS gemeente code the service works on; several as a comma-separated list
    #: (``GM0794,GM0772``), or ``alle``/``*`` for every gemeente in ``geo_dir``
    #: (``areas.parse_gemeenten``). With several, layers take ``gemeente`` and reports,
    #: hotspots and planning require it (``geoveilig.scope``).
    gemeente: str = "GM0794"
    #: Boundary year fetched from PDOK when ``geo_dir`` holds no boundaries (``geoveilig demo``
    #: on a fresh clone, ``geoveilig areas fetch``).
    year: int = 2017
    #: Hotspot grid cell size in metres (125 m = the Dutch police's CAS grid).
    grid_size: float = 125.0
    #: Worker processes a backtest may use to score its origins (``geoveilig backtest`` and
    #: ``hotspots``; forked, same result as one process). Default 1: on a machine whose cores
    #: are busy the extra processes cost more than they save; 0 = one per available CPU.
    backtest_processes: int = Field(default=1, ge=0)
    #: Base URL of PDOK's CBS wijken-en-buurten WFS; ``{year}`` is filled in.
    #: Origins allowed by CORS for the HTTP API (no credentials are ever allowed).
    cors_origins: tuple[str, ...] = ("*",)
    pdok_url: str = "https://service.pdok.nl/cbs/wijkenbuurten/{year}/wfs/v1_0"

    #: Online base map tiles for the web map; empty = none (outlines only, e.g. offline).
    #: Default: PDOK's BRT-Achtergrondkaart, grey (the base map of Dutch government maps).
    basemap_url: str = BASEMAP_URL
    basemap_attribution: str = BASEMAP_ATTRIBUTION

    #: CBS OData feeds (``geoveilig cbs fetch``): StatLine (key figures, Veiligheidsmonitor)
    #: and the police's tables on dataderden. The ODataFeed paths page with ``nextLink``.
    cbs_url: str = "https://opendata.cbs.nl/ODataFeed/odata"
    police_url: str = "https://dataderden.cbs.nl/ODataFeed/odata"

    #: Abuse limits of the HTTP API (``geoveilig.api.ratelimit``, ``api.jobs``): request
    #: rates per client address and per API key (``limits`` syntax, empty = off), a stricter
    #: rate for the planning and analysis routes, the largest request body in bytes, how
    #: many jobs may be queued or running at once and how many of them per caller.
    #: Secret of the cell-key method for public counts (``geoveilig.disclosure``; at least 16
    #: characters). Unset: a random key in ``data_dir/disclosure.key``, made once. Give every
    #: server process of one deployment the same key.
    disclosure_key: str | None = None
    rate_limit: str = "100/second"
    rate_limit_heavy: str = "30/minute"
    max_body: int = 65_536
    job_queue: int = 16
    jobs_per_caller: int = 2
    #: Seconds a planning or analysis request waits for its job before answering 202.
    job_wait: float = 2.0
    #: Job threads in each API process. On PostgreSQL jobs are queued in the database and
    #: also run by ``geoveilig worker`` processes; 0 leaves them to those workers only.
    api_job_threads: int = 1
    #: Seconds a worker's claim on a job lasts without a heartbeat (``geoveilig worker``):
    #: after that, a job of a dead worker is run again (once), then failed.
    job_lease: float = 30.0

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'geoveilig.sqlite').resolve()}"


def get_settings() -> Settings:
    return Settings()
