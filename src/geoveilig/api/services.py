"""What the app holds for its lifetime, typed and in one place: built in the lifespan
(``open_services``), closed when it ends, read by routes and middleware through
``services(request)`` (or the ``Services`` dependency) instead of loose ``app.state``
attributes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from starlette.types import Scope

if TYPE_CHECKING:
    from ..areas import Areas
    from ..disclosure import Policy
    from ..hotspots import Grid
    from ..jobs import JobEnv, JobQueue
    from ..layers import LayerContext
    from ..settings import Settings
    from ..store import Store
    from .auth import AuditWriter, Caller
    from .features import LayerCache, ResponseCache
    from .tiles import _Sources


@dataclass
class AppServices:
    """The app's long-lived parts. Tests may change ``version_ttl``/``key_ttl``."""

    settings: Settings
    areas: Areas
    store: Store
    #: the deployment's disclosure control (``disclosure.policy_for``)
    disclosure: Policy
    #: the hotspot grid of ``areas`` with ``settings.grid_size`` (GEOVEILIG_GRID_SIZE)
    grid: Grid
    layer_cache: LayerCache
    #: finished pages of features (``CachedItems``)
    response_cache: ResponseCache
    #: finished vector tiles (``CachedTiles``), apart so that a map's tiles do not push
    #: the pages out
    tile_cache: ResponseCache
    tile_sources: _Sources
    #: the job queue (``jobs.LocalQueue`` on SQLite, ``jobs.StoreQueue`` on PostgreSQL)
    jobs: JobQueue
    audit_writer: AuditWriter
    #: small computed documents: the OpenAPI per role, extents, collection time ranges
    ogc_cache: dict[Any, Any] = field(default_factory=dict)
    #: sha256(API key) -> (verified at, caller, a re-check is under way)
    key_cache: dict[bytes, tuple[float, Caller, bool]] = field(default_factory=dict)
    key_ttl: float = 1.0
    #: how long a read of the data versions is reused (seconds)
    version_ttl: float = 1.0
    #: (read at, versions) of the last read (``ogc.store_versions``)
    version_cache: tuple[float, Any] | None = None

    def context(self, requester: Any = None) -> LayerContext:
        """What layer builders and planners get (areas, store, disclosure, grid)."""
        from ..layers import LayerContext

        return LayerContext(areas=self.areas, store=self.store, requester=requester,
                            disclosure=self.disclosure, grid=self.grid)

    def job_env(self, store: Any = None) -> JobEnv:
        """What a job computes with in this process (``jobs.JobEnv``): the same areas, grid
        and disclosure control as the routes."""
        from ..jobs import JobEnv

        return JobEnv(self.areas, self.store if store is None else store, self.grid,
                      self.disclosure)

    def data_changed(self) -> None:
        """This worker sees its own change at once (other workers within ``version_ttl``)."""
        self.version_cache = None

    def close(self) -> None:
        self.jobs.shutdown()
        self.audit_writer.close()
        self.store.close()


def open_services(settings: Settings) -> AppServices:
    """Load the boundaries, open the store, make the grid and the caches (the lifespan)."""
    from .. import disclosure
    from ..areacache import load_cached
    from ..jobs import JobEnv
    from ..layers import hotspot_grid
    from ..store import Store
    from . import features as ft
    from .auth import KEY_TTL, AuditWriter
    from .jobs import make_queue
    from .tiles import _Sources

    areas = load_cached(settings.geo_dir, settings.gemeente, settings.data_dir / "cache")
    store = Store(settings.resolved_database_url())
    policy = disclosure.policy_for(settings.disclosure_key, settings.data_dir / "disclosure.key")
    grid = hotspot_grid(areas, settings.grid_size)
    return AppServices(
        settings=settings, areas=areas, store=store, disclosure=policy, grid=grid,
        layer_cache=ft.LayerCache(), response_cache=ft.ResponseCache(),
        tile_cache=ft.ResponseCache(size=8192, max_bytes=128 * 2**20),
        tile_sources=_Sources(),
        jobs=make_queue(settings, JobEnv(areas, store, grid, policy)),
        audit_writer=AuditWriter(store), key_ttl=KEY_TTL)


def services(request: Request) -> AppServices:
    """The app's services (the dependency behind ``Services``)."""
    return request.app.state.services


def services_of(scope: Scope) -> AppServices:
    """The services from an ASGI scope (pure ASGI middleware)."""
    return scope["app"].state.services


#: a route parameter ``svc: Services`` gets the app's services
Services = Annotated[AppServices, Depends(services)]
