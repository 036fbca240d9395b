"""proof: checkpoints, signing keys, fixity

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 11:10:34.175316
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fixity_runs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cursor', sa.String(length=80), nullable=True),
    sa.Column('checked', sa.BigInteger(), nullable=False),
    sa.Column('bytes_checked', sa.BigInteger(), nullable=False),
    sa.Column('problems', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('signing_keys',
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('algorithm', sa.String(length=16), nullable=False),
    sa.Column('public_key', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key_id')
    )
    op.create_table('audit_checkpoints',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('tree_size', sa.BigInteger(), nullable=False),
    sa.Column('root_hash', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('signature', sa.String(length=200), nullable=False),
    sa.Column('frontier', sa.JSON(), nullable=False),
    sa.Column('timestamp_token', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['key_id'], ['signing_keys.key_id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tree_size')
    )
    with op.batch_alter_table('document_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_verified_at', sa.DateTime(timezone=True), nullable=True))
    # ### end Alembic commands ###
    _guard_checkpoints()


def downgrade() -> None:
    _drop_guards()
    with op.batch_alter_table('document_versions', schema=None) as batch_op:
        batch_op.drop_column('last_verified_at')

    op.drop_table('audit_checkpoints')
    op.drop_table('signing_keys')
    op.drop_table('fixity_runs')
    # ### end Alembic commands ###


def _guard_checkpoints() -> None:
    """Signed checkpoints are append-only; a signing key's public half never changes."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
                      FOR EACH ROW EXECUTE FUNCTION archive_refuse_change()""")
        op.execute("""CREATE TRIGGER signing_keys_frozen BEFORE UPDATE OF key_id, public_key OR DELETE
                      ON signing_keys FOR EACH ROW EXECUTE FUNCTION archive_refuse_change()""")
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"""CREATE TRIGGER audit_checkpoints_no_{verb.lower()} BEFORE {verb} ON audit_checkpoints
                       BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END""")
    op.execute("""CREATE TRIGGER signing_keys_frozen BEFORE UPDATE OF key_id, public_key ON signing_keys
                  BEGIN SELECT RAISE(ABORT, 'signing_keys public keys are immutable'); END""")
    op.execute("""CREATE TRIGGER signing_keys_no_delete BEFORE DELETE ON signing_keys
                  BEGIN SELECT RAISE(ABORT, 'signing_keys is append-only'); END""")


def _drop_guards() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_checkpoints_append_only ON audit_checkpoints")
        op.execute("DROP TRIGGER signing_keys_frozen ON signing_keys")
        return
    for name in ("audit_checkpoints_no_update", "audit_checkpoints_no_delete", "signing_keys_frozen",
                 "signing_keys_no_delete"):
        op.execute(f"DROP TRIGGER {name}")
