"""teams conversation references: where the bot may speak first (proactive Teams messages)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:51:10.193499
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('conversation_reference',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('conversation_id', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('channel_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('service_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('reference', sa.JSON(), nullable=False),
    sa.Column('updated_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'conversation_id')
    )
    with op.batch_alter_table('conversation_reference', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversation_reference_channel_id'), ['channel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversation_reference_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversation_reference_user_id'), ['user_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('conversation_reference', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_reference_user_id'))
        batch_op.drop_index(batch_op.f('ix_conversation_reference_person_id'))
        batch_op.drop_index(batch_op.f('ix_conversation_reference_channel_id'))

    op.drop_table('conversation_reference')
