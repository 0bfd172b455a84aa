"""console: evidence saved to a 112 report (camera snapshots copied into the report's evidence store)

Revision ID: 0014_console
Revises: 0013_reports
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_console'
down_revision = '0013_reports'
branch_labels = None
depends_on = None

# Frozen copy of portal.models.evidence.EVIDENCE_KINDS as of this revision.
KINDS = ("snapshot",)


def upgrade():
    op.create_table('incident_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=True),
    sa.Column('camera_name', sa.String(length=200), nullable=False),
    sa.Column('path', sa.String(length=300), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('bytes', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('captured_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('saved_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in KINDS) + ")",
                       name=op.f('ck_incident_evidence_kind_known')),
    sa.CheckConstraint("length(sha256) = 64", name=op.f('ck_incident_evidence_sha256_length')),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_incident_evidence_camera_id_cameras'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_evidence_incident_id_incidents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['saved_by_id'], ['users.id'], name=op.f('fk_incident_evidence_saved_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_evidence'))
    )
    with op.batch_alter_table('incident_evidence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_evidence_incident_id'), ['incident_id'], unique=False)


def downgrade():
    with op.batch_alter_table('incident_evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_evidence_incident_id'))
    op.drop_table('incident_evidence')
