"""Capacity math: is there a shortfall before the deadline, and how many units to subcontract."""
from __future__ import annotations

import math
from datetime import datetime

from pydantic import BaseModel

from handlers.common import plural, to_utc, when
from handlers.errors import UsageError
from handlers.grammar import Kind, Opt
from handlers.registry import command
from handlers.types import Action, ActionKind, Context, Fact, Reply, Tone
from models.tables import Role

EXAMPLE = "capacity units=600 minutes=30 techs=8 hours=6 by=2027-03-10"


class Capacity(BaseModel):
    units: int
    minutes: int
    techs: int
    hours: float
    by: datetime  # naive, the sender's time zone
    days: int | None = None  # working days left; default: every day from today to the deadline


@command("capacity", summary="shortfall math; offers to post the shortfall as a request",
         usage="capacity units=600 minutes=30 techs=8 hours=6 by=YYYY-MM-DD [days=N]", example=EXAMPLE,
         roles={Role.DISPATCHER, Role.MANAGER}, who="dispatchers, managers",
         opts={"units": Opt(Kind.UNITS, required=True), "minutes": Opt(Kind.INT, required=True),
               "techs": Opt(Kind.INT, required=True), "hours": Opt(Kind.NUMBER, required=True),
               "by": Opt(Kind.DATE, required=True), "days": Opt(Kind.INT)})
def capacity(cmd: Capacity, ctx: Context) -> Reply:
    if cmd.hours > 24:
        raise UsageError("Hours are per tech per day, at most 24.", example=EXAMPLE)
    deadline = to_utc(ctx, cmd.by)
    today = ctx.now.astimezone(ctx.actor.tz).date()
    if cmd.days is None:
        days = (cmd.by.date() - today).days + 1
        if days <= 0:
            raise UsageError(f"The deadline {cmd.by.date()} has already passed.", example=EXAMPLE)
    else:
        days = cmd.days
    per_unit = cmd.minutes / 60
    can_do = math.floor(cmd.techs * cmd.hours * days / per_unit)
    shortfall = max(0, cmd.units - can_do)
    need_hours = cmd.units * per_unit
    fields = [
        Fact(label="Work", value=f"{plural(cmd.units, 'unit')} × {cmd.minutes} min = {need_hours:,.0f} tech-hours"),
        Fact(label="Your team", value=f"{cmd.techs} techs × {cmd.hours:g} h × {plural(days, 'day')} = "
             f"{cmd.techs * cmd.hours * days:,.0f} tech-hours"),
        Fact(label="Team can finish", value=plural(min(can_do, cmd.units), "unit")),
        Fact(label="Deadline", value=when(deadline, ctx.actor.tz), at=deadline),
    ]
    if shortfall == 0:
        spare = can_do - cmd.units
        return Reply(title="No shortfall", text=f"Your team can do it, with room for {plural(spare, 'unit')} more.",
                     fields=fields, tone=Tone.SUCCESS)
    actions = []
    if ctx.actor.has(Role.DISPATCHER):
        prefill = {"units": str(shortfall), "minutes": str(cmd.minutes), "deadline": cmd.by.isoformat(timespec="minutes")}
        actions.append(Action(
            kind=ActionKind.POST_REQUEST, label=f"Post {shortfall} units as a request", style="primary",
            command=f"request units={shortfall} minutes={cmd.minutes} deadline={cmd.by.isoformat(timespec='minutes')}",
            prefill=prefill,
        ))
    return Reply(
        title=f"Shortfall: {plural(shortfall, 'unit')}",
        text=f"Subcontract {plural(shortfall, 'unit')} ({shortfall * per_unit:,.0f} tech-hours) to partners "
        f"to finish by the deadline.",
        fields=fields, actions=actions, tone=Tone.WARNING,
    )
