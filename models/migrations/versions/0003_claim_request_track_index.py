"""claim: one covering index for the partners' track record, in place of two single-column ones

The digest's track record sums every claim per org, joined to its request's deadline. On SQLite it
walked `ix_claim_org_id` (to group by org without sorting) and looked each claim row and its
request up in random order, which grew faster than the data (5× the time for 4× the rows).
`ix_claim_request_track` holds every claim column that query reads, led by request_id: SQLite reads
it in request order and groups by org in a temporary tree. It also serves every lookup by
request_id, so `ix_claim_request_id` goes; nothing looks claims up by org alone, so
`ix_claim_org_id` goes too (one index fewer to write per claim).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 09:40:00.000000
"""
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

COLUMNS = ['request_id', 'org_id', 'status', 'units_verified', 'rework', 'done_at']


def upgrade() -> None:
    # plain CREATE/DROP INDEX on both databases (no batch mode: the table is not rebuilt)
    op.create_index('ix_claim_request_track', 'claim', COLUMNS, unique=False)
    op.drop_index('ix_claim_org_id', table_name='claim')
    op.drop_index('ix_claim_request_id', table_name='claim')


def downgrade() -> None:
    op.create_index('ix_claim_request_id', 'claim', ['request_id'], unique=False)
    op.create_index('ix_claim_org_id', 'claim', ['org_id'], unique=False)
    op.drop_index('ix_claim_request_track', table_name='claim')
