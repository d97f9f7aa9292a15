"""Problems (`PR-n`) and leads (`LD-n`) from the field, and their life after the report.

A problem is open until a dispatcher or manager resolves it. A lead is new, then contacted, won
(with a value) or lost. One person handing back the same text on the same request again is the same
lead: `key` is a hash of the text in lower case with its spaces collapsed, unique per request and person.
`models.tables` re-exports both tables.
"""
from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class LeadState(StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    WON = "won"
    LOST = "lost"


def lead_key(text: str) -> str:
    return hashlib.sha256(" ".join(text.lower().split()).encode()).hexdigest()


class Problem(SQLModel, table=True):
    __tablename__ = "problem"
    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="surge_request.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    org_id: int = Field(foreign_key="org.id")
    text: str = Field(sa_column=Column(Text, nullable=False))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    resolution: str = Field(default="", sa_column=Column(Text, nullable=False))
    resolved_by_id: int | None = Field(default=None, foreign_key="person.id")
    resolved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))

    @property
    def ref(self) -> str:
        return f"PR-{self.id}"


class Lead(SQLModel, table=True):
    __tablename__ = "lead"
    __table_args__ = (UniqueConstraint("request_id", "person_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="surge_request.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    org_id: int = Field(foreign_key="org.id", index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    key: str = Field(default="", max_length=80)  # lead_key(text); a legacy duplicate gets ":<id>" appended
    state: str = Field(default=LeadState.NEW, max_length=16)
    value_cents: int | None = None  # what a won lead is worth

    @property
    def ref(self) -> str:
        return f"LD-{self.id}"
