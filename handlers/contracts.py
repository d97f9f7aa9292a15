"""Lookups for the non-solicitation agreement and the field-conduct guidelines."""
from __future__ import annotations

import calendar
import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, select

from models.tables import AgreementVersion, GuidelineAck, GuidelineVersion, Org, OrgKind, OrgStatus, Signature, pk


def text_hash(*parts: str) -> str:
    return hashlib.sha256("\n\x1e".join(parts).encode()).hexdigest()


def add_months(dt: datetime, months: int) -> datetime:
    month = dt.month - 1 + months
    year, month = dt.year + month // 12, month % 12 + 1
    day = min(dt.day, calendar.monthrange(year, month)[1])
    return dt.replace(year=year, month=month, day=day)


def current_agreement(s: Session) -> AgreementVersion | None:
    return s.exec(select(AgreementVersion).where(AgreementVersion.is_current == True)).first()  # noqa: E712


def valid_signature(s: Session, org_id: int, agreement: AgreementVersion, now: datetime) -> Signature | None:
    """The org's newest signature on this version that has not expired."""
    return s.exec(
        select(Signature)
        .where(Signature.org_id == org_id, Signature.agreement_id == agreement.id, Signature.expires_at > now)
        .order_by(col(Signature.expires_at).desc())
    ).first()


def current_guidelines(s: Session) -> GuidelineVersion | None:
    return s.exec(select(GuidelineVersion).where(GuidelineVersion.is_current == True)).first()  # noqa: E712


def ack_of(s: Session, person_id: int, guidelines: GuidelineVersion) -> GuidelineAck | None:
    return s.exec(
        select(GuidelineAck).where(GuidelineAck.person_id == person_id, GuidelineAck.guideline_id == guidelines.id)
    ).first()


class Gate(StrEnum):
    """The claim gates, in the order they are checked; the first closed one is the answer."""

    HOME = "home"  # home staff are scheduled directly
    NOT_VETTED = "not_vetted"
    SUSPENDED = "suspended"
    NO_AGREEMENT = "no_agreement"  # none set up
    UNSIGNED = "unsigned"  # not signed, or expired
    NO_GUIDELINES = "no_guidelines"  # none set up
    NOT_ACKED = "not_acked"


@dataclass(frozen=True)
class ClosedGate:
    gate: Gate
    agreement: AgreementVersion | None = None
    guidelines: GuidelineVersion | None = None


def closed_gate(s: Session, org: Org, person_id: int, now: datetime) -> ClosedGate | None:
    """Which gate keeps this person of `org` from holding claims (None: all open). One decision for
    every way units reach a person: their own claim, and a dispatcher's reassign."""
    if org.kind == OrgKind.HOME:
        return ClosedGate(Gate.HOME)
    if org.status != OrgStatus.VETTED:
        return ClosedGate(Gate.SUSPENDED if org.status == OrgStatus.SUSPENDED else Gate.NOT_VETTED)
    agreement = current_agreement(s)
    if agreement is None:
        return ClosedGate(Gate.NO_AGREEMENT)
    if valid_signature(s, pk(org), agreement, now) is None:
        return ClosedGate(Gate.UNSIGNED, agreement=agreement)
    guidelines = current_guidelines(s)
    if guidelines is None:
        return ClosedGate(Gate.NO_GUIDELINES, agreement=agreement)
    if ack_of(s, person_id, guidelines) is None:
        return ClosedGate(Gate.NOT_ACKED, agreement=agreement, guidelines=guidelines)
    return None
