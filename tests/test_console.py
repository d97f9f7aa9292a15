"""The README's console walkthrough, run as written, and the console's own commands."""
from __future__ import annotations

import io
import re

from bot.console import Console
from tests.conftest import ROOT


def walkthrough() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- walkthrough:start -->\s*```text\n(.*?)```", readme, re.S).group(1)
    return block.splitlines()


def run(core, lines, person="Dana Dispatch") -> str:
    out = io.StringIO()
    Console(core, person=person, out=out).run(lines)
    return out.getvalue()


def test_readme_walkthrough_tells_the_whole_story(core):
    out = run(core, walkthrough())
    assert "Shortfall: 216 units" in out
    assert "Posted *SR-1*" in out
    assert "hasn't signed the current non-solicitation agreement" in out  # Tom's first try
    assert "Signed: Mutual Non-Solicitation Agreement" in out
    assert "read the field-conduct guidelines" in out
    assert "You have 12 units of SR-1" in out
    assert "→ DM to Tom Tech:" in out and "Customer: Acme Dental" in out
    assert "28 of 40 units left" in out
    assert "Verified 12 units of SR-1 by Tom Tech" in out
    assert "$300.00" in out  # the digest's margin: 12 × ($60 − $35)
    # the dispatcher's hand on the work: edit, revoke, widen, an incident and the partner's record
    assert "Edited SR-2 · Printer swap: deadline Sat 13 Mar 2027 17:00 EST" in out
    assert "took back your claim on SR-2 · Printer swap (4 units): the customer asked for our own tech" in out
    assert "now offered to tier 1–2 partners, 6 units left" in out
    assert "Recorded IN-1 (conduct) against Contoso Field Services" in out
    assert "1 claim revoked" in out and "Response: “new badges issued to every tech”" in out
    assert "Something went wrong" not in out


def test_partner_card_in_the_console_never_shows_the_customer(core):
    out = run(core, walkthrough()[:2])
    card = out.split("→ card SR-1 posted to the tier 1 partner channels:")[1].split("→ card SR-1 posted to dispatch")[0]
    assert "Hicksville" in card and "Acme Dental" not in card and "12 Main St" not in card


def test_console_switches_person_and_explains_itself(core):
    out = run(core, ["/as Tom Tech", "help", "/who", "/as", "frobnicate"], person=None)
    assert "you are now Tom Tech" in out
    assert "claim SR-7 [units]" in out and "request \"Title\"" not in out  # help shows what Tom may do
    assert "Paula Admin" in out  # /who
    assert "I don't know the command “frobnicate”" in out


def test_console_without_a_person_asks_for_one(core):
    out = run(core, ["list"], person=None)
    assert "Choose who you are first" in out
