"""Partner vetting: the six questions of the seed, and the measured track record."""
from __future__ import annotations

from pydantic import BaseModel
from sqlmodel import select

from handlers.common import audit, find_partner, plural, session, when
from handlers.contracts import current_agreement, valid_signature
from handlers.grammar import Arg, Kind, Opt
from handlers.incidents import open_incidents_by_org
from handlers.record import standing
from handlers.registry import command
from handlers.types import Context, Fact, Reply, Tone
from models.queries import track_records
from models.tables import Org, OrgKind, OrgStatus, Role, pk

QUESTIONS = {
    "quality": "quality of work",
    "commitment": "commitment to customer experience",
    "track": "track record",
    "reputation": "reputation in the channel",
    "credit": "credit-worthiness",
    "rapport": "getting along",
}
VET_EXAMPLE = 'vet "Contoso Field Services" quality=5 commitment=4 track=4 reputation=5 credit=4 rapport=5'


class ListPartners(BaseModel):
    pass


@command("partners", summary="the partner roster, ranked by measured record: vetting, agreement, track record", usage="partners",
         example="partners", roles={Role.MANAGER}, who="managers", reads_only=True)
def partners(cmd: ListPartners, ctx: Context) -> Reply:
    s = session(ctx)
    orgs = s.exec(select(Org).where(Org.kind == OrgKind.PARTNER).order_by(Org.name)).all()
    if not orgs:
        return Reply(text="No partners on the roster yet.")
    records = track_records(session=s)
    open_incidents = open_incidents_by_org(s, ctx.now)
    ag = current_agreement(s)
    ranked = sorted(((standing(s, pk(org)), org) for org in orgs), key=lambda x: (-x[0].score, x[1].name.lower()))
    fields = []
    for rank, (stand, org) in enumerate(ranked, 1):
        rec = records[pk(org)]
        scores = [getattr(org, f"score_{k}") for k in QUESTIONS]
        vetting = (f"scores {'/'.join(str(x) for x in scores)} (avg {sum(scores) / 6:.1f})"
                   if all(x is not None for x in scores) else "not scored")
        sig = valid_signature(s, pk(org), ag, ctx.now) if ag else None
        agreement = f"agreement until {when(sig.expires_at, ctx.actor.tz)[:15]}" if sig else "agreement NOT signed"
        rate = f"{rec.on_time_rate:.0%} on time" if rec.on_time_rate is not None else "no verified work yet"
        fields.append(Fact(
            label=f"{org.name} · {org.status}",
            value=f"#{rank} of {len(ranked)}, {stand.words()}\n{vetting}; {agreement}; {plural(rec.units_verified, 'unit')} verified, {rate}, "
            f"{rec.rework} rework, {rec.releases} releases, {plural(rec.leads, 'lead')} handed back; "
            f"paid {plural(org.terms_days, 'day')} after verification"
            + "".join(f"\n⚠️ open incident {line}" for line in open_incidents.get(pk(org), [])),
        ))
    return Reply(title="Partners", text="Ranked by their record: verified units × the share on time, less a quarter "
                 "for each incident and each claim revoked. Scores: " + ", ".join(QUESTIONS.values()) + " (1–5).",
                 fields=fields)


class VetPartner(BaseModel):
    partner: str
    quality: int
    commitment: int
    track: int
    reputation: int
    credit: int
    rapport: int


@command("vet", summary="score a partner on the six questions; marks it vetted",
         usage="vet <partner> quality=1-5 commitment=… track=… reputation=… credit=… rapport=…",
         example=VET_EXAMPLE, roles={Role.MANAGER}, who="managers",
         args=[Arg("partner", Kind.TEXT, rest=True)],
         opts={k: Opt(Kind.SCORE, required=True) for k in QUESTIONS})
def vet(cmd: VetPartner, ctx: Context) -> Reply:
    org = find_partner(ctx, cmd.partner)
    before = org.status
    for key in QUESTIONS:
        setattr(org, f"score_{key}", getattr(cmd, key))
    org.status, org.vetted_by_id, org.vetted_at = OrgStatus.VETTED, ctx.actor.person_id, ctx.now
    audit(ctx, "partner.vetted", org_id=org.id, was=before, **{k: getattr(cmd, k) for k in QUESTIONS})
    avg = sum(getattr(cmd, k) for k in QUESTIONS) / 6
    return Reply(text=f"{org.name} is vetted (average score {avg:.1f}). Its people can claim once the "
                 "agreement is signed and the guidelines acknowledged.", tone=Tone.SUCCESS)


# `suspend` and `reinstate` are in handlers/control.py, beside `revoke` (a suspension revokes claims).
