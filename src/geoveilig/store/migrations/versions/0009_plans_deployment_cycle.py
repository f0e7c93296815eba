"""The deployment cycle: stored plans (``plans``, ``plan_sites``) and deployments with a
status, a planned period and a link to a plan and its rank.

Existing deployments are records of real (or demo) placements: they become ``geplaatst``, or
``beëindigd`` when they have an end. ``start_at`` (the actual start) may now be empty: a
deployment that is only planned has a planned start instead.

Revision ID: 0009
Revises: 0007 (the lead chains 0008 of another branch in between at merge)
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("data_version", sa.Text),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("key_id", sa.String(32)),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("objective", sa.Float, nullable=False),
        sa.Column("objective_unit", sa.Text, nullable=False),
        sa.Column("bound", sa.Float),
        sa.Column("gap", sa.Float),
        sa.Column("proven", sa.Integer, nullable=False),
        sa.Column("solver", sa.String(64)),
        sa.Column("status", sa.Text),
        sa.Column("total_risk", sa.Float),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("notes", sa.Text, nullable=False),
    )
    op.create_index("ix_plans_kind_created_at", "plans", ["kind", "created_at"])
    op.create_table(
        "plan_sites",
        sa.Column("plan_id", sa.Integer, sa.ForeignKey("plans.id", ondelete="CASCADE",
                                                       name="fk_plan_sites_plan_id_plans"),
                  primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("x", sa.Float, nullable=False),
        sa.Column("y", sa.Float, nullable=False),
        sa.Column("expected_covered", sa.Float),
        sa.Column("properties", sa.Text, nullable=False),
    )
    with op.batch_alter_table("deployments") as batch:
        batch.alter_column("start_at", existing_type=sa.BigInteger, nullable=True)
        batch.add_column(sa.Column("status", sa.String(16), nullable=False,
                                   server_default="geplaatst"))
        batch.add_column(sa.Column("planned_start_at", sa.BigInteger))
        batch.add_column(sa.Column("planned_end_at", sa.BigInteger))
        batch.add_column(sa.Column("plan_id", sa.Integer))
        batch.add_column(sa.Column("plan_rank", sa.Integer))
        batch.add_column(sa.Column("updated_at", sa.BigInteger))
        batch.add_column(sa.Column("revision", sa.Integer, nullable=False, server_default="0"))
        batch.create_foreign_key("fk_deployments_plan_id_plans", "plans", ["plan_id"], ["id"])
    op.execute("UPDATE deployments SET status = 'beëindigd' WHERE end_at IS NOT NULL")
    op.execute("UPDATE deployments SET updated_at = created_at")
    op.create_index("ix_deployments_status", "deployments", ["status"])


def downgrade() -> None:
    op.drop_index("ix_deployments_status", table_name="deployments")
    # deployments that were only planned or cancelled have no place in the old registry
    op.execute("DELETE FROM deployments WHERE start_at IS NULL OR status = 'geannuleerd'")
    with op.batch_alter_table("deployments") as batch:
        batch.drop_constraint("fk_deployments_plan_id_plans", type_="foreignkey")
        for col in ("revision", "updated_at", "plan_rank", "plan_id", "planned_end_at",
                    "planned_start_at", "status"):
            batch.drop_column(col)
        batch.alter_column("start_at", existing_type=sa.BigInteger, nullable=False)
    op.drop_table("plan_sites")
    op.drop_index("ix_plans_kind_created_at", table_name="plans")
    op.drop_table("plans")
