"""Incidents, import batches and the audit log.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_batches",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("imported_at", sa.BigInteger, nullable=False),
        sa.Column("source_name", sa.Text, nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("n_rows", sa.Integer, nullable=False),
        sa.Column("accepted", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.Column("already_present", sa.Integer, nullable=False),
        sa.Column("synthetic", sa.Integer, nullable=False),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.String(64), nullable=False),
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
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("import_batches.id",
                  name="fk_incidents_batch_id_import_batches"), nullable=False),
        sa.UniqueConstraint("incident_id", name="uq_incidents_incident_id"),
    )
    op.create_index("ix_incidents_crime_type_occurred_at", "incidents",
                    ["crime_type", "occurred_at"])
    op.create_index("ix_incidents_occurred_at", "incidents", ["occurred_at"])
    op.create_index("ix_incidents_buurt_code", "incidents", ["buurt_code"])
    op.create_index("ix_incidents_x_y", "incidents", ["x", "y"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(128)),
        sa.Column("detail", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("incidents")
    op.drop_table("import_batches")
