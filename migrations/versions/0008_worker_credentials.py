"""each worker its own credential (stored hashed, revocable)

Revision ID: 0008_worker_credentials
Revises: 0002_worker_health
Create Date: 2026-11-23 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_worker_credentials'
down_revision = '0002_worker_health'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('credential_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('credential_issued_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint('uq_workers_credential_hash', ['credential_hash'])


def downgrade():
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.drop_constraint('uq_workers_credential_hash', type_='unique')
        batch_op.drop_column('revoked_at')
        batch_op.drop_column('credential_issued_at')
        batch_op.drop_column('credential_hash')
