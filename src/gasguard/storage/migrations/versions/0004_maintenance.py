"""Maintenance records: calibrations and bump tests per channel, stroke tests per valve, proof tests
per zone (``gasguard.maintenance``). Each row is also an audit event; the rows are what due dates,
drift of the span response and the auditor's report are computed from.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _common(*extra: sa.Column[Any]) -> list[Any]:
    """The columns every record table has (id, ts, zone, note), around the kind's own."""
    return [
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ts", sa.Double(), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        *extra,
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    ]


def upgrade() -> None:
    op.create_table(
        "maintenance_calibrations",
        *_common(
            sa.Column("channel", sa.String(length=128), nullable=False),
            sa.Column("performed_by", sa.String(length=128), nullable=False),
            sa.Column("recorded_by", sa.String(length=128), nullable=False),
            sa.Column("gas", sa.String(length=64), nullable=False),
            sa.Column("concentration", sa.Double(), nullable=False),
            sa.Column("unit", sa.String(length=16), nullable=False),
            sa.Column("as_found_zero", sa.Double(), nullable=True),
            sa.Column("as_found_span", sa.Double(), nullable=True),
            sa.Column("as_left_zero", sa.Double(), nullable=False),
            sa.Column("as_left_span", sa.Double(), nullable=False),
            sa.Column("instrument", sa.String(length=128), nullable=False),
            sa.Column("as_found_passed", sa.Boolean(), nullable=True),
            sa.Column("passed", sa.Boolean(), nullable=False),
        ),
    )
    op.create_index("ix_maintenance_calibrations_channel_ts", "maintenance_calibrations", ["channel", "ts"])

    op.create_table(
        "maintenance_bump_tests",
        *_common(
            sa.Column("ended_at", sa.Double(), nullable=True),
            sa.Column("channel", sa.String(length=128), nullable=False),
            sa.Column("performed_by", sa.String(length=128), nullable=False),
            sa.Column("gas", sa.String(length=64), nullable=False),
            sa.Column("applied_lel_pct", sa.Double(), nullable=True),
            sa.Column("peak_lel_pct", sa.Double(), nullable=True),
            sa.Column("t50_s", sa.Double(), nullable=True),
            sa.Column("t90_s", sa.Double(), nullable=True),
            sa.Column("passed", sa.Boolean(), nullable=False),
            sa.Column("measured", sa.Boolean(), nullable=False),
            sa.Column("detail", sa.JSON(), nullable=False),
        ),
    )
    op.create_index("ix_maintenance_bump_tests_channel_ts", "maintenance_bump_tests", ["channel", "ts"])

    op.create_table(
        "maintenance_stroke_tests",
        *_common(
            sa.Column("valve", sa.String(length=128), nullable=False),
            sa.Column("performed_by", sa.String(length=128), nullable=False),
            sa.Column("travel_time_s", sa.Double(), nullable=False),
            sa.Column("close_s", sa.Double(), nullable=True),
            sa.Column("open_s", sa.Double(), nullable=True),
            sa.Column("passed", sa.Boolean(), nullable=False),
            sa.Column("measured", sa.Boolean(), nullable=False),
            sa.Column("detail", sa.JSON(), nullable=False),
        ),
    )
    op.create_index("ix_maintenance_stroke_tests_valve_ts", "maintenance_stroke_tests", ["valve", "ts"])

    op.create_table(
        "maintenance_proof_tests",
        *_common(
            sa.Column("channel", sa.String(length=128), nullable=True),
            sa.Column("performed_by", sa.String(length=128), nullable=False),
            sa.Column("gas", sa.String(length=64), nullable=False),
            sa.Column("alarm_s", sa.Double(), nullable=True),
            sa.Column("trip_s", sa.Double(), nullable=True),
            sa.Column("closed_s", sa.Double(), nullable=True),
            sa.Column("passed", sa.Boolean(), nullable=False),
            sa.Column("measured", sa.Boolean(), nullable=False),
            sa.Column("detail", sa.JSON(), nullable=False),
        ),
    )
    op.create_index("ix_maintenance_proof_tests_zone_ts", "maintenance_proof_tests", ["zone", "ts"])


def downgrade() -> None:
    op.drop_index("ix_maintenance_proof_tests_zone_ts", table_name="maintenance_proof_tests")
    op.drop_table("maintenance_proof_tests")
    op.drop_index("ix_maintenance_stroke_tests_valve_ts", table_name="maintenance_stroke_tests")
    op.drop_table("maintenance_stroke_tests")
    op.drop_index("ix_maintenance_bump_tests_channel_ts", table_name="maintenance_bump_tests")
    op.drop_table("maintenance_bump_tests")
    op.drop_index("ix_maintenance_calibrations_channel_ts", table_name="maintenance_calibrations")
    op.drop_table("maintenance_calibrations")
