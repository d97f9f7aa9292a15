"""closing the books: a claim keeps its rates, and a partner's month is settled

`claim.pay_cents` and `claim.bill_cents` hold the request's rates when the claim was taken (existing
claims get their request's current rates). `settlement` is a partner's month marked paid.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 23:00:00.000000
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('claim') as batch:
        batch.add_column(sa.Column('pay_cents', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('bill_cents', sa.Integer(), nullable=False, server_default='0'))
    op.execute(
        "UPDATE claim SET "
        "pay_cents = (SELECT r.pay_cents FROM surge_request r WHERE r.id = claim.request_id), "
        "bill_cents = (SELECT r.bill_cents FROM surge_request r WHERE r.id = claim.request_id)"
    )
    op.create_table(
        'settlement',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('month', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column('ref', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('by_id', sa.Integer(), nullable=False),
        sa.Column('at', models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('total_cents', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['org.id']),
        sa.ForeignKeyConstraint(['by_id'], ['person.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('org_id', 'month'),
    )
    op.create_index('ix_settlement_org_id', 'settlement', ['org_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_settlement_org_id', table_name='settlement')
    op.drop_table('settlement')
    with op.batch_alter_table('claim') as batch:
        batch.drop_column('bill_cents')
        batch.drop_column('pay_cents')
