"""Helpers every feature uses: finding things, locking a request, the audit log, formatting."""
from __future__ import annotations

import re
from datetime import datetime
from weakref import WeakKeyDictionary
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, insert, true
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from handlers.errors import Conflict, Forbidden, NotFound
from handlers.types import Context
from models.tables import (
    LIVE_CLAIM,
    TERMINAL_REQUEST,
    AuditEntry,
    Claim,
    GuidelineVersion,
    Org,
    OrgKind,
    Person,
    RequestStatus,
    Role,
    SurgeRequest,
    pk,
    table_of,
)

AUDIT_INSERT = insert(table_of(AuditEntry))
_gv = table_of(GuidelineVersion)
_CURRENT_GUIDELINES = sa_select(_gv.c.id, _gv.c.text_hash).where(_gv.c.is_current == true()).limit(1)
_GUIDELINES: WeakKeyDictionary = WeakKeyDictionary()  # engine → {(id, text hash): GuidelineVersion}
_SLACK_MENTION = re.compile(r"^<@([A-Z0-9]+)(?:\|[^>]*)?>$")
_PERSON_ID = re.compile(r"^<person:(\d{1,10})>$")

ROLE_WORDS = {
    Role.DISPATCHER: "dispatchers",
    Role.TECH: "techs",
    Role.PARTNER_ADMIN: "partner admins",
    Role.MANAGER: "managers",
    Role.ADMIN: "admins",
}


def session(ctx: Context) -> Session:
    return ctx.session


def audit(
    ctx: Context,
    action: str,
    *,
    request: SurgeRequest | None = None,
    claim: Claim | None = None,
    org_id: int | None = None,
    units: int | None = None,
    **detail,
) -> None:
    """Append to the audit log, in the unit of work's transaction (one INSERT, no ORM object)."""
    session(ctx).execute(AUDIT_INSERT, audit_row(
        ctx, action,
        request_id=request.id if request else (claim.request_id if claim else None),
        claim_id=claim.id if claim else None,
        org_id=org_id if org_id is not None else (claim.org_id if claim else None),
        units=units, detail=detail,
    ))


def audit_row(ctx: Context, action: str, *, request_id: int | None, claim_id: int | None, org_id: int | None,
              units: int | None, detail: dict) -> dict:
    return {"at": ctx.now, "action": action, "actor_id": ctx.actor.person_id, "request_id": request_id,
            "claim_id": claim_id, "org_id": org_id, "units": units, "detail": detail}


def guidelines_of(s: Session, guideline_id: int | None, text_hash: str | None) -> GuidelineVersion | None:
    """A guidelines version by id, from this engine's cache when its text hash still matches.

    The texts of a version never change (the roster refuses a changed text under the same version,
    and the hash covers every text), so a copy kept per engine, keyed on (id, hash), is exact; a
    caller that already read the id and hash in one of its statements pays no query for the rows."""
    if guideline_id is None:
        return None
    engine = s.get_bind()
    cache = _GUIDELINES.get(engine)
    if cache is None:
        cache = _GUIDELINES.setdefault(engine, {})
    found = cache.get((guideline_id, text_hash))
    if found is None:
        row = s.get(GuidelineVersion, guideline_id)
        if row is None:
            return None
        found = GuidelineVersion.model_validate(row.model_dump())  # a detached copy, safe to share
        if row.text_hash == text_hash:
            cache[(guideline_id, text_hash)] = found
    return found


def cached_current_guidelines(s: Session) -> GuidelineVersion | None:
    """The current guidelines (the id and hash read, the texts cached: see `guidelines_of`)."""
    row = s.execute(_CURRENT_GUIDELINES).first()
    return guidelines_of(s, row.id, row.text_hash) if row else None


_GET_REQUEST = select(SurgeRequest).where(col(SurgeRequest.id) == bindparam("request_id"))
_GET_REQUEST_LOCKED = _GET_REQUEST.with_for_update().execution_options(populate_existing=True)


def get_request(ctx: Context, request_id: int, *, lock: bool = False) -> SurgeRequest:
    """The request, row-locked for the rest of the unit of work when `lock` (PostgreSQL)."""
    stmt = _GET_REQUEST_LOCKED if lock else _GET_REQUEST  # built once (a tenth of a millisecond each time)
    req = session(ctx).exec(stmt, params={"request_id": request_id}).first()
    if req is None:
        raise NotFound(f"There is no SR-{request_id}. Type `list` to see the open requests.")
    return req


def live_claim(ctx: Context, req: SurgeRequest, person_id: int) -> Claim | None:
    return session(ctx).exec(
        select(Claim).where(
            Claim.request_id == req.id, Claim.person_id == person_id, col(Claim.status).in_(LIVE_CLAIM)
        ).execution_options(populate_existing=True)
    ).first()


def claim_waiting(ctx: Context, request_id: int, person_name: str, states: tuple[str, ...],
                  refusal: str) -> tuple[SurgeRequest, Person, Claim]:
    """For a dispatcher acting on someone's claim: the request (row-locked), the person and their live
    claim, which must be in one of `states`; otherwise `refusal` ({person}, {ref}) is the answer."""
    req = get_request(ctx, request_id, lock=True)
    person = find_person(ctx, person_name)
    c = live_claim(ctx, req, pk(person))
    if c is None or c.status not in states:
        raise Conflict(refusal.format(person=person.name, ref=req.ref))
    return req, person, c


def refresh_status(req: SurgeRequest, now: datetime) -> None:
    """Derive the request's status from its units (never for cancelled or expired requests)."""
    if req.status in (RequestStatus.CANCELLED, RequestStatus.EXPIRED):
        return
    req.status = status_for(req.status, units=req.units, taken=req.units_taken, verified=req.units_verified)
    req.updated_at = now


def status_for(status: str, *, units: int, taken: int, verified: int) -> str:
    """The status a request with these units has (`refresh_status`'s rule; a claim applies it to the
    counts its UPDATE returns): cancelled and expired stay as they are."""
    if status in (RequestStatus.CANCELLED, RequestStatus.EXPIRED):
        return status
    if verified >= units:
        return RequestStatus.COMPLETED
    if taken >= units:
        return RequestStatus.FULLY_CLAIMED
    return RequestStatus.PARTLY_CLAIMED if taken > 0 else RequestStatus.OPEN


def is_closed(req: SurgeRequest) -> bool:
    return req.status in TERMINAL_REQUEST


def match_people(people: list[Person], ref: str) -> list[Person]:
    """Who a typed name means, ignoring case: the one whose full name it is; else everyone whose first
    name it is; else everyone whose name starts with it. One person is an answer; several are a question."""
    needle = " ".join(ref.lower().split())
    if not needle:
        return []
    for test in (lambda n: n == needle, lambda n: n.split()[0] == needle, lambda n: n.startswith(needle)):
        found = [p for p in people if test(" ".join(p.name.lower().split()))]
        if found:
            return found
    return []


def find_person(ctx: Context, ref: str) -> Person:
    """A Slack mention, a Teams id, a full name, or a first name or prefix only one person has."""
    s = session(ctx)
    ref = ref.strip()
    m = _SLACK_MENTION.match(ref)
    by_id = _PERSON_ID.match(ref)  # a button's person (`handlers.buttons.person_ref`)
    if by_id:
        found = [p for p in [s.get(Person, int(by_id.group(1)))] if p is not None]
    elif m:
        found = list(s.exec(select(Person).where(Person.slack_id == m.group(1))).all())
    elif ref.startswith(("29:", "8:")):
        found = list(s.exec(select(Person).where(Person.teams_id == ref)).all())
    else:
        found = match_people(list(s.exec(select(Person).order_by(Person.name)).all()), ref.lstrip("@"))
    if len(found) > 1:
        raise Conflict(f"“{ref[:60]}” could be {_either(p.name for p in found)}. Nothing was changed: "
                       "say which one with the full name in quotes, or a mention.")
    if not found:
        raise NotFound(f"I can't find “{ref[:60]}” on the roster. Use a mention, or the full name in quotes.")
    return found[0]


def find_partner(ctx: Context, name: str) -> Org:
    """A partner by its name, or by any part of it only one partner's name has, ignoring case."""
    needle = " ".join(name.lower().split())
    partners = session(ctx).exec(select(Org).where(Org.kind == OrgKind.PARTNER).order_by(Org.name)).all()
    found = [o for o in partners if o.name.lower() == needle] or [o for o in partners if needle in o.name.lower()]
    if len(found) > 1:
        raise Conflict(f"“{name[:60]}” could be {_either(o.name for o in found)}. Nothing was changed: "
                       "say which one with more of its name.")
    if not needle or not found:
        raise NotFound(f"There is no partner called “{name[:60]}”. Type `partners` to see them.")
    return found[0]


def _either(names) -> str:
    names = list(names)
    return ", ".join(names[:-1]) + " or " + names[-1]


def names_with_role(ctx: Context, role: Role, *, org_id: int | None = None) -> list[str]:
    people = session(ctx).exec(select(Person).order_by(Person.name)).all()
    return [p.name for p in people if role in p.roles and (org_id is None or p.org_id == org_id)]


def not_on_roster(s: Session) -> str:
    """What someone who is not on the roster is told: who can add them."""
    admins = [p.name for p in s.exec(select(Person).order_by(Person.name)).all() if Role.ADMIN in p.roles]
    who = f" Ask {', '.join(admins)} to add you." if admins else " Ask whoever runs Surge to add you."
    return "You're not on this Surge roster yet, so I can't act for you." + who


def require(ctx: Context, *roles: Role, to: str) -> None:
    """Refuse unless the actor holds one of `roles`; name who can do it instead."""
    if ctx.actor.has(*roles):
        return
    who = ", ".join(sorted({n for r in roles for n in names_with_role(ctx, r)})) or "nobody yet"
    words = " or ".join(ROLE_WORDS[r] for r in roles)
    raise Forbidden(f"Only {words} can {to}. Ask: {who}.")


def local_tz(ctx: Context) -> ZoneInfo:
    return ctx.actor.tz


def to_utc(ctx: Context, naive_local: datetime) -> datetime:
    return naive_local.replace(tzinfo=local_tz(ctx)).astimezone(ZoneInfo("UTC"))


def when(dt: datetime | None, tz: ZoneInfo | str) -> str:
    """`Wed 10 Mar 2027 17:00 EST` in the reader's time zone."""
    if dt is None:
        return "—"
    tz = ZoneInfo(tz) if isinstance(tz, str) else tz
    local = dt.astimezone(tz)
    return local.strftime("%a %d %b %Y %H:%M ") + (local.tzname() or "")


def home_zone(s: Session, fallback: str) -> str:
    """The home MSP's time zone: the roster's `home: timezone:`, else `fallback` (the setting)."""
    return s.exec(select(Org.timezone).where(Org.kind == OrgKind.HOME)).first() or fallback


def reader_zone(s: Session, person: Person, home: str) -> str:
    """Where a person reads: their own time zone, else their org's, else the home MSP's."""
    org = s.get(Org, person.org_id)
    return person.timezone or (org.timezone if org else None) or home


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}${cents // 100:,}.{cents % 100:02d}"


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")
