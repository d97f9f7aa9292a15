"""Tables that would only grow are trimmed by the clock; what failed for good is listed to managers."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlmodel import select

from bot.outbox import Outbox
from bot.scheduler import Clock
from models.tables import OutboxDelivery, OutboxMessage, ProcessedInteraction


def _outbox(db, status: str, age: timedelta, now, **payload) -> int:
    with db.session() as s:
        row = OutboxMessage(kind="message", payload=payload, status=status, created_at=now - age,
                            next_attempt_at=now - age, attempts=8 if status == "failed" else 1,
                            last_error="SlackApiError: channel_not_found" if status == "failed" else "")
        s.add(row)
        s.flush()
        return row.id


def test_the_clock_trims_delivered_rows_and_old_replay_keys_and_keeps_the_rest(chat, clock):
    db, now = chat.core.db, clock.now
    kept = {
        _outbox(db, "sent", timedelta(days=13), now), _outbox(db, "failed", timedelta(days=29), now),
        _outbox(db, "pending", timedelta(days=40), now),  # not delivered yet: never trimmed
    }
    gone = {_outbox(db, "sent", timedelta(days=15), now), _outbox(db, "failed", timedelta(days=31), now)}
    with db.session() as s:
        s.add(OutboxDelivery(origin_id=1, target="slack:C0OLD", ref="1.0", at=now - timedelta(days=15)))
        s.add(OutboxDelivery(origin_id=2, target="slack:C0NEW", ref="2.0", at=now - timedelta(days=1)))
        for key, age in {"slack:command:old": timedelta(days=2), "slack:command:recent": timedelta(hours=2),
                         "digest:7:2027-01-20": timedelta(days=40), "remind:expiry:1:2:30d": timedelta(days=91),
                         "remind:verify:3:x": timedelta(days=60)}.items():
            s.add(ProcessedInteraction(key=key, at=now - age))
    asyncio.run(Clock(chat.core, Outbox(db, []), clock=clock).tick())
    with db.session() as s:
        ids = set(s.exec(select(OutboxMessage.id)).all())
        keys = set(s.exec(select(ProcessedInteraction.key)).all())
        targets = set(s.exec(select(OutboxDelivery.target)).all())
    assert kept <= ids and not gone & ids
    assert {"slack:command:recent", "digest:7:2027-01-20", "remind:verify:3:x"} <= keys
    assert not {"slack:command:old", "remind:expiry:1:2:30d"} & keys
    assert targets == {"slack:C0NEW"}


def test_a_replay_within_a_day_still_gets_the_first_answer_after_a_trim(chat, clock):
    command = 'request "Replay" units=3 deadline=2027-03-10 pay=35 bill=60 town=Hicksville'
    first = chat.say("Dana Dispatch", command, key="slack:command:abc")
    clock.advance(hours=3)
    asyncio.run(Clock(chat.core, Outbox(chat.core.db, []), clock=clock).tick())
    queued = len(chat.outbox())
    again = chat.say("Dana Dispatch", command, key="slack:command:abc")
    assert first.ok and again.text == first.text
    assert len(chat.outbox()) == queued  # the replay posted nothing a second time


def test_managers_see_what_failed_for_good_and_others_may_not(chat, clock):
    db, now = chat.core.db, clock.now
    assert "Nothing failed" in chat.ok("Morgan Manager", "failures").text
    row = _outbox(db, "failed", timedelta(hours=1), now, audience="partners", text="Acme Dental, 12 Main St",
                  _only={"platform": "slack", "channel": "C0GONE"})
    reply = chat.ok("Morgan Manager", "failures")
    shown = reply.text + repr(reply.fields)
    assert "1 message could not be delivered" in reply.text
    assert f"#{row}" in shown and "C0GONE" in shown and "channel_not_found" in shown
    assert "Acme" not in shown  # where it went and why, never what it said
    chat.refused("Tom Tech", "failures")
