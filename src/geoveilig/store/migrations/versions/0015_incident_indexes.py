"""PostgreSQL/PostGIS: one time index instead of three secondary btrees on ``incidents``.

Before: ``(crime_type, occurred_at)``, ``(occurred_at)`` and ``(x, y)`` beside the primary key,
the unique ``incident_id`` and the GiST index on ``geom``. Every import maintains every index
row by row, and at national scale (8·10⁶ rows) that maintenance is most of the import time.
What the reads use (``EXPLAIN`` on a national database, ``benchmarks/bench_national.py``):

- bbox, polygon and tile queries: the GiST index on ``geom`` (``ST_Intersects``/``&&``); the
  ``(x, y)`` btree is used by nothing on PostGIS (it served the bbox of the old SQLite row
  table);
- ``min``/``max(occurred_at)`` (``Store.time_range``, asked by nearly every layer): a btree
  led by ``occurred_at`` (a BRIN index cannot answer it: that is a scan of the whole table);
- a period with or without crime types (layers, reports by area code): a range scan of
  ``(occurred_at, crime_type)``, the crime type tested inside the index, so rows of other
  types are not fetched from the heap.

So ``(occurred_at, crime_type)`` replaces ``(occurred_at)`` and ``(crime_type, occurred_at)``
and ``(x, y)`` goes: four indexes instead of six. SQLite has no ``incidents`` table since 0007
(its chunks carry zone maps): nothing changes there.

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
    op.execute("CREATE INDEX IF NOT EXISTS ix_incidents_occurred_at_crime_type "
               "ON incidents (occurred_at, crime_type)")
    op.execute("DROP INDEX IF EXISTS ix_incidents_crime_type_occurred_at")
    op.execute("DROP INDEX IF EXISTS ix_incidents_occurred_at")
    op.execute("DROP INDEX IF EXISTS ix_incidents_x_y")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE INDEX IF NOT EXISTS ix_incidents_crime_type_occurred_at "
               "ON incidents (crime_type, occurred_at)")
    op.execute("CREATE INDEX IF NOT EXISTS ix_incidents_occurred_at ON incidents (occurred_at)")
    op.execute("CREATE INDEX IF NOT EXISTS ix_incidents_x_y ON incidents (x, y)")
    op.execute("DROP INDEX IF EXISTS ix_incidents_occurred_at_crime_type")
