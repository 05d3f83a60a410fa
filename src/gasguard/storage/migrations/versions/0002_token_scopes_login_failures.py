"""Device tokens bound to channels or zones; failed sign-ins kept in the database.

A device token may be limited to some channels or zones (``scope``: ``{"channels": [...], "zones":
[...]}``, null for an unbound token), so a stolen hob-sensor token cannot feed another zone. Failed
sign-ins are rows, so the lock-out survives a restart and is shared by every web process.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("scope", sa.JSON(), nullable=True))

    op.create_table(
        "login_failures",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("ts", sa.Double(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_failures_username_ts", "login_failures", ["username", "ts"])
    op.create_index("ix_login_failures_client_ts", "login_failures", ["client", "ts"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_client_ts", table_name="login_failures")
    op.drop_index("ix_login_failures_username_ts", table_name="login_failures")
    op.drop_table("login_failures")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("scope")
