"""Published figures beside incidents: police counts per area and month, CBS key figures per
area and year, Veiligheidsmonitor perception indicators (``geoveilig.store.counts``).

(0008 and 0009 are added on other branches; the lead chains this revision after them.)

Revision ID: 0010
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _common() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("table_id", sa.String(16), nullable=False),
        sa.Column("area_code", sa.String(10), nullable=False),
        sa.Column("area_level", sa.String(10), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
    ]


def _stamp() -> list[sa.Column]:
    return [
        sa.Column("retrieved_at", sa.BigInteger, nullable=False),
        sa.Column("synthetic", sa.Integer, nullable=False, server_default="0"),
    ]


def upgrade() -> None:
    op.create_table(
        "published_counts", *_common(),
        sa.Column("month", sa.Integer, nullable=False),
        sa.Column("crime_class", sa.String(16), nullable=False),
        sa.Column("crime_label", sa.Text, nullable=False),
        sa.Column("count", sa.Integer),
        *_stamp(),
        sa.UniqueConstraint("table_id", "area_code", "year", "month", "crime_class",
                            name="uq_published_counts_table_id_area_code_year_month_crime_class"),
    )
    op.create_table(
        "area_figures", *_common(),
        sa.Column("inhabitants", sa.Integer),
        sa.Column("dwellings", sa.Integer),
        sa.Column("land_area_ha", sa.Float),
        *_stamp(),
        sa.UniqueConstraint("table_id", "area_code", "year",
                            name="uq_area_figures_table_id_area_code_year"),
    )
    op.create_table(
        "perception", *_common(),
        sa.Column("indicator", sa.String(80), nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("unit", sa.String(40), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("lower", sa.Float),
        sa.Column("upper", sa.Float),
        *_stamp(),
        sa.UniqueConstraint("table_id", "area_code", "year", "indicator",
                            name="uq_perception_table_id_area_code_year_indicator"),
    )


def downgrade() -> None:
    op.drop_table("perception")
    op.drop_table("area_figures")
    op.drop_table("published_counts")
