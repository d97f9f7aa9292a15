"""The roster's lifecycle: a person or channel that a load no longer lists is deactivated, and one it
lists again is reactivated.

A deactivated person can't act (the core answers them as someone off the roster, saying so) and is
sent nothing; a deactivated channel gets no cards or notices. The open claims of a deactivated
person are listed to the dispatchers, in the load's own transaction, and in what the load prints.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from handlers.common import plural
from handlers.types import Audience, Identity, Message, Reply, Tone
from models.tables import LIVE_CLAIM, Channel, Claim, Org, Person, Role, SurgeRequest, pk

if TYPE_CHECKING:
    from handlers.roster import RosterIn, _Apply


def sync_active(apply: _Apply, r: RosterIn) -> None:
    """Deactivate who and what the file leaves out; reactivate who and what it lists again."""
    s = apply.s
    names = {p.name.lower() for p in r.people}
    gone: list[Person] = []
    for person in s.exec(select(Person).order_by(Person.name)).all():
        listed = person.name.lower() in names
        if listed != person.active:
            person.active = listed
            if listed:
                apply.note(f"reactivated person {person.name}")
            else:
                gone.append(person)
    chans = {(c.platform, c.id) for c in r.channels}
    for chan in s.exec(select(Channel).order_by(col(Channel.id))).all():
        listed = (chan.platform, chan.external_id) in chans
        if listed != chan.active:
            chan.active = listed
            apply.note(f"{'reactivated' if listed else 'deactivated'} {chan.platform} channel {chan.external_id}")
    if gone:
        _tell_dispatch(apply, gone)
    s.flush()


def _open_claims(s: Session, person_ids: list[int]) -> dict[int, list[str]]:
    rows = s.execute(
        sa_select(col(Claim.person_id), col(SurgeRequest.id), col(SurgeRequest.title), col(Claim.units),
                  col(Claim.status))
        .join(SurgeRequest, col(SurgeRequest.id) == Claim.request_id)
        .where(col(Claim.person_id).in_(person_ids), col(Claim.status).in_(LIVE_CLAIM))
        .order_by(col(SurgeRequest.deadline), col(SurgeRequest.id))
    ).all()
    out: dict[int, list[str]] = {}
    for pid, rid, title, units, status in rows:
        out.setdefault(pid, []).append(f"SR-{rid} · {title}: {plural(units, 'unit')}, {status.replace('_', ' ')}")
    return out


def _tell_dispatch(apply: _Apply, gone: list[Person]) -> None:
    """Note each deactivated person with their open claims; put the claims before the dispatchers."""
    from handlers.core import enqueue  # the core's own outbox writer, in this load's transaction

    s = apply.s
    claims = _open_claims(s, [pk(p) for p in gone])
    orgs = dict(s.exec(select(Org.id, Org.name)).all())
    lines = []
    for p in gone:
        held = claims.get(pk(p), [])
        apply.note(f"deactivated person {p.name} ({orgs.get(p.org_id, '?')})"
                   + (": open claims " + "; ".join(held) if held else ""))
        lines += [f"• {p.name} ({orgs.get(p.org_id, '?')}): {c}" for c in held]
    if lines:
        enqueue(s, Reply(text="", messages=[Message(
            audience=Audience.DISPATCH, tone=Tone.WARNING, title="Open claims of people taken off the roster",
            text="The roster no longer lists these people, so they can't report, release or be told anything. "
            "Revoke or reassign their claims:\n" + "\n".join(lines))]))


def deactivated(s: Session, identity: Identity) -> str | None:
    """What a deactivated person is told when they try to act; None if the identity isn't one."""
    column = {"slack": Person.slack_id, "teams": Person.teams_id}.get(identity.platform)
    if column is not None:
        stmt = select(Person).where(column == identity.user_id)
    else:
        stmt = select(Person).where(func.lower(Person.name) == identity.user_id.strip().lower())
    person = s.exec(stmt).first()
    if person is None or person.active:
        return None
    admins = [p.name for p in s.exec(select(Person).where(Person.active == True).order_by(Person.name)).all()  # noqa: E712
              if Role.ADMIN in p.roles]
    who = f" Ask {', '.join(admins)} to list you again." if admins else " Ask whoever runs Surge to list you again."
    return (f"You were deactivated on this Surge roster (the roster no longer lists {person.name}), "
            "so I can't act for you." + who)
