"""Notifications to people: incidents (kept so a restart resumes repeat and escalation), every
delivery attempt (URL with secrets masked), and the nonces of used acknowledge links (single use).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "notification_incidents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=True),
        sa.Column("opened_at", sa.Double(), nullable=False),
        sa.Column("closed_at", sa.Double(), nullable=True),
        sa.Column("acked_at", sa.Double(), nullable=True),
        sa.Column("acked_by", sa.String(length=128), nullable=True),
        sa.Column("acked_via", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_notification_incidents_closed_at", "notification_incidents", ["closed_at"])
    op.create_index("ix_notification_incidents_zone_opened_at", "notification_incidents", ["zone", "opened_at"])

    op.create_table(
        "notification_deliveries",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=True),
        sa.Column("route", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=512), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("ts", sa.Double(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_notification_deliveries_incident_ts", "notification_deliveries", ["incident_id", "ts"])
    op.create_index("ix_notification_deliveries_route_ts", "notification_deliveries", ["route", "ts"])
    op.create_index("ix_notification_deliveries_ts", "notification_deliveries", ["ts"])

    op.create_table(
        "notification_ack_nonces",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("nonce"),
    )


def downgrade() -> None:
    op.drop_table("notification_ack_nonces")
    op.drop_index("ix_notification_deliveries_ts", table_name="notification_deliveries")
    op.drop_index("ix_notification_deliveries_route_ts", table_name="notification_deliveries")
    op.drop_index("ix_notification_deliveries_incident_ts", table_name="notification_deliveries")
    op.drop_table("notification_deliveries")
    op.drop_index("ix_notification_incidents_zone_opened_at", table_name="notification_incidents")
    op.drop_index("ix_notification_incidents_closed_at", table_name="notification_incidents")
    op.drop_table("notification_incidents")
