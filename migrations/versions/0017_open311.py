"""Open311 GeoReport v2: posting clients (API keys hashed at rest) and the reports each one posted

Revision ID: 0017_open311
Revises: 0016_agency
"""
from alembic import op
import sqlalchemy as sa


revision = '0017_open311'
down_revision = '0016_agency'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'open311_clients',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('contact', sa.String(length=200), nullable=False),
        sa.Column('key_hash', sa.String(length=64), nullable=True),
        sa.Column('key_hint', sa.String(length=24), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('requests_posted', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_open311_clients_created_by_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_open311_clients')),
        sa.UniqueConstraint('name', name=op.f('uq_open311_clients_name')),
        sa.UniqueConstraint('key_hash', name=op.f('uq_open311_clients_key_hash')),
    )
    op.create_table(
        'open311_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('incident_id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=True),
        sa.Column('device_id', sa.String(length=100), nullable=False),
        sa.Column('account_id', sa.String(length=100), nullable=False),
        sa.Column('media_url', sa.String(length=300), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_open311_requests_incident_id_incidents'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['client_id'], ['open311_clients.id'],
                                name=op.f('fk_open311_requests_client_id_open311_clients'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_open311_requests')),
        sa.UniqueConstraint('incident_id', name=op.f('uq_open311_requests_incident_id')),
    )
    with op.batch_alter_table('open311_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_open311_requests_client_id'), ['client_id'], unique=False)


def downgrade():
    with op.batch_alter_table('open311_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_open311_requests_client_id'))
    op.drop_table('open311_requests')
    op.drop_table('open311_clients')
