"""reports from the public: photos, where each came from (flags), the operators' blocklist

Revision ID: 0013_reports
Revises: 0012_camera_status_reason
"""
from alembic import op
import sqlalchemy as sa



revision = '0013_reports'
down_revision = '0012_camera_status_reason'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('bytes', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_report_photos_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_photos')),
    sa.UniqueConstraint('key', name=op.f('uq_report_photos_key'))
    )
    op.create_index(op.f('ix_report_photos_incident_id'), 'report_photos', ['incident_id'], unique=False)
    op.create_table('report_origins',
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=False),
    sa.Column('client_ref', sa.String(length=40), nullable=False),
    sa.Column('suspicious', sa.Boolean(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_report_origins_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('incident_id', name=op.f('pk_report_origins'))
    )
    op.create_index(op.f('ix_report_origins_remote_addr'), 'report_origins', ['remote_addr'], unique=False)
    op.create_index(op.f('ix_report_origins_phone'), 'report_origins', ['phone'], unique=False)
    op.create_index(op.f('ix_report_origins_client_ref'), 'report_origins', ['client_ref'], unique=False)
    op.create_index(op.f('ix_report_origins_suspicious'), 'report_origins', ['suspicious'], unique=False)
    op.create_index(op.f('ix_report_origins_created_at'), 'report_origins', ['created_at'], unique=False)
    op.create_table('report_blocks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('phone', 'address')", name=op.f('ck_report_blocks_kind')),
    sa.CheckConstraint("action IN ('refuse', 'flag')", name=op.f('ck_report_blocks_action')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_report_blocks_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_blocks'))
    )
    op.create_index(op.f('ix_report_blocks_value'), 'report_blocks', ['value'], unique=False)
    op.create_index(op.f('ix_report_blocks_active'), 'report_blocks', ['active'], unique=False)


def downgrade():
    op.drop_table('report_blocks')
    op.drop_table('report_origins')
    op.drop_table('report_photos')
