"""Why a claim is refused at a gate (vetting, agreement, guidelines), in the gates' order: each refusal
says what to do next and who can help. The claim's own read finds whether a gate is closed;
`closed_gate` decides which, and this words it."""
from __future__ import annotations

from handlers.common import names_with_role, session
from handlers.contracts import Gate, closed_gate
from handlers.errors import Forbidden, GateClosed
from handlers.types import Action, ActionKind, Context
from handlers.views import guideline_facts
from models.tables import Org, Role


def check_gates(ctx: Context, request_id: int, wanted: int | None) -> Org:
    """Vetting, agreement, guidelines (`closed_gate` decides): each refusal says what to do next and who."""
    s = session(ctx)
    org = s.get_one(Org, ctx.actor.oid)
    closed = closed_gate(s, org, ctx.actor.pid, ctx.now)
    if closed is None:
        return org
    if closed.gate is Gate.HOME:
        raise Forbidden("Claims are for partner techs; home staff are scheduled directly.")
    if closed.gate in (Gate.SUSPENDED, Gate.NOT_VETTED):
        managers = ", ".join(names_with_role(ctx, Role.MANAGER)) or "a manager"
        state = "suspended" if closed.gate is Gate.SUSPENDED else "not vetted yet"
        raise GateClosed(f"{org.name} is {state}, so its people can't claim work. Talk to {managers}.")
    agreement = closed.agreement
    if closed.gate is Gate.NO_AGREEMENT or agreement is None:
        admins = ", ".join(names_with_role(ctx, Role.ADMIN)) or "whoever runs Surge"
        raise GateClosed(f"No non-solicitation agreement is set up yet, so nobody can claim. Ask {admins}.")
    units = f" {wanted}" if wanted else ""
    if closed.gate is Gate.UNSIGNED:
        if ctx.actor.has(Role.PARTNER_ADMIN):
            raise GateClosed(
                f"{org.name} hasn't signed the current non-solicitation agreement ({agreement.title}, version "
                f"{agreement.version}). As a partner admin you can sign it now; your claim goes on after.",
                actions=[Action(kind=ActionKind.SIGN, label="Read and sign", command="agreement",
                                then=f"claim SR-{request_id}{units}", style="primary")],
            )
        signers = ", ".join(names_with_role(ctx, Role.PARTNER_ADMIN, org_id=org.id)) or "your company's signatory"
        raise GateClosed(
            f"{org.name} hasn't signed the current non-solicitation agreement (version {agreement.version}), "
            f"so you can't claim yet. Ask {signers} to sign it: they type `agreement` to me."
        )
    guidelines = closed.guidelines
    if closed.gate is Gate.NO_GUIDELINES or guidelines is None:
        admins = ", ".join(names_with_role(ctx, Role.ADMIN)) or "whoever runs Surge"
        raise GateClosed(f"The field-conduct guidelines are not set up yet, so nobody can claim. Ask {admins}.")
    raise GateClosed(  # Gate.NOT_ACKED
        f"Before your first claim, read the field-conduct guidelines (version {guidelines.version}) "
        "and acknowledge them; your claim goes on after.",
        fields=guideline_facts(guidelines),
        actions=[Action(kind=ActionKind.ACK_GUIDELINES, label="I acknowledge", command="guidelines ack",
                        then=f"claim SR-{request_id}{units}", style="primary")],
    )
