"""accounts (second factor, recovery codes, session version, leadership role) and the hash-chained audit log

Revision ID: 0009_accounts_audit
Revises: 0008_worker_credentials
Create Date: 2026-11-23 09:00:00

The audit log becomes append-only at the database: triggers refuse UPDATE and DELETE (and TRUNCATE on
PostgreSQL). Entries written before this migration are chained here, in id order.
"""
import datetime as dt
import hashlib
import json

from alembic import op
import sqlalchemy as sa


revision = '0009_accounts_audit'
down_revision = '0008_worker_credentials'
branch_labels = None
depends_on = None

ROLES = ("admin", "operator", "agency", "police", "leadership")
OLD_ROLES = ("admin", "operator", "agency", "police")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION pantau_audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql
"""
PG_TRIGGERS = (
    "CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION pantau_audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION pantau_audit_log_append_only()",
)
SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END",
)


def _hash(seq, prev, at, actor_user_id, actor, action, target_type, target_id, detail, ip):
    """A frozen copy of portal.models.audit.entry_hash as it was when this migration was written."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    when = at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")
    detail = json.loads(json.dumps(detail or {}, default=str))
    body = [seq, prev, when, actor_user_id, actor, action, target_type or "", target_id, detail, ip]
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def upgrade():
    bind = op.get_bind()
    dialect = bind.dialect.name

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('session_version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('totp_enabled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))
        batch_op.create_check_constraint('role', f"role IN {ROLES!r}")

    op.create_table('recovery_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_recovery_codes_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes')),
    )
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_codes_user_id'), ['user_id'], unique=False)

    head = op.create_table('audit_head',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head')),
    )

    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))

    # chain what was written before
    log = sa.table('audit_log', sa.column('id'), sa.column('seq'), sa.column('at', sa.DateTime(timezone=True)),
                   sa.column('actor_user_id'), sa.column('actor'), sa.column('action'), sa.column('target_type'),
                   sa.column('target_id'), sa.column('detail', sa.JSON()), sa.column('ip'),
                   sa.column('prev_hash'), sa.column('hash'))
    rows = bind.execute(sa.select(log.c.id, log.c.at, log.c.actor_user_id, log.c.actor, log.c.action,
                                  log.c.target_type, log.c.target_id, log.c.detail, log.c.ip)
                        .order_by(log.c.id)).all()
    seq, prev = 0, ""
    for row in rows:
        seq += 1
        at = row.at if isinstance(row.at, dt.datetime) else dt.datetime.fromisoformat(str(row.at))
        digest = _hash(seq, prev, at, row.actor_user_id, row.actor, row.action, row.target_type, row.target_id,
                       row.detail, row.ip)
        bind.execute(sa.update(log).where(log.c.id == row.id).values(seq=seq, prev_hash=prev, hash=digest))
        prev = digest
    op.bulk_insert(head, [{'id': 1, 'seq': seq, 'hash': prev}])

    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                              nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_log_seq'), ['seq'])
        batch_op.create_index(batch_op.f('ix_audit_log_actor_user_id'), ['actor_user_id'], unique=False)

    if dialect == 'postgresql':
        op.execute(PG_FUNCTION)
        for statement in PG_TRIGGERS:
            op.execute(statement)
    elif dialect == 'sqlite':
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update_delete ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS pantau_audit_log_append_only()")
    elif bind.dialect.name == 'sqlite':
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_actor_user_id'))
        batch_op.drop_constraint(batch_op.f('uq_audit_log_seq'), type_='unique')
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('seq')
    op.drop_table('audit_head')
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_codes_user_id'))
    op.drop_table('recovery_codes')
    op.execute("UPDATE users SET role = 'operator' WHERE role = 'leadership'")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('role', type_='check')
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_enabled_at')
        batch_op.drop_column('totp_secret')
        batch_op.drop_column('session_version')
        batch_op.drop_column('must_change_password')
        batch_op.drop_column('password_changed_at')
