"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-29 10:58:03.567592
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

GENESIS_HASH = "sha256:" + "0" * 64

# (code, label, order-to-cash stage). Types are data: more can be added as rows.
DOCUMENT_TYPES = [
    ("customer_order", "Customer order", "intake"),
    ("purchase_order", "Purchase order", "intake"),
    ("order_confirmation", "Order confirmation", "confirmation"),
    ("contract", "Contract", "confirmation"),
    ("delivery_note", "Delivery note", "fulfilment"),
    ("shipping_document", "Shipping document", "shipping"),
    ("invoice", "Invoice", "invoicing"),
    ("credit_note", "Credit note", "invoicing"),
    ("payment_advice", "Payment advice", "invoicing"),
    ("closing_report", "Closing report", "closing"),
    ("customer_review", "Customer review", "closing"),
    ("correspondence", "Correspondence", "other"),
    ("other", "Other", "other"),
]

# Content-identity columns of versions and blobs never change; the audit log is append-only.
FROZEN_COLUMNS = {
    "document_versions": ["document_id", "number", "checksum", "size", "mime_type", "original_filename",
                          "created_at", "created_by"],
    "blobs": ["checksum", "size"],
}


def upgrade() -> None:
    op.create_table('audit_events',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('credential', sa.String(length=200), nullable=True),
    sa.Column('action', sa.String(length=100), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=500), nullable=True),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=80), nullable=False),
    sa.Column('hash', sa.String(length=80), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_actor'), ['actor'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_subject'), ['subject'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_time'), ['time'], unique=False)

    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.String(length=80), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('blobs',
    sa.Column('checksum', sa.String(length=80), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('storage_key', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('checksum')
    )
    op.create_table('customers',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=True),
    sa.Column('vat_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    op.create_table('document_types',
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('idempotency_keys',
    sa.Column('principal', sa.String(length=200), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('checksum', sa.String(length=80), nullable=False),
    sa.Column('receipt', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('principal', 'key')
    )
    op.create_table('outbox',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('task', sa.String(length=100), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('available_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_available_at'), ['available_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_done_at'), ['done_at'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('username', sa.String(length=150), nullable=False),
    sa.Column('password_hash', sa.String(length=300), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=150), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=True),
    sa.Column('secret_hash', sa.String(length=80), nullable=False),
    sa.Column('scopes', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('orders',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.String(length=100), nullable=False),
    sa.Column('order_date', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('customer_id', 'number', name='uq_orders_customer_number')
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_customer_id'), ['customer_id'], unique=False)

    op.create_table('documents',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('doc_type', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=True),
    sa.Column('title', sa.String(length=500), nullable=True),
    sa.Column('document_date', sa.Date(), nullable=True),
    sa.Column('external_reference', sa.String(length=200), nullable=True),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('filed_by', sa.String(length=200), nullable=False),
    sa.Column('source_channel', sa.String(length=32), nullable=False),
    sa.Column('processing_status', sa.String(length=16), nullable=False),
    sa.Column('processing_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.ForeignKeyConstraint(['doc_type'], ['document_types.code'], ),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.create_index('ix_documents_customer_order', ['customer_id', 'order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_doc_type'), ['doc_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_external_reference'), ['external_reference'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_filed_at'), ['filed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_order_id'), ['order_id'], unique=False)

    op.create_table('document_versions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('document_id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('checksum', sa.String(length=80), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('mime_type', sa.String(length=200), nullable=False),
    sa.Column('original_filename', sa.String(length=1000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['checksum'], ['blobs.checksum'], ),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('document_id', 'number', name='uq_versions_document_number')
    )
    with op.batch_alter_table('document_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_versions_checksum'), ['checksum'], unique=False)

    op.create_table('relations',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('source_id', sa.String(length=36), nullable=False),
    sa.Column('target_id', sa.String(length=36), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['source_id'], ['documents.id'], ),
    sa.ForeignKeyConstraint(['target_id'], ['documents.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source_id', 'target_id', 'type', name='uq_relations')
    )
    with op.batch_alter_table('relations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relations_source_id'), ['source_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_relations_target_id'), ['target_id'], unique=False)

    # ### end Alembic commands ###
    _seed_document_types()
    op.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '%s')" % GENESIS_HASH)
    _append_only_guards()


def downgrade() -> None:
    _drop_guards()
    with op.batch_alter_table('relations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_relations_target_id'))
        batch_op.drop_index(batch_op.f('ix_relations_source_id'))

    op.drop_table('relations')
    with op.batch_alter_table('document_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_versions_checksum'))

    op.drop_table('document_versions')
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_documents_order_id'))
        batch_op.drop_index(batch_op.f('ix_documents_filed_at'))
        batch_op.drop_index(batch_op.f('ix_documents_external_reference'))
        batch_op.drop_index(batch_op.f('ix_documents_doc_type'))
        batch_op.drop_index('ix_documents_customer_order')

    op.drop_table('documents')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_customer_id'))

    op.drop_table('orders')
    op.drop_table('api_tokens')
    op.drop_table('users')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_done_at'))
        batch_op.drop_index(batch_op.f('ix_outbox_available_at'))

    op.drop_table('outbox')
    op.drop_table('idempotency_keys')
    op.drop_table('document_types')
    op.drop_table('customers')
    op.drop_table('blobs')
    op.drop_table('audit_head')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_time'))
        batch_op.drop_index(batch_op.f('ix_audit_events_subject'))
        batch_op.drop_index(batch_op.f('ix_audit_events_actor'))
        batch_op.drop_index(batch_op.f('ix_audit_events_action'))

    op.drop_table('audit_events')
    # ### end Alembic commands ###


def _seed_document_types() -> None:
    table = sa.table("document_types", sa.column("code"), sa.column("label"), sa.column("stage"))
    op.bulk_insert(table, [dict(code=c, label=l, stage=s) for c, l, s in DOCUMENT_TYPES])


def _append_only_guards() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgres_guards()
    else:
        _sqlite_guards()


def _sqlite_guards() -> None:
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"""CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events
                       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""")
    for table, columns in FROZEN_COLUMNS.items():
        op.execute(f"""CREATE TRIGGER {table}_frozen BEFORE UPDATE OF {", ".join(columns)} ON {table}
                       BEGIN SELECT RAISE(ABORT, '{table} content columns are immutable'); END""")


def _postgres_guards() -> None:
    op.execute("""CREATE FUNCTION archive_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
                  BEGIN RAISE EXCEPTION '% is append-only or immutable', TG_TABLE_NAME; END $$""")
    op.execute("""CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
                  FOR EACH ROW EXECUTE FUNCTION archive_refuse_change()""")
    op.execute("""CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
                  FOR EACH STATEMENT EXECUTE FUNCTION archive_refuse_change()""")
    for table, columns in FROZEN_COLUMNS.items():
        op.execute(f"""CREATE TRIGGER {table}_frozen BEFORE UPDATE OF {", ".join(columns)} ON {table}
                       FOR EACH ROW EXECUTE FUNCTION archive_refuse_change()""")


def _drop_guards() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, table in [("audit_events_append_only", "audit_events"), ("audit_events_no_truncate", "audit_events"),
                            ("document_versions_frozen", "document_versions"), ("blobs_frozen", "blobs")]:
            op.execute(f"DROP TRIGGER {name} ON {table}")
        op.execute("DROP FUNCTION archive_refuse_change()")
    else:
        for name in ("audit_events_no_update", "audit_events_no_delete", "document_versions_frozen", "blobs_frozen"):
            op.execute(f"DROP TRIGGER {name}")
