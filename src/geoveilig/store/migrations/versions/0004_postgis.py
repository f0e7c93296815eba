"""PostGIS geometry columns (PostgreSQL only; SQLite keeps x/y and WKB).

``incidents.geom`` (Point, EPSG:28992) and ``prevention_groups.geom`` (EPSG:28992) are
generated columns computed by the database from ``x``/``y`` and ``geometry_wkb``, so every
insert path (executemany, COPY, restore) maintains them; both carry a GiST index.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SRID = 28992


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    has_postgis = bind.execute(sa.text(
        "SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")).scalar_one()
    if not has_postgis:
        # needs the right to create extensions; a DBA can run it once beforehand instead
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute(
        "ALTER TABLE incidents ADD COLUMN geom geometry(Point, 28992) GENERATED ALWAYS AS "
        f"(ST_SetSRID(ST_MakePoint(x, y), {SRID})) STORED")
    op.execute("CREATE INDEX ix_incidents_geom ON incidents USING GIST (geom)")
    op.execute(
        "ALTER TABLE prevention_groups ADD COLUMN geom geometry(Geometry, 28992) GENERATED "
        f"ALWAYS AS (ST_SetSRID(ST_GeomFromWKB(geometry_wkb), {SRID})) STORED")
    op.execute("CREATE INDEX ix_prevention_groups_geom ON prevention_groups USING GIST (geom)")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_prevention_groups_geom")
    op.execute("ALTER TABLE prevention_groups DROP COLUMN IF EXISTS geom")
    op.execute("DROP INDEX IF EXISTS ix_incidents_geom")
    op.execute("ALTER TABLE incidents DROP COLUMN IF EXISTS geom")
