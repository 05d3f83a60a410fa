"""Zone leases: which worker owns which zone's safety state, until when (``gasguard.workers.lease``).

One row per zone. ``expires_at`` is the database server's clock (epoch seconds), so workers on
machines whose clocks disagree still agree on who owns a zone; ``token`` grows with every new owner
and fences the owner's writes (a safety snapshot is only stored while the writer's token is current).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "zone_leases",
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("acquired_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("zone"),
    )


def downgrade() -> None:
    op.drop_table("zone_leases")
