"""incidents against partners, and roster people and channels that a load deactivated

`incident` records what a partner did (`IN-n`: suspected solicitation, conduct, quality), the
partner's response beside it and how the home MSP resolved it. `person.active` and
`channel.active` turn false when a roster load no longer lists them, and true again when one does.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 22:30:00.000000
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('person', 'channel'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table(
        'incident',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=True),
        sa.Column('reported_by_id', sa.Integer(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('at', models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('response', sa.Text(), nullable=False),
        sa.Column('responded_by_id', sa.Integer(), nullable=True),
        sa.Column('responded_at', models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('resolution', sa.Text(), nullable=False),
        sa.Column('resolved_by_id', sa.Integer(), nullable=True),
        sa.Column('resolved_at', models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['org_id'], ['org.id']),
        sa.ForeignKeyConstraint(['request_id'], ['surge_request.id']),
        sa.ForeignKeyConstraint(['reported_by_id'], ['person.id']),
        sa.ForeignKeyConstraint(['responded_by_id'], ['person.id']),
        sa.ForeignKeyConstraint(['resolved_by_id'], ['person.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_incident_org_id', 'incident', ['org_id'], unique=False)
    op.create_index('ix_incident_at', 'incident', ['at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_incident_at', table_name='incident')
    op.drop_index('ix_incident_org_id', table_name='incident')
    op.drop_table('incident')
    for table in ('channel', 'person'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('active')
