"""media nodes: each worker's public media address (the sync's worker.media_url)

Revision ID: 0018_media_nodes
Revises: 0012_camera_status_reason
"""
from alembic import op
import sqlalchemy as sa


revision = '0018_media_nodes'
down_revision = '0017_open311'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('media_url', sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.drop_column('media_url')
