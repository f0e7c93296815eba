"""Drop ``ix_incidents_buurt_code``: no query of the store used it.

The area filter is ``wijk_code IN (...) OR buurt_code IN (...)``; with one side unindexed
SQLite (and PostgreSQL) plan it as a scan along ``occurred_at`` (``EXPLAIN QUERY PLAN``:
``SCAN incidents USING INDEX ix_incidents_occurred_at``), so the index only cost time on every
import (about 1 s per 10⁶ rows to rebuild) and space.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_incidents_buurt_code", table_name="incidents")


def downgrade() -> None:
    op.create_index("ix_incidents_buurt_code", "incidents", ["buurt_code"])
