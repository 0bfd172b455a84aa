"""agencies' own systems: API tokens (hash only) and their callbacks (idempotent by request id)

Revision ID: 0016_agency
Revises: 0015_dispatch
"""
from alembic import op
import sqlalchemy as sa


revision = '0016_agency'
down_revision = '0015_dispatch'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'agency_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('hint', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_agency_tokens_agency_id_agencies'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_agency_tokens_created_by_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_tokens')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_agency_tokens_token_hash')),
    )
    with op.batch_alter_table('agency_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agency_tokens_agency_id'), ['agency_id'], unique=False)
    op.create_table(
        'agency_callbacks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.String(length=100), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('dispatch_id', sa.Integer(), nullable=True),
        sa.Column('http_status', sa.Integer(), nullable=False),
        sa.Column('response', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_agency_callbacks_agency_id_agencies'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['dispatch_id'], ['dispatches.id'],
                                name=op.f('fk_agency_callbacks_dispatch_id_dispatches'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_callbacks')),
        sa.UniqueConstraint('agency_id', 'request_id', name='uq_agency_callbacks_request'),
    )
    with op.batch_alter_table('agency_callbacks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agency_callbacks_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('agency_callbacks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agency_callbacks_created_at'))
    op.drop_table('agency_callbacks')
    with op.batch_alter_table('agency_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agency_tokens_agency_id'))
    op.drop_table('agency_tokens')
