"""Every card Surge renders, checked by the platforms' own tools.

Adaptive Cards: Microsoft's `adaptivecards` package parses each card for version 1.5 (what Teams
renders) and runs `validateProperties()` (`tests/validators/check_cards.js`). Block Kit: each message,
home view and modal is written into a TypeScript file as a constant typed with `@slack/types`, and
`tsc --strict` checks it. The cards come from the real renderers, fed the real view models (request
cards in each state, job details, forms, the welcome), plus worst cases (huge, non-ASCII, escaped).

The npm tools are pinned in `tests/validators/package.json`; `.ci/run` installs them
(`npm ci` there). Without Node or without them, the validator tests skip and say so; the size and
clipping tests below them always run.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import charts
from bot.slack import blocks
from bot.slack.ids import FormState
from bot.teams import cards
from bot.teams.app import WELCOME_CHANNEL, WELCOME_GROUP, WELCOME_PERSONAL
from bot.teams.claim_forms import reassign_form
from bot.teams.ids import CardState, Origin
from handlers.types import Action, ActionKind, Audience, Chart, Fact, Message, Reply, Tone
from handlers.views import PublicRequest, dispatch_card, job_details, partner_card
from models.tables import Claim, ClaimStatus, GuidelineVersion, Org, Person, RequestStatus, SurgeRequest

TOOLS = Path(__file__).parent / "validators"
NODE = shutil.which("node")
INSTALL = "card validators need Node and their npm packages: (cd tests/validators && npm ci)"
MISSING = NODE is None or not (TOOLS / "node_modules").is_dir()
# CI sets CARD_VALIDATORS_REQUIRED=1: there a missing tool fails the build instead of skipping.
needs_tools = pytest.mark.skipif(MISSING and not os.environ.get("CARD_VALIDATORS_REQUIRED"), reason=INSTALL)
TZ = "America/New_York"
DEADLINE = datetime(2027, 3, 10, 22, 0, tzinfo=UTC)
HUGE = "🚀 ünïcødé <!channel> & *bold* " * 3000
AGREEMENT = "Neither party solicits the other's customers during the term & for 12 months after.\n\n" * 40


# -- the view models: a request in each state, its claims, a job, replies ----------------------------

def request(status: RequestStatus, **over) -> SurgeRequest:
    fields = dict(id=7, title="DST patch <Mineola> & co", scope="Patch 40 workstations.\nBring a USB key.",
                  skills=["windows", "printers"], units=40, units_taken=0, pay_cents=3550, bill_cents=6000,
                  deadline=DEADLINE, customer="Acme Dental", site="1 Main St", contact="Ann 555-0100",
                  town="Mineola", tier=1, visible_tier=2, status=status, created_by_id=1) | over
    return SurgeRequest(**fields)


def claims() -> list[tuple[Claim, Person, Org]]:
    org = Org(id=2, name="Fix & Co")
    states = [ClaimStatus.PENDING, ClaimStatus.ACTIVE, ClaimStatus.DONE, ClaimStatus.VERIFIED, ClaimStatus.RELEASED]
    return [(Claim(id=i, request_id=7, person_id=i, org_id=2, units=5, status=s, rework=i % 2,
                   verified_at=DEADLINE if s == ClaimStatus.VERIFIED else None),
             Person(id=i, name=f"Tech {i} \"T\"", org_id=2), org) for i, s in enumerate(states, 1)]


REQUESTS = {
    "open": request(RequestStatus.OPEN),
    "open_approval": request(RequestStatus.OPEN, approval_required=True, tier=2, visible_tier=2),
    "partly": request(RequestStatus.PARTLY_CLAIMED, units_taken=15),
    "fully": request(RequestStatus.FULLY_CLAIMED, units_taken=40),
    "completed": request(RequestStatus.COMPLETED, units_taken=40, units_verified=40),
    "cancelled": request(RequestStatus.CANCELLED, status_reason="customer postponed"),
    "expired": request(RequestStatus.EXPIRED, scope="", town="", skills=[]),
}


def messages() -> dict[str, Message]:
    out: dict[str, Message] = {}
    for state, req in REQUESTS.items():
        out[f"partner_card_{state}"] = partner_card(PublicRequest.of(req), TZ)
        out[f"dispatch_card_{state}"] = dispatch_card(req, claims() if state != "open" else [], TZ)
    claim = Claim(id=1, request_id=7, person_id=1, org_id=2, units=5)
    guidelines = GuidelineVersion(version="1", introduce="Say you are with Acme IT.", never_share="pricing & rates",
                                  escalate="Call dispatch.", more_work="Pass it to dispatch: `lead SR-7 \"…\"`.")
    out["job_details"] = job_details(REQUESTS["open"], claim, guidelines, TZ)
    out["job_details_no_guidelines"] = job_details(REQUESTS["open"], claim, None, TZ)
    out["notice"] = Message(audience=Audience.DISPATCH, text="Tom asks for 3 units of *SR-7*", request_id=7,
                            tone=Tone.WARNING)
    out["digest"] = Message(audience=Audience.DISPATCH, title="Week of 1 Mar", text="• 3 requests\n• 120 units",
                            chart=Chart(title="Units", categories=["Mon", "Tue"], series={"done": [1, 2]}))
    out["huge"] = Message(audience=Audience.DM, person_id=1, title=HUGE, text=HUGE, tone=Tone.ERROR,
                          fields=[Fact(label=f"f{i}", value=HUGE[: 50 * i]) for i in range(70)],
                          actions=[Action(kind=ActionKind.RUN, label=HUGE, command=f"status SR-{i}") for i in range(30)])
    return out


def replies() -> dict[str, Reply]:
    out = {f"tone_{tone.value}": Reply(title=f"A {tone.value} answer", text="First line\n\nSecond *para*", tone=tone,
                                       fields=[Fact(label="Deadline", value="Wed 10 Mar 17:00 EST", at=DEADLINE),
                                               Fact(label="Scope", value="line one\nline two")],
                                       actions=[Action(kind=ActionKind.RUN, label="Details", command="status SR-7")])
           for tone in Tone}
    kinds = [Action(kind=k, label=f"{k.value} <b> & more", command=f"{k.value} SR-7 \"Tom\"", then="claim SR-7 2",
                    style=("primary", "danger", None)[i % 3], prefill={"title": "x"} if k is ActionKind.POST_REQUEST else {})
             for i, k in enumerate(ActionKind)]
    out["every_action"] = Reply(text="Pick one.", actions=kinds)
    out["text_only"] = Reply(text="Done.")
    out["title_only"] = Reply(title="Surge", text="")
    out["huge"] = Reply(title=HUGE, text=HUGE, tone=Tone.WARNING,
                        fields=[Fact(label=f"f{i}", value=HUGE if i % 3 else "short") for i in range(80)],
                        actions=[Action(kind=ActionKind.RUN, label=HUGE, command=f"status SR-{i}") for i in range(40)])
    out["many_lines"] = Reply(text="\n".join(f"line {i} &" for i in range(5000)))
    for name, text in {"personal": WELCOME_PERSONAL, "group": WELCOME_GROUP, "channel": WELCOME_CHANNEL}.items():
        out[f"welcome_{name}"] = Reply(title="Surge", text=text)
    return out


# -- Adaptive Cards --------------------------------------------------------------------------------

def teams_cards() -> dict[str, dict]:
    out: dict[str, dict] = {}
    for name, message in messages().items():
        out[f"message/{name}"] = cards.message_card(message)
    for name, reply in replies().items():
        out[f"reply/{name}"] = cards.reply_card(reply)
    digest = messages()["digest"]
    png = charts.png(digest.chart)
    out["message/chart"] = cards.message_card(digest, chart_png=png)
    out["reply/chart"] = cards.reply_card(Reply(text="Figures", chart=digest.chart), chart_png=png)
    out["message/chart_too_large"] = cards.message_card(digest, chart_png=bytes(range(256)) * 400)
    card = messages()["partner_card_partly"]
    state = CardState(origin=Origin.REQUEST, request_id=7, audience=Audience.PARTNERS, command="claim SR-7")
    errors = {"": "Something is off.", "title": "Title is required.", "units": "How many units?",
              "pay": "Pay: dollars.", "deadline": "Pick the deadline.", "name": "Type your name.", "agree": "Tick it.",
              "why": "Say why."}
    forms = {
        "request": cards.request_form(state, {}),
        "request_prefilled": cards.request_form(state, {"title": "Swap", "units": "20", "deadline": "2027-03-08T09:00",
                                                        "approval": "yes", "pay": "35.50", "tier": "2"}),
        "request_errors": cards.request_form(state, {"units": "-3", "pay": "$$"}, errors),
        "sign": cards.sign_form(state, "Mutual Non-Solicitation", "3", AGREEMENT, {}),
        "sign_errors": cards.sign_form(state, "Mutual Non-Solicitation", "3", AGREEMENT, {"name": " "}, errors),
        "sign_huge": cards.sign_form(state, "Mutual", "3", HUGE * 10, {}),
        "claim_some": cards.claim_some_form(state, {}),
        "claim_some_errors": cards.claim_some_form(state, {"units": "0"}, errors),
        "reject": cards.reject_form(state, {}),
        "reject_errors": cards.reject_form(state, {"why": ""}, errors),
        "request_edit": cards.request_form(state.model_copy(update={"edit": 7}), {
            "title": "Swap", "units": "20", "deadline": "2027-03-08T09:00", "approval": "yes", "customer": "Acme"}),
        "reassign": reassign_form(state, {}),
        "reassign_errors": reassign_form(state, {"to": "Zed", "units": "0"}, errors | {"to": "Who is Zed?"}),
    }
    for name, items in forms.items():
        out[f"form/{name}"] = cards.card(items)
    out["request_card/with_form"] = cards.request_card_with(card, form=forms["claim_some"])
    out["request_card/with_answer"] = cards.request_card_with(card, answer=replies()["tone_error"])
    out["cancelled"] = cards.card(cards.text_blocks("Cancelled; nothing was changed."))
    return out


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    assert not MISSING, INSTALL
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)


@needs_tools
def test_every_adaptive_card_passes_microsofts_validation(tmp_path):
    rendered = teams_cards()
    (tmp_path / "cards.json").write_text(json.dumps(rendered))
    done = run([NODE, str(TOOLS / "check_cards.js"), str(tmp_path / "cards.json")], TOOLS)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["checked"] == len(rendered)
    assert not result["failures"], "\n".join(f"{name}: {f}" for name, fs in result["failures"].items() for f in fs)


# -- Block Kit -------------------------------------------------------------------------------------

def slack_payloads() -> dict[str, tuple[str, object]]:
    """name → (its `@slack/types` type, the payload)."""
    out: dict[str, tuple[str, object]] = {}
    for name, message in messages().items():
        out[f"message_{name}"] = ("KnownBlock[]", blocks.message_blocks(message))
    for name, reply in replies().items():
        out[f"reply_{name}"] = ("KnownBlock[]", blocks.reply_blocks(reply))
    home = Reply(title="Surge", text="Your week", fields=[Fact(label="Open", value="• SR-7 & SR-8")],
                 actions=[Action(kind=ActionKind.POST_REQUEST, label="New request", command="request", style="primary")])
    out["home"] = ("HomeView", blocks.home_view(home))
    out["home_huge"] = ("HomeView", blocks.home_view(replies()["huge"]))
    state = FormState(channel_id="C1", command="claim SR-7", then="status SR-7", version="3")
    out["modal_request"] = ("ModalView", blocks.request_modal(state, {}))
    out["modal_request_prefilled"] = ("ModalView", blocks.request_modal(state, {
        "title": "Swap", "units": "20", "deadline": "2027-03-08T09:00", "pay": "35", "tier": "2", "scope": "x"}))
    out["modal_sign"] = ("ModalView", blocks.sign_modal(state, "Mutual Non-Solicitation", "3", AGREEMENT))
    out["modal_sign_huge"] = ("ModalView", blocks.sign_modal(state, "Mutual", "3", HUGE * 10))
    out["modal_claim_some"] = ("ModalView", blocks.claim_some_modal(state, "Claim units of *SR-7* <x>"))
    out["modal_reject"] = ("ModalView", blocks.reject_modal(state, "Reject Tom on SR-7"))
    out["modal_revoke"] = ("ModalView", blocks.reject_modal(state, "Revoke Tom on SR-7", "Revoke a claim"))
    out["modal_reassign"] = ("ModalView", blocks.reassign_modal(state, 'reassign SR-7 "Tom Tech"'))
    out["modal_request_edit"] = ("ModalView", blocks.request_modal(state.model_copy(update={"edit": 7}), {
        "title": "Swap", "units": "20", "deadline": "2027-03-08T09:00", "approval": "yes", "customer": "Acme"}))
    return out


TSCONFIG = {"compilerOptions": {"strict": True, "noEmit": True, "target": "es2020", "module": "commonjs",
                                "moduleResolution": "node", "skipLibCheck": True, "types": []}}


@needs_tools
def test_every_block_kit_payload_type_checks_against_slack_types(tmp_path):
    payloads = slack_payloads()
    lines = [f'import type {{ KnownBlock, HomeView, ModalView }} from "{(TOOLS / "node_modules/@slack/types").as_posix()}";']
    starts: list[tuple[int, str]] = []  # (first line, payload name)
    for i, (name, (kind, payload)) in enumerate(payloads.items()):
        starts.append((len(lines) + 1, name))
        lines += f"export const p{i}: {kind} = {json.dumps(payload, indent=1)};".splitlines()
    (tmp_path / "payloads.ts").write_text("\n".join(lines) + "\n")
    (tmp_path / "tsconfig.json").write_text(json.dumps(TSCONFIG | {"files": ["payloads.ts"]}))
    done = run([NODE, str(TOOLS / "node_modules/typescript/bin/tsc"), "-p", str(tmp_path)], tmp_path)
    located = [f"{max(s for s in starts if s[0] <= int(line))[1]}: {error}"
               for line, error in re.findall(r"^payloads\.ts\((\d+),\d+\): (.+)$", done.stdout, re.M)]
    assert done.returncode == 0, "\n".join(located) or done.stdout + done.stderr


# -- limits that hold whatever the input -----------------------------------------------------------

def test_slack_clips_visibly_and_never_inside_an_entity():
    for text in ["a" * 5000, "&" * 5000, "x<y>&z " * 2000, HUGE]:
        escaped = blocks.escape(text)
        for limit in range(2990, 3000):
            clipped = blocks.clip(escaped, limit)
            assert len(clipped) <= limit and clipped.endswith("…")
            assert not re.search(r"&[a-z]*$", clipped[:-1]), clipped[-8:]
        parts = blocks.chunks(escaped, 3000, 4)
        assert all(len(p) <= 3000 and not re.search(r"&[a-z]*$", p) for p in parts[:-1])
        joined = "".join(parts)
        assert joined == escaped if len(escaped) <= 12000 else joined == escaped[: len(joined) - 1] + "…"
    rendered = blocks.reply_blocks(Reply(text="&" * 20000, fields=[Fact(label="L", value="<" * 5000)]))
    for section in [b for b in rendered if b["type"] == "section"]:
        assert not re.search(r"&[a-z]*…?$", section["text"]["text"].removesuffix("…"))
    assert rendered[-2]["text"]["text"].endswith("…") and rendered[-1]["text"]["text"].endswith("…")


@pytest.mark.parametrize("text", ["a" * 1_000_000, "<&>" * 300_000, "ü🚀字" * 300_000])
def test_the_sign_modal_stays_under_slacks_view_limit_with_any_agreement(text):
    """The roster sets no length for an agreement's text."""
    view = blocks.sign_modal(FormState(version="3"), "Mutual", "3", text)
    assert blocks.view_size(view) < 250_000 and len(json.dumps(view, ensure_ascii=False).encode()) < 250_000
    assert len(view["blocks"]) <= 100 and [b["type"] for b in view["blocks"]][-2:] == ["input", "input"]
    last = [b for b in view["blocks"] if b["type"] == "section"][-1]["text"]["text"]
    assert last.endswith("read the whole text before signing.)_") and len(last) <= 3000


def test_a_short_agreement_is_shown_whole_on_slack():
    view = blocks.sign_modal(FormState(version="3"), "Mutual", "3", AGREEMENT)
    assert "".join(b["text"]["text"] for b in view["blocks"] if b["type"] == "section") == blocks.escape(AGREEMENT)


@pytest.mark.parametrize("text", ["ü" * 200_000, "🚀" * 200_000, "字\n" * 100_000])
def test_teams_cards_stay_under_the_limit_in_utf16_code_units(text):
    state = CardState(command="claim SR-7")
    for card in [cards.reply_card(Reply(title=text[:500], text=text, fields=[Fact(label="x", value=text)])),
                 cards.card(cards.sign_form(state, "Mutual", "3", text, {}))]:
        sent = json.dumps(card, ensure_ascii=False)
        assert len(sent.encode("utf-16-le")) // 2 <= cards.MAX_CARD_BYTES
        assert len(sent.encode("utf-8")) <= cards.MAX_CARD_BYTES and cards.size(card) <= cards.MAX_CARD_BYTES
    inputs = [i["id"] for i in card["body"] if i["type"].startswith("Input.")]
    assert inputs == ["name", "agree"] and card["body"][-1]["type"] == "ActionSet"
