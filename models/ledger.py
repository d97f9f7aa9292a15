"""Disputes (`DS-n`) and expenses (`EX-n`): what a partner raises about its claims' money.

A dispute stands against one claim (a rejection, a revocation or a short verification); resolving
it may credit verified units at the claim's rates. An expense is money a claimant spent on a claim;
once approved it is paid with the partner's statement and billed to the customer at cost.
"""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


def _ts(nullable: bool = True, index: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class Dispute(SQLModel, table=True):
    __tablename__ = "dispute"

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(foreign_key="claim.id", index=True)
    org_id: int = Field(foreign_key="org.id", index=True)
    raised_by_id: int = Field(foreign_key="person.id")
    about: str = Field(max_length=16)  # rejected | revoked | short
    text: str = Field(sa_column=Column(Text, nullable=False))
    at: datetime = Field(sa_column=_ts(False, index=True))
    resolution: str = Field(default="", sa_column=Column(Text, nullable=False))
    resolved_by_id: int | None = Field(default=None, foreign_key="person.id")
    resolved_at: datetime | None = Field(default=None, sa_column=_ts())
    units_credited: int = 0  # verified units credited at the claim's rates when it was resolved

    @property
    def ref(self) -> str:
        return f"DS-{self.id}"


class ExpenseStatus(StrEnum):
    WAITING = "waiting"
    APPROVED = "approved"
    REJECTED = "rejected"


class Expense(SQLModel, table=True):
    __tablename__ = "expense"

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(foreign_key="claim.id", index=True)
    org_id: int = Field(foreign_key="org.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    amount_cents: int
    what: str = Field(max_length=200)
    at: datetime = Field(sa_column=_ts(False))
    status: str = Field(default=ExpenseStatus.WAITING, max_length=16, index=True)
    decided_by_id: int | None = Field(default=None, foreign_key="person.id")
    decided_at: datetime | None = Field(default=None, sa_column=_ts())
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))

    @property
    def ref(self) -> str:
        return f"EX-{self.id}"


class SettledLine(SQLModel, table=True):
    """One line a settlement paid: a verified claim (`work`), a dispute's credit (`credit`) or an approved
    expense (`expense`), with the units and amount paid. A line is settled once; it counts in its
    settlement's month whatever the reader's time zone, and whatever is not listed here is still owed."""

    __tablename__ = "settled_line"
    __table_args__ = (UniqueConstraint("kind", "source_id"),)

    id: int | None = Field(default=None, primary_key=True)
    settlement_id: int = Field(foreign_key="settlement.id", index=True)
    kind: str = Field(max_length=16)  # work (a claim's id) | credit (a dispute's) | expense (an expense's)
    source_id: int
    units: int
    amount_cents: int
