"""Prevention registry: groups and their status history.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prevention_groups",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("group_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("label", sa.Text),
        sa.Column("team_id", sa.String(64), sa.ForeignKey(
            "prevention_groups.group_id", ondelete="SET NULL",
            name="fk_prevention_groups_team_id_prevention_groups")),
        sa.Column("area_kind", sa.String(16), nullable=False),
        sa.Column("buurten", sa.Text),
        sa.Column("geometry_wkb", sa.LargeBinary),
        sa.Column("postcodes", sa.Text),
        sa.Column("members", sa.Integer),
        sa.Column("synthetic", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("group_id", name="uq_prevention_groups_group_id"),
    )
    op.create_table(
        "prevention_status",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("group_id", sa.String(64), sa.ForeignKey(
            "prevention_groups.group_id", ondelete="CASCADE",
            name="fk_prevention_status_group_id_prevention_groups"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("since", sa.Date, nullable=False),
        sa.UniqueConstraint("group_id", "since", name="uq_prevention_status_group_id_since"),
    )
    op.create_index("ix_prevention_status_since", "prevention_status", ["since"])


def downgrade() -> None:
    op.drop_table("prevention_status")
    op.drop_table("prevention_groups")
