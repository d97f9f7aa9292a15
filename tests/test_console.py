"""The README's console walkthrough, run as written, and the console's own commands."""
from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from pathlib import Path

from bot.console import Console
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def parts() -> list[list[str]]:
    """Each walkthrough block of the README, in order: the first five minutes, then closing a month."""
    blocks = re.findall(r"<!-- walkthrough:start -->\s*```text\n(.*?)```", README, re.DOTALL)
    return [block.splitlines() for block in blocks]


def walkthrough() -> list[str]:
    return [line for part in parts() for line in part]


def section(title: str) -> str:
    """A README section's text, from its heading to the next heading."""
    return README.split(title, 1)[1].split("\n#", 1)[0]


def run(core, lines, person="Dana Dispatch", where=None) -> str:
    out = io.StringIO()
    console = Console(core, person=person, out=out)
    if where is not None:
        console.export_dir = where
    console.run(lines)
    return out.getvalue()


def test_readme_walkthrough_tells_the_whole_story(core, tmp_path):
    out = run(core, walkthrough(), where=tmp_path)
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
    charts = re.findall(r"→ chart written: (\S+)", out)  # the digest's chart, drawn beside the console
    assert charts and all(Path(c).parent == tmp_path for c in charts)
    assert Path(charts[-1]).read_bytes().startswith(b"\x89PNG")
    # the dispatcher's hand on the work: edit, revoke, widen, an incident and the partner's record
    assert "Edited SR-2 · Printer swap: deadline Sat 13 Mar 2027 17:00 EST" in out
    assert "took back your claim on SR-2 · Printer swap (4 units): the customer asked for our own tech" in out
    assert "now offered to tier 1–2 partners, 6 units left" in out
    assert "Recorded IN-1 (conduct) against Contoso Field Services" in out
    assert "1 claim revoked" in out and "Response: “new badges issued to every tech”" in out
    # the rule the README states about `partners`, with the walkthrough's own figures
    assert "standing 6: 12 verified units × 100% on time, less 50% for 1 incident and 1 claim revoked" in out
    assert "Contoso stands at 6: 12 verified" in README
    assert "Something went wrong" not in out


# The figures the README's "Closing a month" states, each as the console prints it.
CLOSING_FIGURES = [
    "12 units × $35.00 = $420.00",
    "6 units × $38.00 = $228.00",
    "$666.50 for 18 verified units and $18.50 of expenses",
    "$1,110.50",
    "margin $444.00",
]


def test_readme_closing_a_month_runs_as_written_with_the_figures_it_states(core, tmp_path, monkeypatch):
    monkeypatch.setattr(Console, "export_dir", tmp_path)
    first, closing = parts()
    out = run(core, first + closing)
    month = out.split("(the clock says Mon 08 Mar 2027 10:00 EST)", 1)[1]
    assert "pay $38.00 per unit (was $35.00; applies to later claims)" in month
    assert "Verified 6 units of SR-1 by Tom Tech. 2 units went back on the card." in month
    assert "Approved EX-1 ($18.50" in month
    assert "(the clock says Wed 31 Mar 2027 17:00 EDT)" in month
    statement = month.split("Morgan Manager> statement contoso month=2027-03")[1].split("Morgan Manager> settle")[0]
    assert ("Owed to Contoso Field Services for March 2027: $666.50 for 18 verified units and $18.50 of "
            "expenses. Not settled yet.") in statement
    assert "12 units × $35.00 = $420.00, due 2027-03-31" in statement  # 30 days after the 1st
    assert "6 units × $38.00 = $228.00, due 2027-04-07" in statement
    assert "1 unit × $18.50 = $18.50, due 2027-04-07" in statement
    assert "✓ Settled Contoso Field Services's March 2027: $666.50" in month and "“ACH 20270331-1”" in month
    assert "→ DM to Paula Admin:" in month and "marked Contoso Field Services's March 2027 paid" in month
    assert ("Billed: $1,110.50 for 18 verified units and $18.50 of expenses at cost; paid to partners $666.50; "
            "margin $444.00.") in month
    assert "Acme Dental · $1,110.50" in month
    written = tmp_path / "surge-payables-2027-03.csv"
    assert f"→ file written: {written.resolve()}" in month
    mine = month.split("Paula Admin> mine")[1]
    assert "Contoso Field Services's claims: None open." in mine
    assert "Contoso Field Services earned in March 2027: $666.50 for 18 verified units and $18.50 of expenses" in mine
    assert "Tom Tech: $666.50 for 18 verified units and $18.50 of expenses" in mine
    assert "Something went wrong" not in out and "✗" not in month
    # the README says what the console printed, and shows the file the console wrote
    told = section("### Closing a month")
    prose = " ".join(told.replace("**", "").split())  # as read, whatever the line breaks and bold
    for figure in CLOSING_FIGURES:
        assert figure in out and figure in prose, figure
    shown = re.search(r"<!-- payables:start -->\s*```csv\n(.*?)```", told, re.DOTALL).group(1)
    with written.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows == list(csv.reader(io.StringIO(shown)))
    assert sum(Decimal(r[6]) for r in rows[1:]) == Decimal("666.50") and {r[8] for r in rows[1:]} == {"ACH 20270331-1"}


def test_partner_card_in_the_console_never_shows_the_customer(core):
    out = run(core, walkthrough()[:3])  # the clock, the capacity math, the request
    card = out.split("→ card SR-1 posted to the tier 1 partner channels:")[1].split("→ card SR-1 posted to dispatch")[0]
    assert "Hicksville" in card and "Acme Dental" not in card and "12 Main St" not in card


def test_console_switches_person_and_explains_itself(core):
    out = run(core, ["/as Tom Tech", "help", "/who", "/as", "frobnicate"], person=None)
    assert "you are now Tom Tech" in out
    assert "claim SR-7 [units]" in out and "request \"Title\"" not in out  # help shows what Tom may do
    assert "Paula Admin" in out  # /who
    assert "I don't know the command “frobnicate”" in out


def test_console_clock_is_set_read_and_explained(core):
    out = run(core, ["/at", "/at 2027-03-09T08:30", "/at next tuesday", "/at 2027-03-09T08:30+01:00", "/at now"])
    assert "(the clock says Mon 01 Mar 2027 09:00 EST)" in out  # the test clock, read
    assert "(the clock says Tue 09 Mar 2027 08:30 EST)" in out  # the home MSP's time zone
    assert "“next tuesday” is not a time like 2027-03-01T09:00; the clock is unchanged." in out
    assert "(the clock says Tue 09 Mar 2027 02:30 EST)" in out  # an offset given is kept
    assert core.clock().year >= 2026  # `/at now`: the real clock again


def test_console_without_a_person_asks_for_one(core):
    out = run(core, ["list"], person=None)
    assert "Choose who you are first" in out
