"""PostgreSQL/PostGIS: fewer, cheaper indexes on ``incidents`` for national imports.

Before: ``(crime_type, occurred_at)``, ``(occurred_at)`` and ``(x, y)`` btrees beside the
primary key, the unique ``incident_id`` and the GiST index on ``geom``. Every import maintains
every index row by row, and at national scale (8·10⁶ rows) that maintenance is most of the
import time. What the reads use (``EXPLAIN`` on a national database of 2·10⁶ rows):

- bbox, polygon and tile queries: the GiST index on ``geom`` (``ST_Intersects``/``&&``); the
  ``(x, y)`` btree is used by nothing on PostGIS (it served the bbox of the old SQLite row
  table): dropped;
- a period with crime types (hotspots, layers): ``(crime_type, occurred_at)``, kept: led by
  the type it reads 5-20 times fewer index entries than a time-led index would;
- a period without crime types: ``occurred_at`` becomes a BRIN index (block ranges with their
  min/max time: a few pages instead of a btree of 170 MB, next to free to maintain; the rows
  of an import are stored in the order of the file, usually time, so the ranges stay narrow);
- ``min``/``max(occurred_at)`` (``Store.time_range``): per crime type on
  ``(crime_type, occurred_at)`` (``RowBackend.time_range``), which a BRIN index cannot answer.

SQLite has no ``incidents`` table since 0007 (its chunks carry zone maps): nothing changes.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_incidents_x_y")
    op.execute("DROP INDEX IF EXISTS ix_incidents_occurred_at")
    op.execute("CREATE INDEX ix_incidents_occurred_at ON incidents USING brin (occurred_at)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_incidents_occurred_at")
    op.execute("CREATE INDEX ix_incidents_occurred_at ON incidents (occurred_at)")
    op.execute("CREATE INDEX ix_incidents_x_y ON incidents (x, y)")
