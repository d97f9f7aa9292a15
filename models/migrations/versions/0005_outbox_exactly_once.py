"""outbox: who holds a lease, the targets a message already reached, and indexes for trimming

`outbox_message.lease_owner` names the sender holding a `sending` row: only it renews the lease
(a heartbeat) and only it may mark the row done. `outbox_delivery` records each target a message
reached, right after the send, so a row taken up again after a crash skips those targets.
`processed_interaction.at` is indexed so the clock can trim old keys without a full scan.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 22:00:00.000000
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_message') as batch:
        batch.add_column(sa.Column('lease_owner', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True))
    op.create_table(
        'outbox_delivery',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('origin_id', sa.Integer(), nullable=False),
        sa.Column('target', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column('ref', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('at', models.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('origin_id', 'target'),
    )
    op.create_index('ix_outbox_delivery_origin_id', 'outbox_delivery', ['origin_id'], unique=False)
    op.create_index('ix_outbox_delivery_at', 'outbox_delivery', ['at'], unique=False)
    op.create_index('ix_processed_interaction_at', 'processed_interaction', ['at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_processed_interaction_at', table_name='processed_interaction')
    op.drop_index('ix_outbox_delivery_at', table_name='outbox_delivery')
    op.drop_index('ix_outbox_delivery_origin_id', table_name='outbox_delivery')
    op.drop_table('outbox_delivery')
    with op.batch_alter_table('outbox_message') as batch:
        batch.drop_column('lease_owner')
