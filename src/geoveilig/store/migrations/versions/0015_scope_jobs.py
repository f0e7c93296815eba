"""Jobs per gemeente: ``jobs.gemeenten`` holds the CBS codes a job is about
(comma-separated; NULL = not known: such a job is found only by a key for every gemeente).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("gemeenten", sa.String(400), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("gemeenten")
