"""Each person's home page (Slack's App Home tab; in Teams, `mine` in the personal chat): `mine`.

The same facts as the `mine` command, through the same code (`handlers.mine.mine`): a tech's claims
by state and this month's earnings, a partner admin's for the whole partner, what waits for a
dispatcher, and a manager's open problems. Below them, the requests a person may still claim from
(techs, partner admins, dispatchers), so the page says what to do next.
"""
from __future__ import annotations

from sqlmodel import col, select

from handlers.common import money, session, when
from handlers.mine import ShowMine, mine
from handlers.types import Context, Fact, Reply
from models.tables import RequestStatus, Role, SurgeRequest

OPEN = (RequestStatus.OPEN, RequestStatus.PARTLY_CLAIMED)
SHOWN = 15


def home(ctx: Context) -> Reply:
    if not ctx.actor.known:
        return Reply(title="Surge", text="You're not on this Surge roster yet. An admin adds you; then this page "
                     "shows your work.")
    reply = mine(ShowMine(), ctx)
    fields = list(reply.fields)
    if ctx.actor.has(Role.TECH, Role.PARTNER_ADMIN, Role.DISPATCHER):
        fields.append(_open_requests(ctx))
    return reply.model_copy(update={"title": f"Surge · {ctx.actor.name}", "fields": fields,
                                    "text": f"{ctx.actor.org_name} · updated {when(ctx.now, ctx.actor.tz)}"})


def _open_requests(ctx: Context) -> Fact:
    stmt = select(SurgeRequest).where(col(SurgeRequest.status).in_(OPEN), col(SurgeRequest.deadline) > ctx.now)
    if not ctx.actor.is_home:  # a partner sees a request once it is offered as wide as the partner's tier
        stmt = stmt.where(col(SurgeRequest.visible_tier) >= ctx.actor.tier)
    rows = session(ctx).exec(stmt.order_by(col(SurgeRequest.deadline)).limit(SHOWN)).all()
    return Fact(label="Requests with units left", value="\n".join(
        f"{r.ref} · {r.title}: {r.units_left:,} of {r.units:,} left, {money(r.pay_cents)}/unit, "
        f"due {when(r.deadline, ctx.actor.tz)}" for r in rows) or "None right now.")
