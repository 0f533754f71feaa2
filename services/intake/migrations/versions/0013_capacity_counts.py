"""Capacity counts from matching's ledger: pending Haven placements (by number), the last
placement number, the number staff's figure counts through, and the ledger's revision
(issue 22). `held` existed already; it is now written.

Revision ID: 0013
Revises: 0012
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('capacity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('counted_through', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('pending', sa.JSON(), nullable=False,
                                      server_default='[]'))
        batch_op.add_column(sa.Column('placements_through', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('ledger_revision', sa.Integer(), nullable=False,
                                      server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('capacity', schema=None) as batch_op:
        batch_op.drop_column('ledger_revision')
        batch_op.drop_column('placements_through')
        batch_op.drop_column('pending')
        batch_op.drop_column('counted_through')
