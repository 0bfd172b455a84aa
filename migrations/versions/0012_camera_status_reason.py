"""camera status: the reason behind it, and the database refuses unknown statuses and reasons

Revision ID: 0012_camera_status_reason
Revises: 0011_footage
"""
from alembic import op
import sqlalchemy as sa


revision = '0012_camera_status_reason'
down_revision = '0011_footage'
branch_labels = None
depends_on = None

# Frozen copies of contract.status as of this revision (a migration never follows later code).
STATUSES = ("online", "starting", "offline", "auth_failed", "unsupported", "error", "unknown")
REASONS = ("auth", "codec", "ended", "ffmpeg", "no_media", "no_video", "restart_budget", "source_refused",
           "stalled", "timeout", "unreachable")


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade():
    op.execute(f"UPDATE camera_status SET status = 'unknown' WHERE NOT ({_in('status', STATUSES)})")
    with op.batch_alter_table('camera_status', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=16), nullable=True))
        batch_op.create_check_constraint(op.f('ck_camera_status_status_known'), _in('status', STATUSES))
        batch_op.create_check_constraint(op.f('ck_camera_status_reason_known'), f"reason IS NULL OR {_in('reason', REASONS)}")


def downgrade():
    with op.batch_alter_table('camera_status', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_camera_status_reason_known'), type_='check')
        batch_op.drop_constraint(op.f('ck_camera_status_status_known'), type_='check')
        batch_op.drop_column('reason')
