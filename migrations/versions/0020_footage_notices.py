"""footage notices: an outbox message may be a notice to a footage requester (approved, rejected, ready)

Revision ID: 0020_footage_notices
Revises: 0019_worker_left
"""
from alembic import op
import sqlalchemy as sa


revision = '0020_footage_notices'
down_revision = '0019_worker_left'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('footage_request_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_footage_request_id'), ['footage_request_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_outbox_footage_request_id_footage_requests'), 'footage_requests',
                                    ['footage_request_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbox_footage_request_id_footage_requests'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbox_footage_request_id'))
        batch_op.drop_column('footage_request_id')
