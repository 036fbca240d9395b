"""GDPR erasure requests, restricted documents, PDF disposition certificates

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-29 14:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, never a batch table copy: recreating `documents` on SQLite would drop the triggers that
    # guard it (retain_until only grows, frozen columns).
    op.add_column('documents', sa.Column('restricted', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('disposition_batches', sa.Column('pdf_certificate_id', sa.String(length=36), nullable=True))
    op.add_column('disposition_batches', sa.Column('erasure_request_id', sa.String(length=36), nullable=True))
    op.create_table('erasure_requests',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('requester', sa.String(length=500), nullable=False),
    sa.Column('legal_ground', sa.Text(), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('batch_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_erasure_requests_customer_id', 'erasure_requests', ['customer_id'], unique=False)
    op.create_table('erasure_request_documents',
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('document_id', sa.String(length=36), nullable=False),
    sa.Column('found', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ),
    sa.ForeignKeyConstraint(['request_id'], ['erasure_requests.id'], ),
    sa.PrimaryKeyConstraint('request_id', 'document_id')
    )
    op.create_index('ix_erasure_request_documents_document_id', 'erasure_request_documents', ['document_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_erasure_request_documents_document_id', table_name='erasure_request_documents')
    op.drop_table('erasure_request_documents')
    op.drop_index('ix_erasure_requests_customer_id', table_name='erasure_requests')
    op.drop_table('erasure_requests')
    op.drop_column('disposition_batches', 'erasure_request_id')
    op.drop_column('disposition_batches', 'pdf_certificate_id')
    op.drop_column('documents', 'restricted')  # SQLite 3.35+ drops a column in place
