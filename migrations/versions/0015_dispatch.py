"""dispatch delivery: agencies' CAP address and URL, outbox delivery ids and leases, SLA escalation contacts

Revision ID: 0015_dispatch
Revises: 0014_console
"""
from alembic import op
import sqlalchemy as sa


revision = '0015_dispatch'
down_revision = '0014_console'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('agencies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cap_url', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('cap_address', sa.String(length=200), nullable=False, server_default=''))
    with op.batch_alter_table('dispatches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalation_level', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_dispatches_sla_due_at'), ['sla_due_at'], unique=False)
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delivery_id', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('agency_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_outbox_delivery_id'), ['delivery_id'])
        batch_op.create_foreign_key(batch_op.f('fk_outbox_agency_id_agencies'), 'agencies', ['agency_id'], ['id'],
                                    ondelete='SET NULL')
    op.create_table('escalation_contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('level IN (1, 2)', name=op.f('ck_escalation_contacts_level')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escalation_contacts'))
    )
    with op.batch_alter_table('escalation_contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_escalation_contacts_category'), ['category'], unique=False)


def downgrade():
    with op.batch_alter_table('escalation_contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_escalation_contacts_category'))
    op.drop_table('escalation_contacts')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbox_agency_id_agencies'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_outbox_delivery_id'), type_='unique')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('agency_id')
        batch_op.drop_column('delivery_id')
    with op.batch_alter_table('dispatches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dispatches_sla_due_at'))
        batch_op.drop_column('escalated_at')
        batch_op.drop_column('escalation_level')
    with op.batch_alter_table('agencies', schema=None) as batch_op:
        batch_op.drop_column('cap_address')
        batch_op.drop_column('cap_url')
