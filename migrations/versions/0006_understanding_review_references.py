"""understanding: confirmed fields, document references, review queue

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-29 14:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('extraction_confirmations',
    sa.Column('document_id', sa.String(length=36), nullable=False),
    sa.Column('doc_type', sa.String(length=64), nullable=True),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ),
    sa.PrimaryKeyConstraint('document_id')
    )
    op.create_table('document_references',
    sa.Column('document_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ),
    sa.PrimaryKeyConstraint('document_id', 'kind', 'value')
    )
    op.create_index('ix_document_references_kind_value', 'document_references', ['kind', 'value'], unique=False)
    op.create_table('review_items',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('document_id', sa.String(length=36), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.String(length=200), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=200), nullable=True),
    sa.Column('resolution', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('document_id', 'reason', 'detail', name='uq_review_items')
    )
    op.create_index('ix_review_items_document_id', 'review_items', ['document_id'], unique=False)
    op.create_index('ix_review_items_open', 'review_items', ['resolved_at', 'document_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_review_items_open', table_name='review_items')
    op.drop_index('ix_review_items_document_id', table_name='review_items')
    op.drop_table('review_items')
    op.drop_index('ix_document_references_kind_value', table_name='document_references')
    op.drop_table('document_references')
    op.drop_table('extraction_confirmations')
