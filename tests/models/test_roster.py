"""The roster file: idempotent, all-or-nothing, every error with its line, no YAML 1.1 surprises."""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlmodel import SQLModel, select

from handlers.core import Surge
from handlers.roster import RosterError, load_roster, parse_roster
from handlers.types import Identity
from models.tables import AgreementVersion, AuditEntry, Channel, GuidelineVersion, Org, Person, Signature

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "roster.yml").read_text()
NOW = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)
NEW_PARTNER = "  - name: Northwind Repair\n    status: {status}\n    skills: [printers]\npeople:\n"


def edit(text: str, old: str, new: str, count: int = 1) -> str:
    assert old in text, f"{old!r} is not in the roster text"
    return text.replace(old, new, count)


def line_of(text: str, needle: str, nth: int = 1) -> int:
    numbers = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return numbers[nth - 1]


def snapshot(db) -> dict[str, list]:
    with db.engine.connect() as conn:
        return {t.name: [tuple(r) for r in conn.execute(t.select().order_by(*t.primary_key))]
                for t in SQLModel.metadata.sorted_tables}


def rows(db, model, *where):
    with db.session() as s:
        return list(s.exec(select(model).where(*where).order_by(model.id)).all())


def one(db, model, *where):
    found = rows(db, model, *where)
    assert len(found) == 1, found
    return found[0]


def say(db, who: str, text: str):
    return Surge(db, home_timezone="America/New_York", clock=lambda: NOW).handle_text(
        Identity(platform="console", user_id=who), text)


# -- idempotent --------------------------------------------------------------------------------------

def test_loading_the_example_twice_changes_nothing(db):
    first = load_roster(db, EXAMPLE, now=NOW)
    assert "added person Tom Tech" in first and "agreement version 2027-01 is now current" in first
    after_first = snapshot(db)
    assert load_roster(db, EXAMPLE, now=NOW) == []
    assert snapshot(db) == after_first
    assert load_roster(db, EXAMPLE, now=datetime(2027, 6, 1, tzinfo=UTC)) == []
    assert snapshot(db) == after_first


def test_each_change_is_audited(db):
    changes = load_roster(db, EXAMPLE, now=NOW)
    audit = rows(db, AuditEntry, AuditEntry.action == "roster.changed")
    assert [a.detail["change"] for a in audit] == changes
    assert {a.at for a in audit} == {NOW}


def test_the_example_populates_every_table(roster_db):
    db = roster_db
    orgs = {o.name: (o.kind, o.status, o.skills, o.timezone) for o in rows(db, Org)}
    assert orgs == {
        "Long Island IT": ("home", "vetted", [], "America/New_York"),
        "Contoso Field Services": ("partner", "vetted", ["windows", "networking"], None),
        "Fabrikam Tech": ("partner", "vetted", ["windows"], None),
    }
    org_name = {o.id: o.name for o in rows(db, Org)}
    people = {p.name: (org_name[p.org_id], p.roles, p.slack_id, p.teams_id, p.timezone) for p in rows(db, Person)}
    assert people == {
        "Dana Dispatch": ("Long Island IT", ["dispatcher"], "U0DANA", "29:1dana", "America/New_York"),
        "Morgan Manager": ("Long Island IT", ["manager", "admin"], "U0MORGAN", None, None),
        "Paula Admin": ("Contoso Field Services", ["partner_admin"], "U0PAULA", None, None),
        "Tom Tech": ("Contoso Field Services", ["tech"], "U0TOM", "29:1tom", None),
        "Frank Fabrikam": ("Fabrikam Tech", ["partner_admin", "tech"], None, "29:1frank", None),
    }
    assert {(c.platform, c.external_id, c.purpose, c.tier) for c in rows(db, Channel)} == {
        ("slack", "C0PARTNERS", "partners", 1), ("teams", "19:partners@thread.tacv2", "partners", 2),
        ("slack", "C0DISPATCH", "dispatch", None), ("slack", "C0MANAGERS", "managers", None),
    }
    text = yaml.safe_load(EXAMPLE)["agreement"]["text"].strip()  # surrounding space is dropped
    ag = one(db, AgreementVersion)
    assert (ag.version, ag.title, ag.term_months, ag.is_current) == ("2027-01", "Mutual Non-Solicitation Agreement", 12, True)
    assert ag.text == text and ag.text.startswith("For the term of this agreement")
    assert ag.text_hash == hashlib.sha256(text.encode()).hexdigest()
    sig = one(db, Signature)
    assert org_name[sig.org_id] == "Fabrikam Tech"
    assert (sig.method, sig.typed_name, sig.signer_id, sig.agreement_id) == ("imported", "Frank Fabrikam", None, ag.id)
    assert sig.signed_at == datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    assert sig.expires_at == datetime(2027, 11, 1, 12, 0, tzinfo=UTC)  # date + 12 months
    assert sig.text_hash == ag.text_hash
    g = one(db, GuidelineVersion)
    assert (g.version, g.is_current) == ("3", True)
    assert g.introduce.startswith("Introduce yourself") and "`lead SR-n" in g.more_work


# -- all or nothing, with the line and the reason --------------------------------------------------

TOM_ROLES = ("    roles: [tech]\n", "    roles: [tech, partner_admin]\n")  # a valid change that must not land


def _no_agreement_text(text: str) -> str:
    head, tail = text.split("  text: |\n")
    return head + "guidelines:" + tail.split("guidelines:")[1]


BAD_FILES = {
    "unknown org": (lambda t: edit(t, "    org: Fabrikam Tech", "    org: Fabrikom Tech"),
                    ("org: Fabrikom Tech", 1), "unknown org 'Fabrikom Tech' for Frank Fabrikam"),
    "duplicate slack id": (lambda t: edit(t, "slack: U0MORGAN", "slack: U0DANA"),
                           ("slack: U0DANA", 2), "duplicate slack 'U0DANA' (Dana Dispatch and Morgan Manager)"),
    "duplicate teams id": (lambda t: edit(t, 'teams: "29:1frank"', 'teams: "29:1tom"'),
                           ('teams: "29:1tom"', 2), "duplicate teams '29:1tom'"),
    "bad status": (lambda t: edit(t, "status: vetted", "status: maybe"),
                   ("status: maybe", 1), "partners.0.status: Input should be 'pending', 'vetted' or 'suspended'"),
    "missing agreement text": (_no_agreement_text, ("agreement:", 1), "agreement.text: Field required"),
    "partner channel without tier": (lambda t: edit(t, "    tier: 2\n", ""),
                                     ("purpose: partners", 2), "partner channel '19:partners@thread.tacv2' needs a tier"),
    "invalid YAML": (lambda t: edit(t, "    org: Contoso Field Services\n    roles: [tech",
                                    "    org: Contoso: Field Services\n    roles: [tech"),
                     ("org: Contoso: Field Services", 1), "not valid YAML: mapping values are not allowed here"),
    "impossible date": (lambda t: edit(t, "date: 2026-11-01", "date: 2026-11-31"),
                        ("date: 2026-11-31", 1), "not valid YAML: '2026-11-31': day is out of range for month"),
    "unknown key": (lambda t: edit(t, "    tier: 1\n", "    tier: 1\n    colour: red\n"),
                    ("colour: red", 1), "channels.0.colour: Extra inputs are not permitted"),
    "unknown time zone": (lambda t: edit(t, "    timezone: America/New_York\n  - name: Morgan",
                                         "    timezone: America/Gotham\n  - name: Morgan"),
                          ("America/Gotham", 1), "unknown time zone 'America/Gotham'"),
}


@pytest.mark.parametrize("start", ["empty", "loaded"])
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_is_refused_whole_with_line_and_reason(db, start, case):
    mutate, (needle, nth), reason = BAD_FILES[case]
    text = mutate(edit(EXAMPLE, *TOM_ROLES))
    if start == "loaded":
        load_roster(db, EXAMPLE, now=NOW)
    before = snapshot(db)
    with pytest.raises(RosterError) as exc:
        load_roster(db, text, name="team.yml", now=NOW)
    assert f"team.yml:{line_of(text, needle, nth)}: " in str(exc.value)
    assert reason in str(exc.value)
    assert snapshot(db) == before
    with pytest.raises(RosterError):
        parse_roster(text)


def test_every_error_of_a_file_is_listed_with_its_line():
    text = edit(edit(EXAMPLE, "slack: U0MORGAN", "slack: U0DANA"), "    org: Fabrikam Tech", "    org: Nowhere")
    with pytest.raises(RosterError) as exc:
        parse_roster(text)
    assert exc.value.errors == [
        f"roster:{line_of(text, 'slack: U0DANA', 2)}: duplicate slack 'U0DANA' (Dana Dispatch and Morgan Manager)",
        f"roster:{line_of(text, 'org: Nowhere')}: unknown org 'Nowhere' for Frank Fabrikam",
    ]


def test_a_chat_id_taken_by_someone_already_loaded_is_refused_with_nothing_applied(roster_db):
    before = snapshot(roster_db)
    text = edit(edit(EXAMPLE, "name: Tom Tech", "name: Thomas Tech"), "skills: [windows]\n", "skills: [windows, printers]\n")
    with pytest.raises(RosterError) as exc:
        load_roster(roster_db, text, now=NOW)
    assert f"roster:{line_of(text, 'slack: U0TOM')}: slack 'U0TOM' of Thomas Tech already belongs to Tom Tech" in str(exc.value)
    assert snapshot(roster_db) == before  # Fabrikam's new skill, applied before the check, was rolled back


def test_chat_ids_may_change_hands_in_one_load(roster_db):
    """Tom's Slack id was Dana's all along: one file gives Tom a new id and Dana his old one."""
    text = edit(edit(EXAMPLE, "slack: U0TOM", "slack: U0TOM2"), "slack: U0DANA", "slack: U0TOM")
    changes = load_roster(roster_db, text, now=NOW)
    assert "updated person Tom Tech: slack_id" in changes and "updated person Dana Dispatch: slack_id" in changes
    assert one(roster_db, Person, Person.name == "Tom Tech").slack_id == "U0TOM2"
    assert one(roster_db, Person, Person.name == "Dana Dispatch").slack_id == "U0TOM"
    slack = Surge(roster_db, home_timezone="America/New_York", clock=lambda: NOW)
    assert slack.handle_text(Identity(platform="slack", user_id="U0TOM"), "list").ok  # U0TOM is Dana now
    assert "Dana" in slack.handle_text(Identity(platform="slack", user_id="U0TOM"), "help").text
    swapped = edit(edit(text, "slack: U0TOM2", "slack: U0DANA"), "slack: U0TOM\n", "slack: U0TOM2\n")
    load_roster(roster_db, swapped, now=NOW)  # and a straight swap of two ids
    assert one(roster_db, Person, Person.name == "Tom Tech").slack_id == "U0DANA"
    assert one(roster_db, Person, Person.name == "Dana Dispatch").slack_id == "U0TOM2"


def test_changing_the_agreement_text_under_the_same_version_is_refused(roster_db):
    before = snapshot(roster_db)
    text = edit(edit(EXAMPLE, "nor hire or solicit", "nor hire"), *TOM_ROLES)
    with pytest.raises(RosterError) as exc:
        load_roster(roster_db, text, now=NOW)
    assert f"roster:{line_of(text, '  text: |')}: agreement version '2027-01' exists with a different text" in str(exc.value)
    assert snapshot(roster_db) == before  # Tom's roles were updated before the check; rolled back


def test_changing_the_guidelines_under_the_same_version_is_refused(roster_db):
    before = snapshot(roster_db)
    with pytest.raises(RosterError, match="guidelines version '3' exist with a different text"):
        load_roster(roster_db, edit(EXAMPLE, "Wear no other company's logo.", "Wear our logo."), now=NOW)
    assert snapshot(roster_db) == before


# -- YAML 1.1 traps ----------------------------------------------------------------------------------

def test_yes_no_on_off_stay_words_and_29_10_stays_text(db):
    text = edit(EXAMPLE, "skills: [windows, networking]", "skills: [yes, no, on, off, y, n]")
    text = edit(text, 'teams: "29:1tom"', "teams: 29:10")
    text = edit(text, "slack: U0PAULA", "slack: NO")
    text = edit(text, "    purpose: managers\n", "    purpose: managers\n    name: off\n")
    text = edit(text, "  introduce: Introduce yourself", "  introduce: yes\n  # Introduce yourself")
    roster = parse_roster(text)
    assert roster.partners[0].skills == ["yes", "no", "on", "off", "y", "n"]
    assert roster.people[3].teams == "29:10"
    assert roster.guidelines.introduce == "yes"
    load_roster(db, text, now=NOW)
    assert one(db, Person, Person.name == "Tom Tech").teams_id == "29:10"
    assert one(db, Person, Person.name == "Paula Admin").slack_id == "NO"
    assert one(db, Org, Org.name == "Contoso Field Services").skills == ["yes", "no", "on", "off", "y", "n"]
    assert one(db, Channel, Channel.external_id == "C0MANAGERS").name == "off"
    assert say(db, "Tom Tech", "guidelines").fields[0].value == "yes"


def test_numbers_with_leading_zeros_are_decimal_not_octal(db):
    # `010` was read as octal 8 and `08` raised ValueError instead of RosterError (fixed).
    assert parse_roster(edit(EXAMPLE, 'version: "3"', "version: 010")).guidelines.version == "10"
    assert parse_roster(edit(EXAMPLE, 'version: "3"', "version: 08")).guidelines.version == "8"
    assert parse_roster(edit(EXAMPLE, "term_months: 12", "term_months: 012")).agreement.term_months == 12


def test_true_and_false_are_still_booleans(db):
    with pytest.raises(RosterError, match="people.3.slack: Input should be a valid string"):
        parse_roster(edit(EXAMPLE, "slack: U0TOM", "slack: true"))


# -- versions, people, partners --------------------------------------------------------------------

def test_a_new_agreement_version_becomes_current(roster_db):
    text = edit(EXAMPLE, 'version: "2027-01"\n  title:', 'version: "2027-02"\n  title:')
    text = edit(text, "    signed:                       # an agreement signed on paper, imported\n"
                      '      version: "2027-01"\n      by: Frank Fabrikam\n      date: 2026-11-01\n', "")
    text = edit(text, "nor hire or solicit", "nor hire")
    assert load_roster(roster_db, text, now=NOW) == [
        "added agreement version 2027-02", "agreement version 2027-02 is now current"]
    versions = {a.version: a.is_current for a in rows(roster_db, AgreementVersion)}
    assert versions == {"2027-01": False, "2027-02": True}
    old = one(roster_db, AgreementVersion, AgreementVersion.version == "2027-01")
    assert one(roster_db, Signature).agreement_id == old.id  # the paper signature keeps its version
    assert "(version 2027-02)" in say(roster_db, "Tom Tech", "agreement").title
    assert load_roster(roster_db, text, now=NOW) == []


def test_updating_a_persons_roles_is_reported(roster_db):
    assert load_roster(roster_db, edit(EXAMPLE, *TOM_ROLES), now=NOW) == ["updated person Tom Tech: roles"]
    assert one(roster_db, Person, Person.name == "Tom Tech").roles == ["tech", "partner_admin"]
    text = edit(edit(EXAMPLE, *TOM_ROLES), 'teams: "29:1tom"', 'teams: "29:2tom"')
    assert load_roster(roster_db, text, now=NOW) == ["updated person Tom Tech: teams_id"]


def test_a_reload_does_not_undo_a_managers_suspend(roster_db):
    reply = say(roster_db, "Morgan Manager", 'suspend "Contoso Field Services"')
    assert reply.ok, reply.text
    assert load_roster(roster_db, EXAMPLE, now=NOW) == []
    assert one(roster_db, Org, Org.name == "Contoso Field Services").status == "suspended"


def test_a_partner_status_in_the_file_only_seeds_a_new_partner(roster_db):
    text = edit(EXAMPLE, "people:\n", NEW_PARTNER.format(status="pending"))
    assert load_roster(roster_db, text, now=NOW) == ["added partner Northwind Repair"]
    assert one(roster_db, Org, Org.name == "Northwind Repair").status == "pending"
    reply = say(roster_db, "Morgan Manager",
                'vet "Northwind Repair" quality=4 commitment=4 track=3 reputation=4 credit=5 rapport=4')
    assert reply.ok, reply.text
    assert one(roster_db, Org, Org.name == "Northwind Repair").status == "vetted"
    assert load_roster(roster_db, text, now=NOW) == []
    assert one(roster_db, Org, Org.name == "Northwind Repair").status == "vetted"
    # Changing an existing partner's status in the file changes nothing either.
    assert load_roster(roster_db, edit(text, "status: vetted", "status: suspended"), now=NOW) == []
    assert one(roster_db, Org, Org.name == "Contoso Field Services").status == "vetted"


def test_a_new_partner_can_be_seeded_suspended(db):
    load_roster(db, edit(EXAMPLE, "people:\n", NEW_PARTNER.format(status="suspended")), now=NOW)
    assert one(db, Org, Org.name == "Northwind Repair").status == "suspended"


# -- partner tiers ---------------------------------------------------------------------------------

FABRIKAM = "  - name: Fabrikam Tech\n    status: vetted\n"


def test_a_partners_tier_is_loaded_and_a_change_reported(db):
    load_roster(db, EXAMPLE, now=NOW)
    assert {o.name: o.tier for o in rows(db, Org)} == {
        "Long Island IT": 1, "Contoso Field Services": 1, "Fabrikam Tech": 1}  # the default
    text = edit(EXAMPLE, FABRIKAM, FABRIKAM + "    tier: 2\n")
    assert load_roster(db, text, now=NOW) == ["updated partner Fabrikam Tech: tier"]
    assert one(db, Org, Org.name == "Fabrikam Tech").tier == 2
    assert load_roster(db, text, now=NOW) == []


@pytest.mark.parametrize(("value", "reason"), [
    ("0", "greater than or equal to 1"), ("-1", "greater than or equal to 1"), ("10", "less than or equal to 9"),
    ("two", "valid integer"), ('"2"', "valid integer"), ("1.5", "valid integer"), ("true", "valid integer"),
    ("", "valid integer"),
])
def test_a_bad_partner_tier_is_refused_with_its_line(db, value, reason):
    load_roster(db, EXAMPLE, now=NOW)
    before = snapshot(db)
    text = edit(EXAMPLE, FABRIKAM, FABRIKAM + f"    tier: {value}\n")
    with pytest.raises(RosterError) as exc:
        load_roster(db, text, name="team.yml", now=NOW)
    assert f"team.yml:{line_of(text, f'    tier: {value}'.rstrip())}: partners.1.tier: " in str(exc.value)
    assert reason in str(exc.value)
    assert snapshot(db) == before
