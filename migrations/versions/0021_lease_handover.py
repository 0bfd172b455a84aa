"""warm handovers: a lease being handed to another worker (handover_since) and the worker starting the camera
beside its holder (successor_id) until it is live there (portal/workers/leases.py)

Revision ID: 0021_lease_handover
Revises: 0020_footage_notices
"""
from alembic import op
import sqlalchemy as sa


revision = '0021_lease_handover'
down_revision = '0020_footage_notices'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('camera_leases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('successor_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('handover_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_camera_leases_successor_id'), ['successor_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_camera_leases_successor_id_workers'), 'workers',
                                    ['successor_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('camera_leases', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_camera_leases_successor_id_workers'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_camera_leases_successor_id'))
        batch_op.drop_column('handover_since')
        batch_op.drop_column('successor_id')
