"""API keys per gemeente: ``api_keys.gemeente`` holds the CBS codes a key is for
(comma-separated; NULL = every gemeente of the service, as before).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("gemeente", sa.String(256), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("gemeente")
