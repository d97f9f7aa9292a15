"""The App Home tab is `mine`: a signed `app_home_opened` event through the real server, and the view
Surge published, read from the fake Web API's `views.publish`."""
from __future__ import annotations

from bot.slack.blocks import escape
from handlers.types import Identity
from tests.harness import wait_for
from tests.slack.conftest import DISPATCH

EXPENSES = "$220.10 for 5 verified units and $45.10 of expenses"  # 5 × $35.00 + $45.10 at cost


def sections(view: dict) -> list[str]:
    return [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]


def published_to(slack, user: str, count: int = 1) -> dict:
    return slack.wait_sent("views.publish", count=count, user_id=user)[-1]["view"]


def work(slack) -> None:
    slack.command("U0PAULA", 'sign "Paula Admin"')
    slack.command("U0TOM", "guidelines ack")
    slack.command("U0DANA", 'request "DST patch" units=40 deadline=2030-03-10 pay=35 bill=60 town=Hicksville '
                  'customer="Acme Dental"', channel=DISPATCH)
    slack.command("U0TOM", "claim SR-1 8")
    slack.command("U0TOM", "done SR-1 8")


def test_the_home_tab_shows_the_openers_mine(slack):
    work(slack)
    slack.event({"type": "app_home_opened", "user": "U0DANA", "tab": "home", "channel": "D0DANA"})
    dana = published_to(slack, "U0DANA")
    assert dana["type"] == "home" and len(dana["blocks"]) <= 100
    assert "*Waiting for approval or verification (1)*\nSR-1 · DST patch: Tom Tech (8 units) to verify" in \
        sections(dana)
    assert any(e.get("text", {}).get("text") == "Verify Tom Tech on SR-1"
               for b in dana["blocks"] if b["type"] == "actions" for e in b["elements"])
    slack.command("U0DANA", 'verify SR-1 "Tom Tech" 5')
    slack.command("U0TOM", 'expense SR-1 45.10 "patch cable"')
    slack.command("U0DANA", "approve EX-1")
    slack.event({"type": "app_home_opened", "user": "U0TOM", "tab": "home", "channel": "D0TOM"})
    tom = published_to(slack, "U0TOM")
    mine = slack.stack.core.handle_text(Identity(platform="slack", user_id="U0TOM"), "mine")
    assert mine.fields and any(EXPENSES == f.value for f in mine.fields)
    for fact in mine.fields:  # every fact of `mine`, as `mine` words it
        assert f"*{escape(fact.label)}*\n{escape(fact.value)}" in sections(tom)
    assert any(s.startswith("*Requests with units left*\nSR-1 · DST patch: ") and "of 40 left" in s
               for s in sections(tom))
    assert "Acme Dental" not in str(tom)  # a tech's page never names the customer


def test_a_redelivered_opening_publishes_once_and_the_messages_tab_publishes_nothing(slack):
    work(slack)
    opened = {"type": "app_home_opened", "user": "U0TOM", "tab": "home", "channel": "D0TOM"}
    assert slack.event(opened, event_id="EvHOME1").status == 200
    assert slack.event(opened, event_id="EvHOME1").status == 200  # Slack retried the same event
    slack.event({**opened, "tab": "messages"})
    slack.event({"type": "app_home_opened", "user": "U0MORGAN", "tab": "home", "channel": "D0MORGAN"})
    morgan = published_to(slack, "U0MORGAN")  # the last one sent: the others were handled before it
    assert any(s.startswith("*Open problems (0)*") for s in sections(morgan))
    wait_for(lambda: slack.fake.sent("views.publish", user_id="U0TOM"), what="Tom's home")
    assert len(slack.fake.sent("views.publish", user_id="U0TOM")) == 1
