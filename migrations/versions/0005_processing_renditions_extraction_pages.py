"""processing: renditions (OCR PDF/A beside the original), extraction pages, provenance and details

Revision ID: 0005
Revises: 0007
Create Date: 2026-11-29 14:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('extractions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pages', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('provenance', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('details', sa.JSON(), nullable=True))
    op.create_table('renditions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('document_id', sa.String(length=36), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('checksum', sa.String(length=80), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('mime_type', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['checksum'], ['blobs.checksum'], ),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('document_id', 'version', 'kind', name='uq_renditions')
    )
    with op.batch_alter_table('renditions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_renditions_checksum'), ['checksum'], unique=False)
        batch_op.create_index(batch_op.f('ix_renditions_document_id'), ['document_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('renditions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_renditions_document_id'))
        batch_op.drop_index(batch_op.f('ix_renditions_checksum'))
    op.drop_table('renditions')
    with op.batch_alter_table('extractions', schema=None) as batch_op:
        batch_op.drop_column('details')
        batch_op.drop_column('provenance')
        batch_op.drop_column('pages')
