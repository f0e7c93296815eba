"""Near-repeat alerts: the outbox (``alerts``) and its delivery log (``alert_deliveries``).

Revision ID: 0011
Revises: 0007 (issues 16/19 add 0008-0010 on other branches; the merge chains them)
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alert_key", sa.String(64), nullable=False),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey(
            "import_batches.id", name="fk_alerts_batch_id_import_batches")),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("crime_type", sa.String(40), nullable=False),
        sa.Column("valid_from", sa.BigInteger, nullable=False),
        sa.Column("valid_until", sa.BigInteger, nullable=False),
        sa.Column("distance_m", sa.Float, nullable=False),
        sa.Column("days", sa.Float, nullable=False),
        sa.Column("extent_source", sa.String(16), nullable=False),
        sa.Column("n_incidents", sa.Integer, nullable=False),
        sa.Column("cells", sa.Text, nullable=False),
        sa.Column("zone_wkt", sa.Text, nullable=False),
        sa.Column("buurten", sa.Text),
        sa.Column("wijken", sa.Text),
        sa.Column("group_ids", sa.Text),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.UniqueConstraint("alert_key", name="uq_alerts_alert_key"),
    )
    op.create_index("ix_alerts_valid_until", "alerts", ["valid_until"])
    op.create_index("ix_alerts_status", "alerts", ["status"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey(
            "alerts.id", ondelete="CASCADE", name="fk_alert_deliveries_alert_id_alerts"),
            nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("ok", sa.Integer, nullable=False),
        sa.Column("http_status", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
    )
    op.create_index("ix_alert_deliveries_alert_id", "alert_deliveries", ["alert_id"])


def downgrade() -> None:
    op.drop_index("ix_alert_deliveries_alert_id", table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
    op.drop_index("ix_alerts_status", table_name="alerts")
    op.drop_index("ix_alerts_valid_until", table_name="alerts")
    op.drop_table("alerts")
