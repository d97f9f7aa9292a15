"""Closing the books: a partner's statement, settling a month, billing per customer, CSV exports.

Every figure is units × the rate the claim kept when it was taken (`Claim.pay_cents`,
`Claim.bill_cents`), in whole cents. A month is the reader's (`month=` in their time zone); which
verified work counts in it, and how a settled month stays unchanged, is `models.books`.
"""
from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, field_validator
from sqlmodel import Session, select

from handlers.common import audit, find_partner, money, plural, session, when
from handlers.errors import Conflict, Forbidden, UsageError
from handlers.grammar import Arg, Kind, Opt
from handlers.registry import command
from handlers.types import Audience, Context, Fact, FileOut, Message, Reply, Tone
from models.books import Line, month_bounds, month_lines, month_of, settlements
from models.ledger import SettledLine
from models.tables import Org, OrgKind, Person, Role, Settlement, pk

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
PAYABLES = ["partner", "request", "title", "tech", "units", "pay_rate", "amount", "verified_at", "settled_ref"]
BILLING = ["customer", "site", "request", "title", "units", "bill_rate", "amount", "verified_at"]
STATEMENT_EXAMPLE = 'statement "Contoso Field Services" month=2027-03'
SETTLE_EXAMPLE = 'settle "Contoso Field Services" month=2027-03 ref="ACH 20270405-17"'


def _month_value(value: str | None) -> str | None:
    if value is not None and not MONTH.match(value):
        raise ValueError(f"month is a year and a month, like 2027-03 (not “{value[:20]}”)")
    return value


class _Monthly(BaseModel):
    month: str | None = None

    @field_validator("month")
    @classmethod
    def _check_month(cls, v: str | None) -> str | None:
        return _month_value(v)


def month_or_now(ctx: Context, month: str | None) -> str:
    return month or month_of(ctx.now, ctx.actor.tz)


def month_label(month: str) -> str:
    return datetime(int(month[:4]), int(month[5:7]), 1).strftime("%B %Y")


def decimal(cents: int) -> str:
    """Cents as a plain amount with two decimals (`1234.50`), exact."""
    return f"{Decimal(cents).scaleb(-2):.2f}"


def verified_units(lines: list[Line]) -> int:
    """Units of work and credits (an expense is a line of one "unit" at cost, not work)."""
    return sum(x.units for x in lines if x.kind != "expense")


def owed_words(lines: list[Line]) -> str:
    """What some lines are worth to the partner: `$220.10 for 5 verified units and $45.10 of expenses`."""
    spent = sum(x.owed for x in lines if x.kind == "expense")
    return (f"{money(sum(x.owed for x in lines))} for {plural(verified_units(lines), 'verified unit')}"
            + (f" and {money(spent)} of expenses" if spent else ""))


def _partner_lines(lines: list[Line], tz: ZoneInfo) -> list[Fact]:
    """Per request, a line per tech: units × the claim's pay rate = amount, and when it is due."""
    by_request: dict[tuple[int, str], list[Line]] = defaultdict(list)
    for x in lines:
        by_request[(x.request_id, x.title)].append(x)
    return [Fact(label=f"SR-{rid} · {title}", value="\n".join(
        f"{x.tech}: {plural(x.units, 'unit')} × {money(x.pay_cents)} = {money(x.owed)}"
        + (" (adjustment: verified after its month was settled)" if x.adjustment else "")
        + f", due {x.due_at.astimezone(tz):%Y-%m-%d}" for x in group))
        for (rid, title), group in by_request.items()]


def _settled_words(found: Settlement | None, ctx: Context) -> str:
    if found is None:
        return "Not settled yet."
    ref = f", reference “{found.ref}”" if found.ref else ""
    return f"Settled {when(found.at, ctx.actor.tz)}{ref}: {money(found.total_cents)}."


class ShowStatement(_Monthly):
    partner: str | None = None


@command("statement", summary="a partner's verified work of the month and what it is owed",
         usage="statement [partner] [month=YYYY-MM]", example=STATEMENT_EXAMPLE,
         roles={Role.PARTNER_ADMIN, Role.MANAGER}, who="partner admins (their own), managers",
         args=[Arg("partner", Kind.TEXT, required=False, rest=True)], opts={"month": Opt(Kind.WORD)},
         reads_only=True)
def statement(cmd: ShowStatement, ctx: Context) -> Reply:
    s = session(ctx)
    month = month_or_now(ctx, cmd.month)
    if ctx.actor.has(Role.MANAGER) and not cmd.partner:
        return _all_statements(ctx, month)
    org = find_partner(ctx, cmd.partner) if cmd.partner else s.get_one(Org, ctx.actor.oid)
    if not ctx.actor.has(Role.MANAGER) and org.id != ctx.actor.org_id:
        raise Forbidden(f"You can see {ctx.actor.org_name}'s statement only.", example="statement")
    lines = month_lines(session=s, month=month, tz=ctx.actor.tz, org_id=pk(org))
    found = settlements(session=s, org_id=pk(org)).get((pk(org), month))
    text = f"Owed to {org.name} for {month_label(month)}: {owed_words(lines)}. {_settled_words(found, ctx)}"
    fields = _partner_lines(lines, ctx.actor.tz) or [Fact(label="Verified work", value="None this month.")]
    return Reply(title=f"Statement · {org.name} · {month_label(month)}", text=text, fields=fields)


def _all_statements(ctx: Context, month: str) -> Reply:
    s = session(ctx)
    lines = month_lines(session=s, month=month, tz=ctx.actor.tz)
    settled = settlements(session=s)
    orgs = s.exec(select(Org).where(Org.kind == OrgKind.PARTNER).order_by(Org.name)).all()
    fields = []
    for org in orgs:
        mine = [x for x in lines if x.org_id == org.id]
        fields.append(Fact(label=org.name, value=f"{owed_words(mine)}. "
                           + _settled_words(settled.get((pk(org), month)), ctx)))
    return Reply(title=f"Statements · {month_label(month)}",
                 text=f"Owed to partners: {money(sum(x.owed for x in lines))}. `statement <partner>` shows one.",
                 fields=fields)


class SettleMonth(_Monthly):
    partner: str
    month: str
    ref: str = ""


@command("settle", summary="mark a partner's month paid; its admins are told", usage=(
         'settle <partner> month=YYYY-MM [ref="…"]'), example=SETTLE_EXAMPLE, roles={Role.MANAGER},
         who="managers", args=[Arg("partner", Kind.TEXT, rest=True)],
         opts={"month": Opt(Kind.WORD, required=True), "ref": Opt(Kind.TEXT, max_len=200)})
def settle(cmd: SettleMonth, ctx: Context) -> Reply:
    s = session(ctx)
    org = find_partner(ctx, cmd.partner)
    label = month_label(cmd.month)
    start, _ = month_bounds(cmd.month, ctx.actor.tz)
    if start > ctx.now:
        raise Conflict(f"{label} hasn't begun; nothing in it can be settled yet.")
    found = settlements(session=s, org_id=pk(org)).get((pk(org), cmd.month))
    if found is not None:
        raise Conflict(f"{org.name}'s {label} is already settled ({when(found.at, ctx.actor.tz)}, "
                       f"{money(found.total_cents)}{', reference “' + found.ref + '”' if found.ref else ''}). "
                       "A settled month never changes: later corrections appear in the next month.")
    lines = month_lines(session=s, month=cmd.month, tz=ctx.actor.tz, org_id=org.id)
    if not lines:
        raise Conflict(f"{org.name} has no verified work in {label}: there is nothing to settle.",
                       example=f'statement "{org.name}" month={cmd.month}')
    total, units = sum(x.owed for x in lines), verified_units(lines)
    paid = Settlement(org_id=pk(org), month=cmd.month, ref=cmd.ref, by_id=ctx.actor.pid, at=ctx.now,
                      total_cents=total)
    s.add(paid)
    s.flush()
    for x in lines:  # the lines it paid: they count in this month for every reader, in any time zone
        s.add(SettledLine(settlement_id=pk(paid), kind=x.kind, source_id=x.source_id, units=x.units,
                          amount_cents=x.owed))
    s.flush()
    audit(ctx, "books.settled", org_id=org.id, units=units, month=cmd.month, ref=cmd.ref, total_cents=total,
          lines=len(lines))
    ref = f" Reference: “{cmd.ref}”." if cmd.ref else ""
    reply = Reply(text=f"Settled {org.name}'s {label}: {owed_words(lines)}.{ref} "
                  "Its admins are told; work verified for it from now on counts in the next month.",
                  tone=Tone.SUCCESS)
    admins = s.exec(select(Person).where(Person.org_id == org.id, Person.active).order_by(Person.name)).all()
    for p in admins:
        if p.has(Role.PARTNER_ADMIN):
            reply.tell(Message(audience=Audience.DM, person_id=p.id, tone=Tone.SUCCESS,
                               title=f"Statement settled · {label}",
                               text=f"{ctx.actor.name} marked {org.name}'s {label} paid: {owed_words(lines)}.{ref} "
                               f"Type `statement month={cmd.month}` for the lines."))
    return reply


class ShowBilling(_Monthly):
    customer: str | None = None


@command("billing", summary="verified work per customer, at the claims' bill rates",
         usage="billing [customer] [month=YYYY-MM]", example='billing "Acme Dental" month=2027-03',
         roles={Role.MANAGER}, who="managers", args=[Arg("customer", Kind.TEXT, required=False, rest=True)],
         opts={"month": Opt(Kind.WORD)}, reads_only=True)
def billing(cmd: ShowBilling, ctx: Context) -> Reply:
    month = month_or_now(ctx, cmd.month)
    lines = month_lines(session=session(ctx), month=month, tz=ctx.actor.tz, payables=False)
    if cmd.customer:
        needle = cmd.customer.lower().strip()
        lines = [x for x in lines if needle in x.customer.lower()]
    by_customer: dict[str, list[Line]] = defaultdict(list)
    for x in sorted(lines, key=lambda x: (x.customer, x.request_id, x.site, x.verified_at)):
        by_customer[x.customer or "(no customer)"].append(x)
    fields = [Fact(label=f"{name} · {money(sum(x.billed for x in group))}", value="\n".join(
        f"SR-{x.request_id} · {x.title} · {x.site or 'no site'}: {plural(x.units, 'unit')} × "
        f"{money(x.bill_cents)} = {money(x.billed)}" for x in group)) for name, group in by_customer.items()]
    billed, paid = sum(x.billed for x in lines), sum(x.owed for x in lines)
    whose = f" for customers matching “{cmd.customer}”" if cmd.customer else ""
    spent = sum(x.billed for x in lines if x.kind == "expense")  # at cost: an expense is not a unit of work
    text = (f"Billed{whose}: {money(billed)} for {plural(verified_units(lines), 'verified unit')}"
            + (f" and {money(spent)} of expenses at cost" if spent else "")
            + f"; paid to partners {money(paid)}; margin {money(billed - paid)}.") if lines \
        else f"No verified work{whose} in {month_label(month)}."
    # Names customers and sites: only ever to the manager who asked.
    return Reply(title=f"Billing · {month_label(month)}", text=text, fields=fields, private=True)


def payables_csv(s: Session, month: str, tz: ZoneInfo) -> tuple[str, list[Line]]:
    lines = month_lines(session=s, month=month, tz=tz)
    settled = settlements(session=s)
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180: quotes what needs it, CRLF line ends
    writer.writerow(PAYABLES)
    for x in lines:
        found = settled.get((x.org_id, month))
        writer.writerow([x.partner, x.ref, x.title, x.tech, x.units, decimal(x.pay_cents), decimal(x.owed),
                         x.verified_at.astimezone(tz).isoformat(timespec="minutes"), found.ref if found else ""])
    return out.getvalue(), lines


def billing_csv(s: Session, month: str, tz: ZoneInfo) -> tuple[str, list[Line]]:
    lines = sorted(month_lines(session=s, month=month, tz=tz, payables=False),
                   key=lambda x: (x.customer, x.site, x.request_id, x.verified_at))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(BILLING)
    for x in lines:
        writer.writerow([x.customer, x.site, x.ref, x.title, x.units, decimal(x.bill_cents), decimal(x.billed),
                         x.verified_at.astimezone(tz).isoformat(timespec="minutes")])
    return out.getvalue(), lines


EXPORTS = {"payables": payables_csv, "billing": billing_csv}


class Export(_Monthly):
    what: str

    @field_validator("what")
    @classmethod
    def _known(cls, v: str) -> str:
        if v.lower() not in EXPORTS:
            raise ValueError("export payables or billing")
        return v.lower()


@command("export", summary="payables or billing of a month as a CSV file", usage="export payables|billing "
         "[month=YYYY-MM]", example="export payables month=2027-03", roles={Role.MANAGER}, who="managers",
         args=[Arg("what", Kind.WORD)], opts={"month": Opt(Kind.WORD)}, reads_only=True)
def export(cmd: Export, ctx: Context) -> Reply:
    month = month_or_now(ctx, cmd.month)
    content, lines = EXPORTS[cmd.what](session(ctx), month, ctx.actor.tz)
    name = f"surge-{cmd.what}-{month}.csv"
    return Reply(
        title=f"Export · {cmd.what} · {month_label(month)}",
        file=FileOut(name=name, content=content, command=f"surge export {cmd.what} --month {month}"),
        text=f"{name}: {plural(len(lines), 'line')}. From a terminal on the server: "
        f"`surge export {cmd.what} --month {month} --out {name}`.",
        private=cmd.what == "billing",  # names customers and sites
    )


def month_arg(month: str | None, now: datetime, tz: ZoneInfo) -> str:
    """The CLI's `--month`, checked, or the current month in `tz`."""
    if month is None:
        return month_of(now, tz)
    if not MONTH.match(month):
        raise UsageError(f"--month is a year and a month, like 2027-03 (not “{month}”).")
    return month
