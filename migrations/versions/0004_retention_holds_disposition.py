"""retention per document, trigger events, legal holds, disposition batches, disposition certificates

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 12:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

GROWS_ONLY = "retain_until only grows (compliance mode)"


def upgrade() -> None:
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retain_until', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('retention_class', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('retention_rule', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('held', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('status', sa.String(length=16), server_default='active', nullable=False))
        batch_op.add_column(sa.Column('disposed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_documents_retain_until'), ['retain_until'], unique=False)
    with op.batch_alter_table('blobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('destroyed_at', sa.DateTime(timezone=True), nullable=True))
    _create_tables()
    op.bulk_insert(sa.table("document_types", sa.column("code"), sa.column("label"), sa.column("stage")),
                   [dict(code="disposition_certificate", label="Disposition certificate", stage="other")])
    _guard_retention()


def _create_tables() -> None:
    op.create_table('retention_events',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=True),
    sa.Column('document_id', sa.String(length=36), nullable=True),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    for column in ('name', 'customer_id', 'order_id', 'document_id'):
        op.create_index(f'ix_retention_events_{column}', 'retention_events', [column], unique=False)
    op.create_table('legal_holds',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=True),
    sa.Column('order_id', sa.String(length=36), nullable=True),
    sa.Column('saved_search_id', sa.String(length=36), nullable=True),
    sa.Column('query', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('case_reference', sa.String(length=200), nullable=False),
    sa.Column('placed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('placed_by', sa.String(length=200), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('released_by', sa.String(length=200), nullable=True),
    sa.Column('release_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('legal_hold_documents',
    sa.Column('hold_id', sa.String(length=36), nullable=False),
    sa.Column('document_id', sa.String(length=36), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ),
    sa.ForeignKeyConstraint(['hold_id'], ['legal_holds.id'], ),
    sa.PrimaryKeyConstraint('hold_id', 'document_id')
    )
    op.create_index('ix_legal_hold_documents_document_id', 'legal_hold_documents', ['document_id'], unique=False)
    op.create_table('disposition_batches',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('schedule', sa.String(length=100), nullable=False),
    sa.Column('schedule_hash', sa.String(length=80), nullable=False),
    sa.Column('document_count', sa.Integer(), nullable=False),
    sa.Column('proposed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('proposed_by', sa.String(length=200), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('approved_by', sa.String(length=200), nullable=True),
    sa.Column('executed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('executed_by', sa.String(length=200), nullable=True),
    sa.Column('disposed_count', sa.Integer(), nullable=True),
    sa.Column('certificate_id', sa.String(length=36), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('disposition_items',
    sa.Column('batch_id', sa.String(length=36), nullable=False),
    sa.Column('document_id', sa.String(length=36), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['disposition_batches.id'], ),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ),
    sa.PrimaryKeyConstraint('batch_id', 'document_id')
    )
    op.create_index('ix_disposition_items_document_id', 'disposition_items', ['document_id'], unique=False)


def _guard_retention() -> None:
    """Defence in depth for compliance mode: the database itself refuses to shorten or clear retain_until."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""CREATE FUNCTION archive_retention_grows() RETURNS trigger LANGUAGE plpgsql AS $$
                       BEGIN RAISE EXCEPTION '{GROWS_ONLY}'; END $$""")
        op.execute("""CREATE TRIGGER documents_retention_grows BEFORE UPDATE OF retain_until ON documents
                      FOR EACH ROW WHEN (OLD.retain_until IS NOT NULL
                                         AND (NEW.retain_until IS NULL OR NEW.retain_until < OLD.retain_until))
                      EXECUTE FUNCTION archive_retention_grows()""")
        return
    op.execute(f"""CREATE TRIGGER documents_retention_grows BEFORE UPDATE OF retain_until ON documents
                   WHEN OLD.retain_until IS NOT NULL
                        AND (NEW.retain_until IS NULL OR NEW.retain_until < OLD.retain_until)
                   BEGIN SELECT RAISE(ABORT, '{GROWS_ONLY}'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER documents_retention_grows ON documents")
        op.execute("DROP FUNCTION archive_retention_grows()")
    else:
        op.execute("DROP TRIGGER documents_retention_grows")
    op.execute("DELETE FROM document_types WHERE code = 'disposition_certificate'")
    op.drop_index('ix_disposition_items_document_id', table_name='disposition_items')
    op.drop_table('disposition_items')
    op.drop_table('disposition_batches')
    op.drop_index('ix_legal_hold_documents_document_id', table_name='legal_hold_documents')
    op.drop_table('legal_hold_documents')
    op.drop_table('legal_holds')
    for column in ('name', 'customer_id', 'order_id', 'document_id'):
        op.drop_index(f'ix_retention_events_{column}', table_name='retention_events')
    op.drop_table('retention_events')
    with op.batch_alter_table('blobs', schema=None) as batch_op:
        batch_op.drop_column('destroyed_at')
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_documents_retain_until'))
        for column in ('disposed_at', 'status', 'held', 'retention_rule', 'retention_class', 'retain_until'):
            batch_op.drop_column(column)
