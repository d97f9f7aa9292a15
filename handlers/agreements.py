"""The non-solicitation agreement and the field-conduct guidelines, in chat."""
from __future__ import annotations

import unicodedata

from pydantic import BaseModel, model_validator
from sqlmodel import select

from handlers.common import audit, names_with_role, session, when
from handlers.contracts import (
    ack_of,
    add_months,
    current_agreement,
    current_guidelines,
    valid_signature,
)
from handlers.errors import Conflict, Forbidden, NotFound, UsageError
from handlers.grammar import Arg, Kind
from handlers.registry import command
from handlers.types import Action, ActionKind, Audience, Context, Fact, Form, Message, Reply, Tone
from handlers.views import guideline_facts
from models.tables import GuidelineAck, Org, OrgKind, Role, Signature, pk

AGREEMENT_PREVIEW = 2800


class ShowAgreement(BaseModel):
    pass


@command("agreement", summary="the current non-solicitation agreement and whether your company signed it",
         usage="agreement", example="agreement")
def agreement(cmd: ShowAgreement, ctx: Context) -> Reply:
    s = session(ctx)
    ag = current_agreement(s)
    if ag is None:
        raise NotFound("No non-solicitation agreement is set up yet. An admin adds it to the roster file.")
    tz = ctx.actor.tz
    fields = [Fact(label="Version", value=ag.version), Fact(label="Term", value=f"{ag.term_months} months"),
              Fact(label="Text fingerprint", value=ag.text_hash[:16])]
    actions: list[Action] = []
    if ctx.actor.is_home:
        partners = s.exec(select(Org).where(Org.kind == OrgKind.PARTNER).order_by(Org.name)).all()
        for org in partners:
            sig = valid_signature(s, pk(org), ag, ctx.now)
            fields.append(Fact(label=org.name, value=f"signed by {sig.typed_name}, until {when(sig.expires_at, tz)}"
                               if sig else "not signed"))
    else:
        sig = valid_signature(s, ctx.actor.oid, ag, ctx.now)
        org_name = ctx.actor.org_name or "Your company"
        if sig:
            fields.append(Fact(label=org_name,
                               value=f"signed by {sig.typed_name} on {when(sig.signed_at, tz)}, "
                               f"valid until {when(sig.expires_at, tz)}"))
        else:
            fields.append(Fact(label=org_name, value="not signed: nobody here can claim work until it is"))
            if ctx.actor.has(Role.PARTNER_ADMIN):
                actions.append(Action(kind=ActionKind.SIGN, label="Sign…", command="sign", style="primary",
                                      prefill={"version": ag.version}))
            else:
                signers = ", ".join(names_with_role(ctx, Role.PARTNER_ADMIN, org_id=ctx.actor.org_id))
                fields.append(Fact(label="Who can sign", value=signers or "your company's partner admin"))
    text = ag.text if len(ag.text) <= AGREEMENT_PREVIEW else ag.text[:AGREEMENT_PREVIEW] + "… (full text in the sign form)"
    if actions:
        text += '\n\nTo sign by text, type: `sign "Your Full Name"`.'
    return Reply(title=f"{ag.title} (version {ag.version})", text=text, fields=fields, actions=actions)


class AgreementDocument(BaseModel):
    title: str
    version: str
    text: str
    text_hash: str


def agreement_document(ctx: Context) -> AgreementDocument | None:
    """The whole current agreement, for the sign form."""
    ag = current_agreement(session(ctx))
    if ag is None:
        return None
    return AgreementDocument(title=ag.title, version=ag.version, text=ag.text, text_hash=ag.text_hash)


class SignAgreement(BaseModel):
    name: str | None = None  # no name: open the sign form


def _same_name(a: str, b: str) -> bool:
    norm = lambda x: " ".join(unicodedata.normalize("NFKC", x).casefold().split())  # noqa: E731
    return norm(a) == norm(b)


@command("sign", summary="sign the current agreement for your company", usage='sign "Full Name"',
         example='sign "Paula Admin"', roles={Role.PARTNER_ADMIN}, who="partner admins",
         args=[Arg("name", Kind.TEXT, required=False, rest=True)])
def sign(cmd: SignAgreement, ctx: Context) -> Reply:
    s = session(ctx)
    if ctx.actor.is_home:
        raise Forbidden("Only a partner company signs the non-solicitation agreement.")
    ag = current_agreement(s)
    if ag is None:
        raise NotFound("No non-solicitation agreement is set up yet. An admin adds it to the roster file.")
    existing = valid_signature(s, ctx.actor.oid, ag, ctx.now)
    if existing:
        raise Conflict(f"{ctx.actor.org_name} signed version {ag.version} already ({existing.typed_name}, "
                       f"{when(existing.signed_at, ctx.actor.tz)}); it is valid until {when(existing.expires_at, ctx.actor.tz)}.")
    if cmd.name is None:
        return Reply(text=f"Read {ag.title} and sign with your full name.", form=Form.SIGN,
                     prefill={"version": ag.version})
    if not _same_name(cmd.name, ctx.actor.name or ""):
        raise UsageError("The name you typed doesn't match your name on the roster. Type your full name exactly.",
                         example=f'sign "{ctx.actor.name}"')
    sig = Signature(org_id=ctx.actor.oid, agreement_id=pk(ag), signer_id=ctx.actor.person_id,
                    typed_name=cmd.name.strip(), signed_at=ctx.now, expires_at=add_months(ctx.now, ag.term_months),
                    text_hash=ag.text_hash, method="chat")
    s.add(sig)
    s.flush()
    audit(ctx, "agreement.signed", org_id=ctx.actor.org_id, version=ag.version, text_hash=ag.text_hash,
          typed_name=sig.typed_name)
    return Reply(
        text=f"Signed: {ag.title}, version {ag.version}, for {ctx.actor.org_name}, by {sig.typed_name}, "
        f"valid until {when(sig.expires_at, ctx.actor.tz)}. Your people can claim work now.",
        tone=Tone.SUCCESS,
    ).tell(Message(audience=Audience.MANAGERS, tone=Tone.SUCCESS,
                   text=f"{ctx.actor.org_name} signed {ag.title} version {ag.version} ({sig.typed_name})."))


class ShowGuidelines(BaseModel):
    ack: str | None = None

    @model_validator(mode="after")
    def _word(self) -> ShowGuidelines:
        if self.ack is not None and self.ack.lower() not in {"ack", "acknowledge"}:
            raise ValueError("After `guidelines` only `ack` may follow")
        return self


@command("guidelines", summary="the field-conduct guidelines; `guidelines ack` acknowledges them",
         usage="guidelines [ack]", example="guidelines ack", args=[Arg("ack", Kind.WORD, required=False)])
def guidelines(cmd: ShowGuidelines, ctx: Context) -> Reply:
    s = session(ctx)
    g = current_guidelines(s)
    if g is None:
        raise NotFound("No field-conduct guidelines are set up yet. An admin adds them to the roster file.")
    acked = ack_of(s, ctx.actor.pid, g) if ctx.actor.known else None
    if cmd.ack is None:
        actions = []
        note = "Every partner tech acknowledges these once before a first claim; they travel with every job."
        if ctx.actor.has(Role.TECH, Role.PARTNER_ADMIN):
            if acked:
                note = f"You acknowledged this version on {when(acked.acked_at, ctx.actor.tz)}."
            else:
                actions.append(Action(kind=ActionKind.ACK_GUIDELINES, label="I acknowledge",
                                      command="guidelines ack", style="primary"))
                note = "Acknowledge them once before your first claim."
        return Reply(title=f"Field-conduct guidelines (version {g.version})", text=note,
                     fields=guideline_facts(g), actions=actions)
    if not ctx.actor.has(Role.TECH, Role.PARTNER_ADMIN):
        raise Forbidden("Only partner techs and partner admins acknowledge the guidelines.")
    if acked:
        return Reply(text=f"You acknowledged version {g.version} on {when(acked.acked_at, ctx.actor.tz)} already.")
    s.add(GuidelineAck(person_id=ctx.actor.pid, guideline_id=pk(g), acked_at=ctx.now))
    audit(ctx, "guidelines.acknowledged", org_id=ctx.actor.org_id, version=g.version)
    return Reply(text=f"Thank you: guidelines version {g.version} acknowledged.", tone=Tone.SUCCESS)
