"""The in-app inbox: messages the notifier posts for an organization (no personal data).

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inboxmessage',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('notification_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('referral_id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('body', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
    sa.Column('posted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('read_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('notification_id')
    )
    with op.batch_alter_table('inboxmessage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inboxmessage_organization_id'), ['organization_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_inboxmessage_posted_at'), ['posted_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_inboxmessage_referral_id'), ['referral_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inboxmessage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inboxmessage_referral_id'))
        batch_op.drop_index(batch_op.f('ix_inboxmessage_posted_at'))
        batch_op.drop_index(batch_op.f('ix_inboxmessage_organization_id'))

    op.drop_table('inboxmessage')
