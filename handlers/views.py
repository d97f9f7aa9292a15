"""The request card and the job details, as platform-neutral `Message`s.

The partner card is built from `PublicRequest`, which has no customer, site or contact field at all:
what is not there cannot leak. The customer, site and contact are rendered in one place,
`private_facts`, and reach an answer only through `reveal` (which marks the `Reply` private) or a
`Message` marked private (the dispatch copy, the claimant's DM), which `answer` carries over.
"""
from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel
from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from handlers.common import home_zone, money, plural, when
from handlers.types import Action, ActionKind, Actor, Audience, Fact, Message, Reply, Tone
from models.tables import (
    LIVE_CLAIM,
    TERMINAL_REQUEST,
    Claim,
    ClaimStatus,
    GuidelineVersion,
    Org,
    Person,
    RequestStatus,
    SurgeRequest,
    pk,
)

STATUS_WORDS: dict[str, str] = {  # keyed by RequestStatus (a stored status is its word)
    RequestStatus.OPEN: "Open",
    RequestStatus.PARTLY_CLAIMED: "Partly claimed",
    RequestStatus.FULLY_CLAIMED: "Fully claimed",
    RequestStatus.COMPLETED: "Completed",
    RequestStatus.CANCELLED: "Cancelled",
    RequestStatus.EXPIRED: "Expired",
}

CLAIM_WORDS: dict[str, str] = {  # keyed by ClaimStatus
    ClaimStatus.PENDING: "waiting for approval",
    ClaimStatus.ACTIVE: "claimed",
    ClaimStatus.IN_PROGRESS: "on site",
    ClaimStatus.DONE: "reported done",
    ClaimStatus.VERIFIED: "verified",
    ClaimStatus.RELEASED: "released",
    ClaimStatus.REJECTED: "rejected",
    ClaimStatus.CANCELLED: "cancelled",
    ClaimStatus.REVOKED: "revoked",
    ClaimStatus.REASSIGNED: "reassigned",
}


class PublicRequest(BaseModel):
    """What a partner channel may know about a request."""

    id: int
    title: str
    scope: str
    town: str
    skills: list[str]
    units: int
    units_left: int
    minutes_per_unit: int
    pay_cents: int
    deadline: datetime
    status: str
    status_reason: str
    approval_required: bool
    tier: int
    visible_tier: int

    @classmethod
    def of(cls, req: SurgeRequest) -> PublicRequest:
        return cls(
            id=pk(req), title=req.title, scope=req.scope, town=req.town, skills=req.skills,
            units=req.units, units_left=req.units_left, minutes_per_unit=req.minutes_per_unit,
            pay_cents=req.pay_cents, deadline=req.deadline, status=req.status,
            status_reason=req.status_reason, approval_required=req.approval_required,
            tier=req.tier, visible_tier=req.visible_tier,
        )

    @property
    def ref(self) -> str:
        return f"SR-{self.id}"


class JobRequest(Protocol):
    """What the claimant's DM shows of a request: a `SurgeRequest`, or the row a claim's UPDATE returns."""

    @property
    def id(self) -> int | None: ...
    @property
    def title(self) -> str: ...
    @property
    def scope(self) -> str: ...
    @property
    def customer(self) -> str: ...
    @property
    def site(self) -> str: ...
    @property
    def town(self) -> str: ...
    @property
    def contact(self) -> str: ...
    @property
    def deadline(self) -> datetime: ...
    @property
    def pay_cents(self) -> int: ...


class JobClaim(Protocol):
    """What the claimant's DM shows of their claim: a `Claim`, or the row a claim's INSERT or UPDATE returns."""

    @property
    def units(self) -> int: ...
    @property
    def person_id(self) -> int: ...


def private_facts(req: JobRequest, *, site_or_town: bool = False) -> list[Fact]:
    """The request's customer, site and contact as facts: only ever in a private message or answer."""
    return [
        Fact(label="Customer", value=req.customer or "—"),
        Fact(label="Site", value=req.site or (req.town if site_or_town else "") or "—"),
        Fact(label="Contact", value=req.contact or "—"),
    ]


def has_private(req: SurgeRequest) -> bool:
    return bool(req.customer or req.site or req.contact)


def reveal(reply: Reply, req: SurgeRequest) -> Reply:
    """Put the request's customer, site and contact at the top of an answer to its sender, and mark the
    answer private (an adapter answering in a shared channel then sends it to the sender alone). The
    one way these details go into a `Reply`; a request that has none of them leaves the answer as it is."""
    if has_private(req):
        reply.fields[:0] = private_facts(req)
        reply.private = True
    return reply


def customer_of(reply: Reply, req: SurgeRequest) -> str:
    """The customer's name for an answer's text, marking the answer private when there is one."""
    if req.customer:
        reply.private = True
    return req.customer


def answer(card: Message, *, text: str | None = None) -> Reply:
    """A card as the answer to its sender, private when the card is."""
    return Reply(title=card.title, text=card.text if text is None else text, fields=list(card.fields),
                 actions=list(card.actions), private=card.private)


def not_offered(ref: str, visible_tier: int, actor: Actor) -> str:
    """Why a partner can't see or claim a request that has not been offered as wide as its tier."""
    return (f"{ref} is not offered to your tier yet: it goes to tier {visible_tier} partners for now, and "
            f"{actor.org_name} is tier {actor.tier}. If it is widened to your tier, its card appears in your "
            "partner channel.")


def progress_bar(taken: int, total: int, width: int = 10) -> str:
    filled = round(width * taken / total) if total else 0
    return "▰" * filled + "▱" * (width - filled)


def tiers_text(first: int, last: int) -> str:
    return f"tier {first} partners" if first == last else f"tier {first}–{last} partners"


def _claimable(pub: PublicRequest) -> bool:
    return pub.status in (RequestStatus.OPEN, RequestStatus.PARTLY_CLAIMED) and pub.units_left > 0


def _headline(pub: PublicRequest) -> str:
    state = STATUS_WORDS.get(pub.status, pub.status)
    if pub.status == RequestStatus.CANCELLED:
        return f"*Cancelled* — {pub.status_reason}" if pub.status_reason else "*Cancelled*"
    return (
        f"{state}: *{pub.units_left:,} of {pub.units:,} units left* "
        f"{progress_bar(pub.units - pub.units_left, pub.units)}"
    )


def partner_card(pub: PublicRequest, tz: str) -> Message:
    facts = [
        Fact(label="Area", value=pub.town or "—"),
        Fact(label="Deadline", value=when(pub.deadline, tz), at=pub.deadline),
        Fact(label="Pay", value=f"{money(pub.pay_cents)} per unit (~{pub.minutes_per_unit} min each)"),
        Fact(label="Skills", value=", ".join(pub.skills) or "—"),
    ]
    if pub.approval_required:
        facts.append(Fact(label="Approval", value="a dispatcher approves each claim"))
    facts.append(Fact(label="Offered to", value=tiers_text(pub.tier, pub.visible_tier)))
    actions: list[Action] = []
    if _claimable(pub):
        actions = [
            Action(kind=ActionKind.CLAIM_ALL, label=f"Claim all {pub.units_left}", command=f"claim {pub.ref}", style="primary"),
            Action(kind=ActionKind.CLAIM_SOME, label="Claim some…", command=f"claim {pub.ref}"),
        ]
    actions.append(Action(kind=ActionKind.DETAILS, label="Details", command=f"status {pub.ref}"))
    return Message(
        audience=Audience.PARTNERS, title=f"{pub.ref} · {pub.title}",
        text=(pub.scope + "\n" if pub.scope else "") + _headline(pub),
        fields=facts, actions=actions, request_id=pub.id, tier=pub.visible_tier,
        tone=Tone.INFO if _claimable(pub) else Tone.SUCCESS,
    )


# built once: building it took a quarter of a millisecond, a tenth of a `status`
_CLAIMS_OF = (select(Claim, Person, Org)
              .where(col(Claim.request_id) == bindparam("request_id"), Claim.person_id == Person.id,
                     Claim.org_id == Org.id)
              .order_by(col(Claim.id)))


def claims_of(session: Session, request_id: int) -> list[tuple[Claim, Person, Org]]:
    return list(session.exec(_CLAIMS_OF, params={"request_id": request_id}).all())


def claim_line(claim: Claim, person: Person, org: Org, tz: str) -> str:
    text = f"{person.name} ({org.name}): {plural(claim.units, 'unit')} {CLAIM_WORDS[claim.status]}"
    if claim.status == ClaimStatus.VERIFIED:
        text += f" {when(claim.verified_at, tz)}"
    if claim.rework:
        text += f" (sent back {claim.rework}×)"
    return text


def dispatch_card(req: SurgeRequest, claims: list[tuple[Claim, Person, Org]], tz: str) -> Message:
    pub = PublicRequest.of(req)
    base = partner_card(pub, tz)
    facts = [
        *private_facts(req),
        *base.fields,
        Fact(label="Bill", value=f"{money(req.bill_cents)} per unit"),
        Fact(label="Verified", value=f"{req.units_verified:,} of {req.units:,}"),
    ]
    lines, actions = [], []
    for claim, person, org in claims:
        if claim.status not in LIVE_CLAIM and claim.status != ClaimStatus.VERIFIED:
            continue
        lines.append("• " + claim_line(claim, person, org, tz))
        who = f'"{person.name}"'
        if claim.status == ClaimStatus.PENDING:
            actions += [
                Action(kind=ActionKind.APPROVE, label=f"Approve {person.name}", command=f"approve {pub.ref} {who}", style="primary",
                       request_id=req.id, person_id=person.id),
                Action(kind=ActionKind.REJECT, label=f"Reject {person.name}", command=f"reject {pub.ref} {who}", style="danger",
                       request_id=req.id, person_id=person.id),
            ]
        elif claim.status == ClaimStatus.DONE:
            actions += [
                Action(kind=ActionKind.VERIFY, label=f"Verify {person.name}", command=f"verify {pub.ref} {who}", style="primary",
                       request_id=req.id, person_id=person.id),
                Action(kind=ActionKind.REJECT, label=f"Send back {person.name}", command=f"reject {pub.ref} {who}", style="danger",
                       request_id=req.id, person_id=person.id),
            ]
        if claim.status in LIVE_CLAIM:  # not yet verified: it can be taken back, and moved until it is reported
            actions.append(Action(kind=ActionKind.REVOKE, label=f"Revoke {person.name}", command=f"revoke {pub.ref} {who}",
                                  style="danger", request_id=req.id, person_id=person.id))
            if claim.status != ClaimStatus.DONE:
                actions.append(Action(kind=ActionKind.REASSIGN, label=f"Reassign {person.name}…",
                                      command=f"reassign {pub.ref} {who}", request_id=req.id, person_id=person.id))
    text = base.text + ("\n*Claimants*\n" + "\n".join(lines) if lines else "\nNo claims yet.")
    if req.status not in TERMINAL_REQUEST:
        actions.insert(0, Action(kind=ActionKind.EDIT, label="Edit", command=f"edit {pub.ref}"))
    return Message(
        audience=Audience.DISPATCH, title=base.title, text=text, fields=facts,
        actions=actions[:20] + [Action(kind=ActionKind.RUN, label="History", command=f"audit {pub.ref}")],
        request_id=req.id, private=True, tone=base.tone,
    )


def guideline_facts(g: GuidelineVersion) -> list[Fact]:
    return [
        Fact(label="Introducing yourself", value=g.introduce),
        Fact(label="Never share", value=g.never_share),
        Fact(label="Significant problems", value=g.escalate),
        Fact(label="When the customer asks for more work", value=g.more_work),
    ]


def job_details(req: JobRequest, claim: JobClaim, guidelines: GuidelineVersion | None, tz: str) -> Message:
    """The claimant's DM: the private details of the job, and the guidelines."""
    ref = f"SR-{req.id}"
    facts = [
        *private_facts(req, site_or_town=True),
        Fact(label="Your units", value=f"{claim.units:,}"),
        Fact(label="Deadline", value=when(req.deadline, tz), at=req.deadline),
        Fact(label="Pay", value=f"{money(req.pay_cents)} per unit"),
    ]
    if guidelines:
        facts += guideline_facts(guidelines)
    return Message(
        audience=Audience.DM, person_id=claim.person_id, request_id=req.id, private=True,
        title=f"Your job: {ref} · {req.title}",
        text=(req.scope + "\n\n" if req.scope else "")
        + f"Check in with `start {ref}` when you arrive, report with `done {ref}`; "
        f"`problem {ref} \"…\"` for anything significant, `lead {ref} \"…\"` if the customer asks for more work.",
        fields=facts, tone=Tone.SUCCESS,
        actions=[Action(kind=ActionKind.START, label="Check in", command=f"start {ref}", style="primary")],
    )


def request_cards(session: Session, request_id: int, tz: str) -> tuple[Message, Message]:
    """The partner copy and the dispatch copy of a request's card, as they stand now, in the home MSP's
    time zone (the roster's; `tz`, the setting, when the roster gives none)."""
    req = session.get(SurgeRequest, request_id)
    if req is None:
        raise LookupError(request_id)
    tz = home_zone(session, tz)
    return partner_card(PublicRequest.of(req), tz), dispatch_card(req, claims_of(session, request_id), tz)
