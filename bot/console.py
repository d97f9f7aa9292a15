"""The text adapter: the chat commands in a terminal, on the same core and database.

Each line is a command as the current person (`/as NAME` switches). After each answer the console
prints what every other audience received: DMs, the dispatch and managers channels, the partner
channels, and the request cards as they now stand.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from sqlmodel import select

from handlers.common import home_zone, match_people, when
from handlers.core import Surge
from handlers.types import Audience, CardChange, Identity, Message, Reply, Tone
from handlers.views import request_cards
from models.tables import Person
from models.types import utcnow

TONE_MARK = {Tone.INFO: "", Tone.SUCCESS: "✓ ", Tone.WARNING: "! ", Tone.ERROR: "✗ "}
CONSOLE_HELP = ("Console: /as NAME switches person, /who lists the roster, /at 2027-03-01T09:00 sets the clock, "
                "/quit leaves. Anything else is a command.")


def render_text(title: str | None, text: str, fields, actions, tone: Tone = Tone.INFO, indent: str = "  ") -> str:
    lines = []
    if title:
        lines.append(f"{TONE_MARK[tone]}{title}")
        if text:
            lines += text.splitlines()
    else:
        lines += (TONE_MARK[tone] + text).splitlines()
    lines += [f"{f.label}: {f.value}" for f in fields]
    if actions:
        lines.append("  ".join(f"[{a.label}]" for a in actions))
    return "\n".join(indent + part for line in lines for part in line.splitlines())


def render_reply(reply: Reply) -> str:
    out = render_text(reply.title, reply.text, reply.fields, reply.actions, reply.tone)
    if reply.form:
        out += f"\n  (In Slack or Teams this opens the {reply.form} form; here, type the command with its values.)"
    return out


class Console:
    export_dir = Path(".")  # where an export's file is written

    def __init__(self, core: Surge, *, person: str | None, out: TextIO):
        self.core, self.person, self.out = core, person, out

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def names(self) -> dict[int, str]:
        with self.core.db.session() as s:
            return {p.id: p.name for p in s.exec(select(Person)).all()}

    def whom(self, name: str) -> tuple[str | None, str]:
        """The roster name `name` means (a full name, or a unique first name or prefix, any case), or
        None and why not: the names it could be, or the close ones."""
        with self.core.db.session() as s:
            people = list(s.exec(select(Person).order_by(Person.name)).all())
        found = match_people(people, name)
        if len(found) == 1:
            return found[0].name, ""
        if found:
            return None, f"“{name}” could be {', '.join(p.name for p in found)}: type more of the name."
        names = {p.name.lower(): p.name for p in people}
        close = [names[n] for n in difflib.get_close_matches(name.lower(), names, n=3, cutoff=0.5)]
        hint = f" Close: {', '.join(close)}." if close else " Type /who to see the roster."
        return None, f"There is no “{name}” on the roster.{hint}"

    def run(self, lines: Iterable[str], *, prompt: bool = False) -> None:
        self.print(CONSOLE_HELP)
        for raw in lines:
            line = raw.strip()
            if prompt is False and line:
                self.print(f"{self.person or '?'}> {line}")
            if not line or line.startswith("#"):
                continue
            if line in {"/quit", "/exit"}:
                break
            if line.startswith("/as"):
                name, why = self.whom(line[3:].strip().strip('"')) if line[3:].strip() else (self.person, "")
                if name is None:
                    self.print(f"  {why}")
                    continue
                self.person = name
                self.print(f"  (you are now {self.person})")
                continue
            if line == "/at" or line.startswith("/at "):
                self.print(f"  {self.set_clock(line[3:].strip())}")
                continue
            if line == "/who":
                self.print("\n".join(f"  {n}" for n in sorted(self.names().values())))
                continue
            if not self.person:
                self.print("  Choose who you are first: /as NAME")
                continue
            self.show(self.core.handle_text(Identity(platform="console", user_id=self.person), line))

    def set_clock(self, value: str) -> str:
        """`/at 2027-03-01T09:00` (the home MSP's time zone unless an offset is given): from then on
        every command happens at that moment, and the clock stands still there; `/at now` follows the
        real clock again; `/at` alone says what time it is."""
        with self.core.db.session() as s:
            tz = ZoneInfo(home_zone(s, self.core.home_timezone))
        if value == "now":
            self.core.clock = utcnow
        elif value:
            try:
                at = datetime.fromisoformat(value)
            except ValueError:
                return f"“{value}” is not a time like 2027-03-01T09:00; the clock is unchanged."
            fixed = (at if at.tzinfo else at.replace(tzinfo=tz)).astimezone(UTC)
            self.core.clock = lambda: fixed
        return f"(the clock says {when(self.core.clock(), tz)})"

    def show(self, reply: Reply) -> None:
        self.print(render_reply(reply))
        if reply.file is not None:  # an export: written beside the console, its path printed
            path = (self.export_dir / reply.file.name).resolve()
            path.write_text(reply.file.content, encoding="utf-8", newline="")
            self.print(f"  → file written: {path}")
        if reply.chart is not None:  # a digest's chart: drawn to a PNG beside the console, its path printed
            from bot.charts import png

            path = (self.export_dir / f"surge-chart-{self.core.clock():%Y-%m-%d-%H%M%S}.png").resolve()
            path.write_bytes(png(reply.chart))
            self.print(f"  → chart written: {path}")
        names = self.names()
        for m in reply.messages:
            self.print(self.header(m, names))
            self.print(render_text(m.title, m.text, m.fields, m.actions, m.tone, indent="    "))
        for intent in reply.cards:
            with self.core.db.session() as s:
                partner, _dispatch = request_cards(s, intent.request_id, self.core.home_timezone)
            verb = "posted to" if intent.change is CardChange.POST else "updated in"
            self.print(f"  → card SR-{intent.request_id} {verb} the tier {partner.tier} partner channels:")
            self.print(render_text(partner.title, partner.text, partner.fields, partner.actions, partner.tone, "    "))
            if intent.change is CardChange.POST:
                self.print(f"  → card SR-{intent.request_id} posted to dispatch (with the private details)")

    @staticmethod
    def header(m: Message, names: dict[int, str]) -> str:
        if m.audience is Audience.DM:
            return f"  → DM to {names.get(m.person_id, m.person_id)}:"
        return f"  → #{m.audience.value} channel:"
