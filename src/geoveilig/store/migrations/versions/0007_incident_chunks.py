"""SQLite: incidents as compressed Arrow column chunks with zone maps (``incident_chunks``).

The embedded store keeps its incidents in time-sorted chunks of up to 65,536 rows (see
``geoveilig.store.chunks``): writing a million incidents takes about a second instead of the
twelve that the row table with its four indexes cost, and period queries read faster. The
existing rows are moved into chunks, ids and batches kept; the ``incidents`` table is dropped.
Downgrading writes the rows back into the row table of revision 0006.

PostgreSQL/PostGIS is not changed: it keeps the row table with its GiST index.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from geoveilig.store import chunks

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    op.create_table(
        chunks.TABLE,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("n_rows", sa.Integer, nullable=False),
        sa.Column("id_min", sa.BigInteger, nullable=False),
        sa.Column("id_max", sa.BigInteger, nullable=False),
        sa.Column("t_min", sa.BigInteger, nullable=False),
        sa.Column("t_max", sa.BigInteger, nullable=False),
        sa.Column("x_min", sa.Float, nullable=False),
        sa.Column("y_min", sa.Float, nullable=False),
        sa.Column("x_max", sa.Float, nullable=False),
        sa.Column("y_max", sa.Float, nullable=False),
        sa.Column("crime_types", sa.Text, nullable=False),
        sa.Column("wijk_codes", sa.Text, nullable=False),
        sa.Column("buurt_codes", sa.Text, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    names = ", ".join(chunks.COLUMNS)
    rows = bind.execute(sa.text(f"SELECT {names} FROM incidents ORDER BY id")).all()
    if rows:
        chunks.write_rows(bind, {c: [r[i] for r in rows] for i, c in enumerate(chunks.COLUMNS)})
    op.drop_table("incidents")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
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
        sa.Column("batch_id", sa.Integer, sa.ForeignKey(
            "import_batches.id", name="fk_incidents_batch_id_import_batches"), nullable=False),
        sa.UniqueConstraint("incident_id", name="uq_incidents_incident_id"),
    )
    op.create_index("ix_incidents_crime_type_occurred_at", "incidents",
                    ["crime_type", "occurred_at"])
    op.create_index("ix_incidents_occurred_at", "incidents", ["occurred_at"])
    op.create_index("ix_incidents_x_y", "incidents", ["x", "y"])
    rows = chunks.read_all(bind)
    if rows["id"]:
        n = len(rows["id"])
        bind.execute(sa.text(
            f"INSERT INTO incidents ({', '.join(chunks.COLUMNS)}) VALUES "
            f"({', '.join(':' + c for c in chunks.COLUMNS)})"),
            [{c: rows[c][i] for c in chunks.COLUMNS} for i in range(n)])
    op.drop_table(chunks.TABLE)
