"""Lookups for the non-solicitation agreement and the field-conduct guidelines."""
from __future__ import annotations

import calendar
import hashlib
from datetime import datetime

from sqlmodel import Session, select

from models.tables import AgreementVersion, GuidelineAck, GuidelineVersion, Signature


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
        .order_by(Signature.expires_at.desc())
    ).first()


def current_guidelines(s: Session) -> GuidelineVersion | None:
    return s.exec(select(GuidelineVersion).where(GuidelineVersion.is_current == True)).first()  # noqa: E712


def ack_of(s: Session, person_id: int, guidelines: GuidelineVersion) -> GuidelineAck | None:
    return s.exec(
        select(GuidelineAck).where(GuidelineAck.person_id == person_id, GuidelineAck.guideline_id == guidelines.id)
    ).first()
