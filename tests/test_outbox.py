"""The outbox sender: delivered once per target, retried per target, never doubled, across senders."""
from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import timedelta

from sqlmodel import select

from bot.outbox import Outbox
from handlers.types import Message
from models.tables import OutboxMessage, Person


class Platform:
    """A chat platform at the edge: records what reached each channel; can be made to fail."""

    def __init__(self, name: str, down: set[str] | None = None):
        self.platform, self.down = name, down or set()
        self.got: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()

    def _check(self, where: str) -> None:
        if where in self.down:
            raise ConnectionError(f"{where} unreachable")

    async def post(self, channel_id: str, message: Message, **_marker) -> str:
        self._check(channel_id)
        with self.lock:
            self.got.append(("post", channel_id, f"{message.title}\n{message.text}"))
            return f"ts{len(self.got)}"

    async def update(self, channel_id: str, ref: str, message: Message) -> None:
        self._check(channel_id)
        with self.lock:
            self.got.append(("update", channel_id, message.text))

    async def direct(self, person: Person, message: Message, **_marker) -> str:
        self._check(person.slack_id or "")
        with self.lock:
            self.got.append(("dm", person.name, message.text))
            return f"dm{len(self.got)}"

    def reaches(self, person: Person) -> bool:
        return bool(person.slack_id)


def drain(outbox: Outbox) -> None:
    asyncio.run(_drain(outbox))


async def _drain(outbox: Outbox) -> None:
    while await outbox.deliver_due():
        pass


def test_a_failing_channel_is_retried_alone_and_nothing_is_doubled(ready, clock):
    slack = Platform("slack", down={"C0DISPATCH"})
    outbox = Outbox(ready.core.db, [slack], clock=clock)
    drain(outbox)
    posts = Counter(c for kind, c, _ in slack.got if kind == "post")
    assert posts == {"C0PARTNERS": 1, "C0MANAGERS": 1}  # the card, and "Contoso signed"
    with ready.core.db.session() as s:
        waiting = s.exec(select(OutboxMessage).where(OutboxMessage.status == "pending")).all()
    assert [r.payload["_only"] for r in waiting] == [{"platform": "slack", "channel": "C0DISPATCH"}]
    slack.down.clear()
    drain(outbox)  # not yet due: backoff
    assert Counter(c for kind, c, _ in slack.got if kind == "post") == posts
    clock.advance(minutes=1)
    drain(outbox)
    assert Counter(c for kind, c, _ in slack.got if kind == "post") == {"C0PARTNERS": 1, "C0MANAGERS": 1,
                                                                        "C0DISPATCH": 1}


def test_card_updates_coalesce_to_the_newest_state(ready, clock):
    slack = Platform("slack")
    outbox = Outbox(ready.core.db, [slack], clock=clock)
    drain(outbox)
    for units in (2, 3, 4):
        ready.ok("Tom Tech", f"claim SR-1 {units}")
    drain(outbox)
    updates = [text for kind, c, text in slack.got if kind == "update" and c == "C0PARTNERS"]
    assert len(updates) == 1 and "31 of 40 units left" in updates[0]
    assert [d for d in slack.got if d[0] == "dm"] and all("Tom Tech" == d[1] for d in slack.got if d[0] == "dm")


def test_two_senders_never_deliver_the_same_row_twice(ready, clock):
    for i in range(6):
        ready.ok("Dana Dispatch", f'request "Job {i}" units=5 deadline=2027-03-10 pay=35 bill=60 town=Hicksville')
    slack = Platform("slack")
    senders = [Outbox(ready.core.db, [slack], clock=clock) for _ in range(3)]
    threads = [threading.Thread(target=drain, args=(o,)) for o in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    posts = Counter((c, text.split("\n")[0]) for kind, c, text in slack.got if kind == "post")  # by title
    # 7 requests × (partners + dispatch), and "Contoso signed" to managers: each exactly once
    assert len(posts) == 2 * 7 + 1 and set(posts.values()) == {1}


def test_an_expired_lease_is_delivered_again_after_a_crash(ready, clock):
    outbox = Outbox(ready.core.db, [Platform("slack")], clock=clock)
    with ready.core.db.session() as s:  # a sender leased everything, then died before sending
        rows = s.exec(select(OutboxMessage)).all()
        for row in rows:
            row.status, row.next_attempt_at = "sending", clock.now + timedelta(seconds=60)
    assert asyncio.run(outbox.deliver_due()) == 0
    clock.advance(seconds=61)
    assert asyncio.run(outbox.deliver_due()) == len(rows)


def test_a_direct_message_does_not_wait_behind_a_slow_card_fan_out(ready, clock):
    class SlowChannels(Platform):
        """Posting a request card takes a while (a big fan-out, or 429s): it waits at a gate."""

        def __init__(self, name: str):
            super().__init__(name)
            self.gate, self.card_started = asyncio.Event(), asyncio.Event()

        async def post(self, channel_id: str, message: Message, **marker) -> str:
            if "SR-1" in f"{message.title} {message.text}":
                self.card_started.set()
                await self.gate.wait()
            return await super().post(channel_id, message, **marker)

    slack = SlowChannels("slack")
    outbox = Outbox(ready.core.db, [slack], clock=clock)

    async def scenario() -> list[tuple[str, str, str]]:
        sender = asyncio.create_task(outbox.run_forever(idle=0.05))
        await asyncio.wait_for(slack.card_started.wait(), 10)  # SR-1's card fan-out is under way
        await asyncio.to_thread(ready.ok, "Tom Tech", "claim SR-1 2")
        outbox.wake()
        async with asyncio.timeout(10):  # the claimant's job details arrive while the cards still wait
            while not any(kind == "dm" for kind, _, _ in slack.got):
                await asyncio.sleep(0.01)
        seen = list(slack.got)
        slack.gate.set()
        outbox.stop()
        await asyncio.wait_for(sender, 10)
        return seen

    seen = asyncio.run(scenario())
    assert [d for d in seen if d[0] == "dm" and d[1] == "Tom Tech"], seen
    assert not [d for d in seen if d[0] == "post" and "SR-1" in d[2]]  # no card had landed yet
