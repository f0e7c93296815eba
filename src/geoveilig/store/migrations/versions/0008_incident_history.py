"""Corrections over time: ``incident_history`` keeps every replaced or withdrawn version.

``geoveilig import --update`` replaces the stored version of an incident that the police
re-classified or relocated (or withdraws it); the version it replaces is written here first,
with who made the change, when, in which import batch, and what changed (JSON
``{field: [old, new]}``). The incident tables keep only the current version, so every query,
report and hotspot uses it; backups copy this table like any other.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("changed_at", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey(
            "import_batches.id", name="fk_incident_history_batch_id_import_batches"),
            nullable=False),
        sa.Column("changes", sa.Text, nullable=False),
        sa.Column("crime_type", sa.String(40), nullable=False),
        sa.Column("occurred_at", sa.BigInteger, nullable=False),
        sa.Column("occurred_from", sa.BigInteger),
        sa.Column("occurred_to", sa.BigInteger),
        sa.Column("x", sa.Float, nullable=False),
        sa.Column("y", sa.Float, nullable=False),
        sa.Column("buurt_code", sa.String(10)),
        sa.Column("wijk_code", sa.String(8)),
        sa.Column("address", sa.Text),
        sa.Column("content_hash", sa.BigInteger, nullable=False),
        sa.Column("previous_batch_id", sa.Integer, nullable=False),
    )
    op.create_index("ix_incident_history_incident_id", "incident_history", ["incident_id"])


def downgrade() -> None:
    op.drop_index("ix_incident_history_incident_id", table_name="incident_history")
    op.drop_table("incident_history")
