"""workers that leave: left_at (a sync with worker.leaving: a stopped worker, or a killed one's farewell), and
lease_releases (which worker held which camera when, so the footage it hands over after a move is indexed)

Revision ID: 0019_worker_left
Revises: 0018_media_nodes
"""
from alembic import op
import sqlalchemy as sa


revision = '0019_worker_left'
down_revision = '0018_media_nodes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('left_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'lease_releases',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('camera_id', sa.Integer(), nullable=False),
        sa.Column('worker_id', sa.Integer(), nullable=False),
        sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('released_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_lease_releases_worker_camera', 'lease_releases', ['worker_id', 'camera_id'])
    op.create_index('ix_lease_releases_released_at', 'lease_releases', ['released_at'])


def downgrade():
    op.drop_index('ix_lease_releases_released_at', table_name='lease_releases')
    op.drop_index('ix_lease_releases_worker_camera', table_name='lease_releases')
    op.drop_table('lease_releases')
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.drop_column('left_at')
