"""Server-side session revocation: ended sessions, and a per-user version of all sessions.

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('revokedsession',
    sa.Column('session_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('session_id')
    )
    with op.batch_alter_table('revokedsession', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revokedsession_expires_at'), ['expires_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_revokedsession_user_id'), ['user_id'],
                              unique=False)
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), nullable=False,
                                      server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('session_version')
    with op.batch_alter_table('revokedsession', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revokedsession_user_id'))
        batch_op.drop_index(batch_op.f('ix_revokedsession_expires_at'))
    op.drop_table('revokedsession')
