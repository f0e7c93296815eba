"""Backtest cache: a finished backtest per data version and parameters (``store.backtests``).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backtest_cache",
        sa.Column("cache_key", sa.String(64), primary_key=True),
        sa.Column("crime_type", sa.Text),
        sa.Column("end_at", sa.BigInteger),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("meta", sa.Text, nullable=False),
        sa.Column("scores", sa.LargeBinary, nullable=False),
        sa.Column("summary", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_backtest_cache_created_at", "backtest_cache", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_backtest_cache_created_at", table_name="backtest_cache")
    op.drop_table("backtest_cache")
