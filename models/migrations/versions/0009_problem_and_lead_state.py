"""problems and leads have a life: a problem is open until resolved; a lead is new, contacted, won or lost

`problem` gets its resolution (what was done, by whom, when). `lead` gets its state, the value of a won
lead in cents, and `key`: a hash of its text (lower case, spaces collapsed), unique per request and
person, so the same lead handed back twice is one. Leads already stored get their key here; a
duplicate among them keeps its row, with its id appended to the key.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 23:45:00.000000
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types
from models.followups import lead_key

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('problem') as batch:
        batch.add_column(sa.Column('resolution', sa.Text(), nullable=False, server_default=''))
        batch.add_column(sa.Column('resolved_by_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('resolved_at', models.types.UTCDateTime(timezone=True), nullable=True))
        batch.create_foreign_key('fk_problem_resolved_by_id_person', 'person', ['resolved_by_id'], ['id'])
    with op.batch_alter_table('lead') as batch:
        batch.add_column(sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False,
                                   server_default=''))
        batch.add_column(sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False,
                                   server_default='new'))
        batch.add_column(sa.Column('value_cents', sa.Integer(), nullable=True))
    conn = op.get_bind()
    seen: set[tuple[int, int, str]] = set()
    for lead_id, request_id, person_id, text in conn.execute(
            sa.text("SELECT id, request_id, person_id, text FROM lead ORDER BY id")).all():
        key = lead_key(text)
        if (request_id, person_id, key) in seen:
            key = f"{key}:{lead_id}"
        seen.add((request_id, person_id, key))
        conn.execute(sa.text("UPDATE lead SET key = :key WHERE id = :id"), {"key": key, "id": lead_id})
    with op.batch_alter_table('lead') as batch:
        batch.create_unique_constraint('uq_lead_request_id_person_id_key', ['request_id', 'person_id', 'key'])


def downgrade() -> None:
    with op.batch_alter_table('lead') as batch:
        batch.drop_constraint('uq_lead_request_id_person_id_key', type_='unique')
        batch.drop_column('value_cents')
        batch.drop_column('state')
        batch.drop_column('key')
    with op.batch_alter_table('problem') as batch:
        batch.drop_constraint('fk_problem_resolved_by_id_person', type_='foreignkey')
        batch.drop_column('resolved_at')
        batch.drop_column('resolved_by_id')
        batch.drop_column('resolution')
