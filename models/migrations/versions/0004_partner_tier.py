"""org: a partner's tier, so a request is seen and claimed only once it is offered that wide

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 21:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('org') as batch:
        batch.add_column(sa.Column('tier', sa.Integer(), nullable=False, server_default='1'))


def downgrade() -> None:
    with op.batch_alter_table('org') as batch:
        batch.drop_column('tier')
