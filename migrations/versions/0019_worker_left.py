"""workers that said goodbye: left_at, set by a sync with worker.leaving (a stopped or killed worker's farewell)

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
        batch_op.add_column(sa.Column('left_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.drop_column('left_at')
