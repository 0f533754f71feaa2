"""Consent records keep their terms sealed; idempotency keys are kept as digests only.

The plaintext `consentrecord.terms` column is dropped, not converted: a migration
has no key-encryption key to seal with, and the terms in force stay sealed on the
referral (`referral.sealed_contact_terms`, 0007). Stored Idempotency-Keys are
replaced by the digest that handlers.idempotency_digest computes, so retries of
requests made before the upgrade are still recognized.

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('consentrecord', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed_terms', sa.LargeBinary(), nullable=True))
        batch_op.drop_column('terms')
    table = sa.table('idempotencyrecord', sa.column('id', sa.Integer),
                     sa.column('key', sa.String))
    connection = op.get_bind()
    for row_id, key in connection.execute(sa.select(table.c.id, table.c.key)).all():
        digest = hashlib.sha256(b"haven-idempotency|" + key.encode()).hexdigest()
        connection.execute(table.update().where(table.c.id == row_id).values(key=digest))


def downgrade() -> None:
    with op.batch_alter_table('consentrecord', schema=None) as batch_op:
        batch_op.add_column(sa.Column('terms', sa.JSON(), nullable=True))
        batch_op.drop_column('sealed_terms')
