"""Deployments registry: mobile alarm systems, cameras, BuurtTent visits.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("x", sa.Float, nullable=False),
        sa.Column("y", sa.Float, nullable=False),
        sa.Column("radius_m", sa.Float),
        sa.Column("area_wkt", sa.Text),
        sa.Column("buurt_code", sa.String(10)),
        sa.Column("wijk_code", sa.String(8)),
        sa.Column("start_at", sa.BigInteger, nullable=False),
        sa.Column("end_at", sa.BigInteger),
        sa.Column("units", sa.Integer, nullable=False),
        sa.Column("approximate", sa.Integer, nullable=False),
        sa.Column("synthetic", sa.Integer, nullable=False),
        sa.Column("source", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_deployments_kind_start_at", "deployments", ["kind", "start_at"])


def downgrade() -> None:
    op.drop_index("ix_deployments_kind_start_at", table_name="deployments")
    op.drop_table("deployments")
