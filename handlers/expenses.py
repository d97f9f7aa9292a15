"""Expenses (`EX-n`): money a claimant spent on a claim (`expense SR-7 45.00 "patch cable"`). A
dispatcher approves or rejects it (`approve EX-4`, `reject EX-4 "why"`: the same commands as for
claims, chosen by the id's prefix). An approved expense is paid with the partner's statement and
billed to the customer at cost, counted like a verification on the day it was approved.

Amounts are exact: the grammar reads dollars and cents as whole cents, never through a float.
"""
from __future__ import annotations

from pydantic import BaseModel
from sqlmodel import col, select

from handlers.common import audit, get_request, money, session, when
from handlers.errors import Conflict, NotFound, UsageError
from handlers.grammar import Arg, Kind
from handlers.incidents import parse_ref
from handlers.registry import command
from handlers.types import Audience, Context, Message, Reply, Tone
from models.ledger import Expense, ExpenseStatus
from models.tables import Claim, ClaimStatus, Role, pk

EXPENSE_EXAMPLE = 'expense SR-7 45.00 "patch cable"'
SPENDABLE = (ClaimStatus.ACTIVE, ClaimStatus.IN_PROGRESS, ClaimStatus.DONE, ClaimStatus.VERIFIED)


class ClaimExpense(BaseModel):
    request: int
    amount: int  # cents
    what: str


@command("expense", summary="an expense on your claim, paid with the statement once approved",
         usage='expense SR-7 45.00 "what for"', example=EXPENSE_EXAMPLE, roles={Role.TECH, Role.PARTNER_ADMIN},
         who="the claimant", args=[Arg("request", Kind.REQUEST), Arg("amount", Kind.MONEY),
                                   Arg("what", Kind.TEXT, rest=True, max_len=200)])
def expense(cmd: ClaimExpense, ctx: Context) -> Reply:
    s = session(ctx)
    req = get_request(ctx, cmd.request)
    if cmd.amount <= 0:
        raise UsageError("An expense is an amount above 0.", example=EXPENSE_EXAMPLE)
    c = s.exec(select(Claim).where(Claim.request_id == req.id, Claim.person_id == ctx.actor.person_id,
                                   col(Claim.status).in_(SPENDABLE)).order_by(col(Claim.id).desc())).first()
    if c is None:
        raise Conflict(f"You have no claim on {req.ref} to put an expense on; only its claimant can.")
    e = Expense(claim_id=pk(c), org_id=c.org_id, person_id=ctx.actor.pid, amount_cents=cmd.amount,
                what=cmd.what, at=ctx.now)
    s.add(e)
    s.flush()
    audit(ctx, "expense.submitted", claim=c, expense=e.ref, amount_cents=cmd.amount)
    return Reply(tone=Tone.SUCCESS, text=f"Recorded {e.ref}: {money(cmd.amount)} for “{cmd.what}” on {req.ref}. "
                 "Dispatch is asked to approve it; once approved it is paid with your company's statement.") \
        .tell(Message(audience=Audience.DISPATCH, request_id=req.id, title=f"Expense {e.ref} · {req.ref}",
                      text=f"{ctx.actor.name} ({ctx.actor.org_name}) spent {money(cmd.amount)} on {req.ref} · "
                      f"{req.title}: “{cmd.what}”. `approve {e.ref}` or `reject {e.ref} \"why\"`; an approved "
                      "expense is paid to the partner and billed to the customer at cost."))


def _waiting(ctx: Context, raw: str, verb: str) -> Expense:
    prefix, number = parse_ref(raw)
    stmt = select(Expense).where(Expense.id == number).with_for_update()
    e = session(ctx).exec(stmt.execution_options(populate_existing=True)).first()
    if prefix != "EX" or e is None:
        raise NotFound(f"There is no EX-{number}.")
    if e.status != ExpenseStatus.WAITING:
        raise Conflict(f"{e.ref} was {e.status} already, on {when(e.decided_at, ctx.actor.tz)}; "
                       f"it can't be {verb} now.")
    return e


def _decide(ctx: Context, e: Expense, status: ExpenseStatus, reason: str = "") -> tuple[Claim, str]:
    e.status, e.decided_by_id, e.decided_at, e.reason = status, ctx.actor.person_id, ctx.now, reason
    c = session(ctx).get_one(Claim, e.claim_id)
    audit(ctx, f"expense.{status}", claim=c, expense=e.ref, amount_cents=e.amount_cents, why=reason)
    return c, f"{e.ref} ({money(e.amount_cents)}, “{e.what}”)"


class ApproveExpense(BaseModel):
    expense: str


@command("approve", summary="approve an expense; it is paid with the statement and billed at cost",
         usage="approve EX-4", example="approve EX-4", roles={Role.DISPATCHER}, who="dispatchers",
         args=[Arg("expense", Kind.WORD, max_len=40)], prefix="EX")
def approve_expense(cmd: ApproveExpense, ctx: Context) -> Reply:
    e = _waiting(ctx, cmd.expense, "approved")
    c, what = _decide(ctx, e, ExpenseStatus.APPROVED)
    req = get_request(ctx, c.request_id)
    return Reply(tone=Tone.SUCCESS, text=f"Approved {what} on {req.ref}: it is paid with this month's "
                 "statement and billed to the customer at cost.").tell(Message(
                     audience=Audience.DM, person_id=e.person_id, request_id=req.id, tone=Tone.SUCCESS,
                     text=f"{ctx.actor.name} approved your expense {what} on {req.ref} · {req.title}; "
                     "it is paid with your company's statement."))


class RejectExpense(BaseModel):
    expense: str
    why: str


@command("reject", summary="reject an expense, saying why", usage='reject EX-4 "why"',
         example='reject EX-4 "the customer supplied the cables"', roles={Role.DISPATCHER}, who="dispatchers",
         args=[Arg("expense", Kind.WORD, max_len=40), Arg("why", Kind.TEXT, rest=True, max_len=1000)], prefix="EX")
def reject_expense(cmd: RejectExpense, ctx: Context) -> Reply:
    e = _waiting(ctx, cmd.expense, "rejected")
    c, what = _decide(ctx, e, ExpenseStatus.REJECTED, cmd.why)
    req = get_request(ctx, c.request_id)
    return Reply(tone=Tone.SUCCESS, text=f"Rejected {what} on {req.ref}; the claimant is told why.").tell(Message(
        audience=Audience.DM, person_id=e.person_id, request_id=req.id, tone=Tone.WARNING,
        text=f"{ctx.actor.name} did not approve your expense {what} on {req.ref} · {req.title}: {cmd.why}"))
