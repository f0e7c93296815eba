"""Per gemeente: ``jobs.gemeenten`` holds the CBS codes a job is about (comma-separated;
NULL = not known: such a job is found only by a key for every gemeente); and the published
figures (``published_counts``, ``area_figures``, ``perception``) get an index on the gemeente
number inside their area code (``substr(area_code, 3, 4)``, the expression
``store.counts.gemeente_filter`` queries), so a gemeente's rows are read without scanning
every gemeente's.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

TABLES = ("published_counts", "area_figures", "perception")


def upgrade() -> None:
    op.add_column("jobs", sa.Column("gemeenten", sa.String(400), nullable=True))
    for table in TABLES:
        op.create_index(f"ix_{table}_gemeente", table, [sa.text("substr(area_code, 3, 4)")])


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_gemeente", table_name=table)
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("gemeenten")
