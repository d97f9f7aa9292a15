"""The roster file: the home MSP, partners, people, channels, the agreement and the guidelines.

Loading is idempotent (the same file twice changes nothing) and all-or-nothing: a file with any
error is refused whole, each error with its line and reason. YAML is read without YAML 1.1's
surprises: `yes`/`no`/`on`/`off` stay words and `29:10` stays text.
"""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import func
from sqlmodel import Session, select

from handlers.contracts import add_months, text_hash
from handlers.lifecycle import sync_active
from models.db import Database
from models.tables import (
    AgreementVersion,
    AuditEntry,
    Channel,
    ChannelPurpose,
    GuidelineVersion,
    Org,
    OrgKind,
    OrgStatus,
    Person,
    Platform,
    Role,
    Signature,
    pk,
)


class RosterError(Exception):
    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


class _Loader(yaml.SafeLoader):
    """SafeLoader with only `true`/`false` as booleans, decimal integers only (no sexagesimal, no
    octal: `010` is 10 and `08` is 8), and a bad value (`2026-11-31`) reported with its line."""

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"{_short_value(node)}: {exc}", node.start_mark) from None


def _short_value(node) -> str:
    value = node.value if isinstance(node.value, str) else node.tag
    return repr(value if len(value) <= 40 else value[:39] + "…")


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int")]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
def _int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    return int(loader.construct_scalar(node), 10)


_Loader.add_constructor("tag:yaml.org,2002:int", _int)


def _tz(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use a name like America/New_York)") from None
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, coerce_numbers_to_str=True)


class HomeIn(_Strict):
    name: str = Field(min_length=1, max_length=200)
    timezone: str | None = None  # none: the SURGE_TIMEZONE setting
    payment_terms_days: int = Field(default=30, ge=0, le=365, strict=True)  # partners' default terms
    _tz = field_validator("timezone")(_tz)


class SignedIn(_Strict):
    version: str
    by: str = Field(min_length=1)
    date: date


class PartnerIn(_Strict):
    name: str = Field(min_length=1, max_length=200)
    status: OrgStatus = OrgStatus.PENDING
    # The partner sees and claims a request once it is offered this wide (1 = from the start). Strict:
    # `tier: "2"`, `tier: 1.5` or `tier: true` is a mistake to show, not to guess at.
    tier: int = Field(default=1, ge=1, le=9, strict=True)
    skills: list[str] = Field(default_factory=list)
    timezone: str | None = None
    terms_days: int | None = Field(default=None, ge=0, le=365, strict=True)  # none: the home's terms
    signed: SignedIn | None = None
    _tz = field_validator("timezone")(_tz)


class PersonIn(_Strict):
    name: str = Field(min_length=1, max_length=200)
    org: str
    roles: list[Role] = Field(default_factory=list)
    slack: str | None = None
    teams: str | None = None
    timezone: str | None = None
    _tz = field_validator("timezone")(_tz)

    @field_validator("roles", mode="before")
    @classmethod
    def _roles(cls, v):
        items = [v] if isinstance(v, str) else list(v or [])
        return [str(r).strip().lower().replace(" ", "_").replace("-", "_") for r in items]


class ChannelIn(_Strict):
    platform: str = Field(pattern="^(slack|teams)$")
    id: str = Field(min_length=1)
    purpose: str = Field(pattern="^(partners|dispatch|managers)$")
    tier: int | None = Field(default=None, ge=1, le=9)
    name: str | None = None


class AgreementIn(_Strict):
    version: str = Field(min_length=1)
    title: str = "Mutual Non-Solicitation Agreement"
    term_months: int = Field(default=12, ge=1, le=120)
    text: str = Field(min_length=20)


class GuidelinesIn(_Strict):
    version: str = Field(min_length=1)
    introduce: str = Field(min_length=1)
    never_share: str = Field(min_length=1)
    escalate: str = Field(min_length=1)
    more_work: str = Field(min_length=1)


class RosterIn(_Strict):
    home: HomeIn
    partners: list[PartnerIn] = Field(default_factory=list)
    people: list[PersonIn] = Field(default_factory=list)
    channels: list[ChannelIn] = Field(default_factory=list)
    agreement: AgreementIn
    guidelines: GuidelinesIn | None = None


def _line_index(node, path=(), out=None) -> dict[tuple, int]:
    """Every path in the document to its 1-based line."""
    out = {} if out is None else out
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[path + (key.value,)] = key.start_mark.line + 1
            _line_index(value, path + (key.value,), out)
            out[path + (key.value,)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_index(item, path + (i,), out)
    return out


def _line(lines: dict[tuple, int], loc: tuple) -> int:
    while loc and loc not in lines:
        loc = loc[:-1]
    return lines.get(loc, 1)


def parse_roster(text: str, name: str = "roster") -> RosterIn:
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise RosterError([f"{name}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    if not isinstance(data, dict):
        raise RosterError([f"{name}:1: a roster is a mapping with home, partners, people, channels, agreement"])
    lines = _line_index(node)
    try:
        roster = RosterIn.model_validate(data)
    except ValidationError as exc:
        raise RosterError([
            f"{name}:{_line(lines, tuple(e['loc']))}: {'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors()
        ]) from None
    errors = _cross_check(roster, data, lines, name)
    if errors:
        raise RosterError(errors)
    return roster


def _cross_check(r: RosterIn, data: dict, lines: dict, name: str) -> list[str]:
    errors: list[str] = []
    err = lambda loc, msg: errors.append(f"{name}:{_line(lines, loc)}: {msg}")  # noqa: E731
    orgs = {r.home.name.lower()}
    for i, p in enumerate(r.partners):
        if p.name.lower() in orgs:
            err(("partners", i, "name"), f"organisation {p.name!r} is listed twice")
        orgs.add(p.name.lower())
        if p.signed and p.signed.version != r.agreement.version:
            err(("partners", i, "signed", "version"),
                f"signed version {p.signed.version!r} is not the agreement's version {r.agreement.version!r}")
    seen: dict[tuple[str, str], str] = {}
    for i, who in enumerate(r.people):
        if who.org.lower() not in orgs:
            err(("people", i, "org"), f"unknown org {who.org!r} for {who.name}")
        for key, value in (("name", who.name.lower()), ("slack", who.slack), ("teams", who.teams)):
            if value is None:
                continue
            if (key, value) in seen:
                err(("people", i, key), f"duplicate {key} {value!r} ({seen[(key, value)]} and {who.name})")
            seen[(key, value)] = who.name
    chans: set[tuple[str, str]] = set()
    for i, c in enumerate(r.channels):
        if (c.platform, c.id) in chans:
            err(("channels", i, "id"), f"duplicate {c.platform} channel {c.id!r}")
        chans.add((c.platform, c.id))
        if c.purpose == ChannelPurpose.PARTNERS and c.tier is None:
            err(("channels", i, "purpose"), f"partner channel {c.id!r} needs a tier")
    return errors


def load_roster(db: Database, text: str, *, name: str = "roster", now: datetime | None = None) -> list[str]:
    """Apply a roster file in one transaction. Returns what changed (empty: nothing did)."""
    roster = parse_roster(text, name)
    lines = _line_index(yaml.compose(text, Loader=_Loader))
    now = now or datetime.now(UTC)
    with db.session() as s:
        return _Apply(s, now, lambda loc: f"{name}:{_line(lines, loc)}").run(roster)


class _Apply:
    def __init__(self, s: Session, now: datetime, where=lambda loc: "roster:1"):
        self.s, self.now = s, now
        self.changes: list[str] = []
        self.where = where  # a path in the file to "name:line", for errors found against the database

    def note(self, what: str) -> None:
        self.changes.append(what)
        self.s.add(AuditEntry(at=self.now, action="roster.changed", detail={"change": what}))

    def upsert(self, model, where, values: dict, label: str, *, on_create: dict | None = None):
        """Insert, or update the differing fields. `on_create` values only seed a new row."""
        row = self.s.exec(select(model).where(*where)).first()
        if row is None:
            row = model(**values, **(on_create or {}))
            self.s.add(row)
            self.s.flush()
            self.note(f"added {label}")
            return row
        changed = [k for k, v in values.items() if getattr(row, k) != v]
        for k in changed:
            setattr(row, k, values[k])
        if changed:
            self.s.flush()
            self.note(f"updated {label}: {', '.join(changed)}")
        return row

    def run(self, r: RosterIn) -> list[str]:
        home = self.upsert(Org, [func.lower(Org.name) == r.home.name.lower()],
                           {"name": r.home.name, "kind": OrgKind.HOME, "status": OrgStatus.VETTED,
                            "timezone": r.home.timezone}, f"home {r.home.name}")
        orgs = {home.name.lower(): home}
        for p in r.partners:
            # The status seeds a new partner; afterwards managers change it in chat (vet, suspend).
            values = {"name": p.name, "kind": OrgKind.PARTNER, "skills": p.skills, "timezone": p.timezone,
                      "tier": p.tier,
                      "terms_days": r.home.payment_terms_days if p.terms_days is None else p.terms_days}
            orgs[p.name.lower()] = self.upsert(Org, [func.lower(Org.name) == p.name.lower()], values,
                                               f"partner {p.name}", on_create={"status": p.status})
        self._check_identities(r)
        self._release_moved_identities(r)
        for who in r.people:
            values = {"name": who.name, "org_id": orgs[who.org.lower()].id, "roles": [str(x) for x in who.roles],
                      "slack_id": who.slack, "teams_id": who.teams, "timezone": who.timezone}
            self.upsert(Person, [func.lower(Person.name) == who.name.lower()], values, f"person {who.name}")
        for c in r.channels:
            self.upsert(Channel, [Channel.platform == c.platform, Channel.external_id == c.id],
                        {"platform": Platform(c.platform), "external_id": c.id, "purpose": ChannelPurpose(c.purpose),
                         "tier": c.tier,
                         "name": c.name}, f"{c.platform} channel {c.id}")
        sync_active(self, r)
        ag = self._agreement(r.agreement)
        for p in r.partners:
            if p.signed:
                self._imported_signature(orgs[p.name.lower()], ag, p.signed)
        if r.guidelines:
            self._guidelines(r.guidelines)
        return self.changes

    def _check_identities(self, r: RosterIn) -> None:
        """A chat id may move from one person to another in one load (the file names both), but not
        to someone while a person the file does not list still holds it."""
        listed = {p.name.lower(): p for p in r.people}
        errors = []
        for i, p in enumerate(r.people):
            for key, column, value in (("slack", Person.slack_id, p.slack), ("teams", Person.teams_id, p.teams)):
                if value is None:
                    continue
                other = self.s.exec(select(Person).where(column == value)).first()
                if other is None or other.name.lower() == p.name.lower():
                    continue
                moved = listed.get(other.name.lower())
                if moved is None or getattr(moved, key) == value:
                    errors.append(f"{self.where(('people', i, key))}: {key} {value!r} of {p.name} "
                                  f"already belongs to {other.name}")
        if errors:
            raise RosterError(errors)

    def _release_moved_identities(self, r: RosterIn) -> None:
        """Clear the chat ids that change hands in this load first, so that a swap never meets itself."""
        listed = {p.name.lower(): p for p in r.people}
        cleared = False
        for p in r.people:
            for key, column in (("slack", Person.slack_id), ("teams", Person.teams_id)):
                value = getattr(p, key)
                holder = self.s.exec(select(Person).where(column == value)).first() if value else None
                if holder is None or holder.name.lower() == p.name.lower():
                    continue
                setattr(holder, f"{key}_id", None)
                cleared = True
                if getattr(listed[holder.name.lower()], key) is None:  # upsert will see no change to report
                    self.note(f"updated person {holder.name}: {key}_id")
        if cleared:
            self.s.flush()

    def _agreement(self, a: AgreementIn) -> AgreementVersion:
        digest = text_hash(a.text)
        row = self.s.exec(select(AgreementVersion).where(AgreementVersion.version == a.version)).first()
        if row and row.text_hash != digest:
            raise RosterError([f"{self.where(('agreement', 'text'))}: "
                               f"agreement version {a.version!r} exists with a different text: "
                               "give a changed text a new version, so every signature keeps its meaning"])
        row = self.upsert(AgreementVersion, [AgreementVersion.version == a.version],
                          {"version": a.version, "title": a.title, "text": a.text, "text_hash": digest,
                           "term_months": a.term_months}, f"agreement version {a.version}")
        self._make_current(AgreementVersion, row, f"agreement version {a.version}")
        return row

    def _guidelines(self, g: GuidelinesIn) -> None:
        parts = (g.introduce, g.never_share, g.escalate, g.more_work)
        digest = text_hash(*parts)
        row = self.s.exec(select(GuidelineVersion).where(GuidelineVersion.version == g.version)).first()
        if row and row.text_hash != digest:
            raise RosterError([f"{self.where(('guidelines', 'version'))}: "
                               f"guidelines version {g.version!r} exist with a different text: give them a new version"])
        row = self.upsert(GuidelineVersion, [GuidelineVersion.version == g.version],
                          {"version": g.version, "introduce": g.introduce, "never_share": g.never_share,
                           "escalate": g.escalate, "more_work": g.more_work, "text_hash": digest},
                          f"guidelines version {g.version}")
        self._make_current(GuidelineVersion, row, f"guidelines version {g.version}")

    def _make_current(self, model, row, label: str) -> None:
        if row.is_current:
            return
        for other in self.s.exec(select(model).where(model.is_current == True)).all():  # noqa: E712
            other.is_current = False
        row.is_current = True
        self.note(f"{label} is now current")

    def _imported_signature(self, org: Org, ag: AgreementVersion, signed: SignedIn) -> None:
        signed_at = datetime.combine(signed.date, time(12, 0), tzinfo=UTC)
        exists = self.s.exec(select(Signature).where(
            Signature.org_id == org.id, Signature.agreement_id == ag.id, Signature.method == "imported",
            Signature.signed_at == signed_at)).first()
        if exists:
            return
        self.s.add(Signature(org_id=pk(org), agreement_id=pk(ag), typed_name=signed.by, signed_at=signed_at,
                             expires_at=add_months(signed_at, ag.term_months), text_hash=ag.text_hash,
                             method="imported"))
        self.note(f"imported signature of {org.name} on agreement version {ag.version} ({signed.by}, {signed.date})")
