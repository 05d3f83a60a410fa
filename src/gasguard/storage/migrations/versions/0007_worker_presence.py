"""Worker presence: which zone workers are alive now, so that workers without ``--zones`` can share the
zones evenly (``gasguard.workers.balance``).

One row per running worker, renewed every second like a zone lease. ``expires_at`` is the database
server's clock (epoch seconds), the same clock the leases are judged by; a worker that dies simply
stops renewing and counts as gone once its row has expired, a worker that stops in order deletes its
row. ``balancing`` is false for a worker pinned to zones with ``--zones``: it does not take a share.

The zone leases alone cannot say this: a standby that owns no zone yet has no lease row, and it is
exactly the worker a busy worker should hand zones to.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_presence",
        sa.Column("worker", sa.String(length=128), nullable=False),
        sa.Column("balancing", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("worker"),
    )


def downgrade() -> None:
    op.drop_table("worker_presence")
