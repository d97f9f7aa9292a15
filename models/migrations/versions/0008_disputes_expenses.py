"""disputes and expenses; a partner's payment terms

`dispute` stands against a claim and may credit verified units when resolved; `expense` is money a
claimant spent on a claim, paid with the statement once approved. `org.terms_days` is the days from
verification to payment.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 23:30:00.000000
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('org') as batch:
        batch.add_column(sa.Column('terms_days', sa.Integer(), nullable=False, server_default='30'))
    op.create_table(
        'dispute',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('claim_id', sa.Integer(), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('raised_by_id', sa.Integer(), nullable=False),
        sa.Column('about', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('at', models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('resolution', sa.Text(), nullable=False),
        sa.Column('resolved_by_id', sa.Integer(), nullable=True),
        sa.Column('resolved_at', models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('units_credited', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['claim_id'], ['claim.id']),
        sa.ForeignKeyConstraint(['org_id'], ['org.id']),
        sa.ForeignKeyConstraint(['raised_by_id'], ['person.id']),
        sa.ForeignKeyConstraint(['resolved_by_id'], ['person.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_dispute_claim_id', 'dispute', ['claim_id'], unique=False)
    op.create_index('ix_dispute_org_id', 'dispute', ['org_id'], unique=False)
    op.create_index('ix_dispute_at', 'dispute', ['at'], unique=False)
    op.create_table(
        'expense',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('claim_id', sa.Integer(), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('amount_cents', sa.Integer(), nullable=False),
        sa.Column('what', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('at', models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['claim_id'], ['claim.id']),
        sa.ForeignKeyConstraint(['org_id'], ['org.id']),
        sa.ForeignKeyConstraint(['person_id'], ['person.id']),
        sa.ForeignKeyConstraint(['decided_by_id'], ['person.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_expense_claim_id', 'expense', ['claim_id'], unique=False)
    op.create_index('ix_expense_org_id', 'expense', ['org_id'], unique=False)
    op.create_index('ix_expense_status', 'expense', ['status'], unique=False)


def downgrade() -> None:
    op.drop_table('expense')
    op.drop_table('dispute')
    with op.batch_alter_table('org') as batch:
        batch.drop_column('terms_days')
