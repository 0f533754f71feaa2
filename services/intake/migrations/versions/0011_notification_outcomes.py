"""Notification outcomes: what the notifier reported per notification, for the watch that
nothing is stuck silently (ids and codes only).

Revision ID: 0011
Revises: 0010
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notificationoutcome',
    sa.Column('notification_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('referral_id', sa.Uuid(), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('notification_id')
    )
    with op.batch_alter_table('notificationoutcome', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notificationoutcome_referral_id'), ['referral_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notificationoutcome', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notificationoutcome_referral_id'))

    op.drop_table('notificationoutcome')
