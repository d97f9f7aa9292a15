"""a settlement records the lines it paid

`settled_line`: one row per verified claim (`work`), dispute credit (`credit`) or approved expense
(`expense`) a settlement paid, with the units and amount paid; each line is settled at most once.
A paid line counts in its settlement's month for every reader, whatever their time zone; a line no
settlement paid that falls in a settled month is the next open month's adjustment.

Settlements made before this revision get their lines here, as the books counted them until now: the
lines recorded before the settlement that fell in its month in the settling manager's time zone (the
manager's own, else their org's, else the home MSP's, else UTC).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 00:30:00.000000
"""
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_TS = models.types.UTCDateTime()


def upgrade() -> None:
    op.create_table(
        'settled_line',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('settlement_id', sa.Integer(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('source_id', sa.Integer(), nullable=False),
        sa.Column('units', sa.Integer(), nullable=False),
        sa.Column('amount_cents', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['settlement_id'], ['settlement.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kind', 'source_id'),
    )
    op.create_index('ix_settled_line_settlement_id', 'settled_line', ['settlement_id'], unique=False)
    _backfill(op.get_bind())


def _month(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m")


def _next(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"


def _lines(conn, org_id: int) -> list[tuple]:
    """(kind, source id, recorded at, units, amount in cents) of every line of the org's books."""
    c = sa.table('claim', sa.column('id'), sa.column('org_id'), sa.column('status'), sa.column('units_verified'),
                 sa.column('pay_cents'), sa.column('verified_at', _TS))
    d = sa.table('dispute', sa.column('id'), sa.column('claim_id'), sa.column('units_credited'),
                 sa.column('resolved_at', _TS))
    e = sa.table('expense', sa.column('id'), sa.column('claim_id'), sa.column('status'), sa.column('amount_cents'),
                 sa.column('decided_at', _TS))
    out = [("work", i, at, u, u * p) for i, at, u, p in conn.execute(sa.select(
        c.c.id, c.c.verified_at, c.c.units_verified, c.c.pay_cents).where(
        c.c.org_id == org_id, c.c.status == 'verified', c.c.units_verified > 0))]
    out += [("credit", i, at, u, u * p) for i, at, u, p in conn.execute(sa.select(
        d.c.id, d.c.resolved_at, d.c.units_credited, c.c.pay_cents).join(c, c.c.id == d.c.claim_id).where(
        c.c.org_id == org_id, d.c.units_credited > 0, d.c.resolved_at.is_not(None)))]
    out += [("expense", i, at, 1, a) for i, at, a in conn.execute(sa.select(
        e.c.id, e.c.decided_at, e.c.amount_cents).join(c, c.c.id == e.c.claim_id).where(
        c.c.org_id == org_id, e.c.status == 'approved', e.c.decided_at.is_not(None)))]
    return out


def _backfill(conn) -> None:
    home = conn.execute(sa.text("SELECT timezone FROM org WHERE kind = 'home' LIMIT 1")).scalar()
    s = sa.table('settlement', sa.column('id'), sa.column('org_id'), sa.column('month'), sa.column('at', _TS),
                 sa.column('by_id'))
    rows = conn.execute(sa.select(s.c.id, s.c.org_id, s.c.month, s.c.at, s.c.by_id).order_by(s.c.at)).all()
    by_org: dict[int, dict[str, datetime]] = {}
    for _, org_id, month, at, _ in rows:
        by_org.setdefault(org_id, {})[month] = at
    taken: set[tuple[str, int]] = set()
    for sid, org_id, month, at, by_id in rows:
        zone = conn.execute(sa.text(
            "SELECT COALESCE(p.timezone, o.timezone) FROM person p LEFT JOIN org o ON o.id = p.org_id "
            "WHERE p.id = :id"), {"id": by_id}).scalar() or home or "UTC"
        tz, settled = ZoneInfo(zone), by_org[org_id]
        for kind, source_id, recorded, units, amount in _lines(conn, org_id):
            if (kind, source_id) in taken or recorded is None or recorded > at:
                continue
            counted = _month(recorded, tz)  # the rule until now: the first month not settled before it
            while counted in settled and settled[counted] < recorded:
                counted = _next(counted)
            if counted == month:
                taken.add((kind, source_id))
                conn.execute(sa.text(
                    "INSERT INTO settled_line (settlement_id, kind, source_id, units, amount_cents) "
                    "VALUES (:sid, :kind, :source_id, :units, :amount)"),
                    {"sid": sid, "kind": kind, "source_id": source_id, "units": units, "amount": amount})


def downgrade() -> None:
    op.drop_index('ix_settled_line_settlement_id', table_name='settled_line')
    op.drop_table('settled_line')
