"""cameras from the console: archive instead of delete (holds and the recordings index survive), the owner
agency's permission to show a camera publicly, camera groups for video walls, and a camera's recent history

Revision ID: 0009b_camera_admin
Revises: 0009_accounts_audit
Create Date: 2026-11-23 12:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0009b_camera_admin'
down_revision = '0009_accounts_audit'
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def _camera_fk(table: str, ondelete: str) -> None:
    name = f'fk_{table}_camera_id_cameras'
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(name, type_='foreignkey')
        batch_op.create_foreign_key(name, 'cameras', ['camera_id'], ['id'], ondelete=ondelete)


def upgrade():
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_allows_public', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_cameras_archived_at'), ['archived_at'], unique=False)

    # a camera with legal holds or indexed recordings can no longer be deleted by accident (it is archived)
    _camera_fk('legal_holds', 'RESTRICT')
    _camera_fk('recording_segments', 'RESTRICT')

    op.create_table('camera_events',
        sa.Column('id', BIGINT, nullable=False),
        sa.Column('camera_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=True),
        sa.Column('detail', sa.Text(), nullable=True),
        sa.Column('worker_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_camera_events_camera_id_cameras'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], name=op.f('fk_camera_events_worker_id_workers'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_camera_events')),
        sa.CheckConstraint("kind IN ('down', 'up', 'restart', 'error')", name=op.f('ck_camera_events_kind')),
    )
    with op.batch_alter_table('camera_events', schema=None) as batch_op:
        batch_op.create_index('ix_camera_events_camera_at', ['camera_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_camera_events_at'), ['at'], unique=False)

    op.create_table('camera_groups',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_camera_groups')),
        sa.UniqueConstraint('name', name=op.f('uq_camera_groups_name')),
    )
    op.create_table('camera_group_members',
        sa.Column('group_id', sa.Integer(), nullable=False),
        sa.Column('camera_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'],
                                name=op.f('fk_camera_group_members_camera_id_cameras'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['group_id'], ['camera_groups.id'],
                                name=op.f('fk_camera_group_members_group_id_camera_groups'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('group_id', 'camera_id', name=op.f('pk_camera_group_members')),
    )


def downgrade():
    op.drop_table('camera_group_members')
    op.drop_table('camera_groups')
    with op.batch_alter_table('camera_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_camera_events_at'))
        batch_op.drop_index('ix_camera_events_camera_at')
    op.drop_table('camera_events')
    _camera_fk('recording_segments', 'CASCADE')
    _camera_fk('legal_holds', 'CASCADE')
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cameras_archived_at'))
        batch_op.drop_column('archived_at')
        batch_op.drop_column('owner_allows_public')
