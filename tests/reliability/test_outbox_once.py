"""The outbox delivers exactly once as a channel sees it: two senders racing on a slow fan-out, a
sender whose lease would have run out mid-fan-out, and a sender that dies after the platform took a
post but before it was recorded."""
from __future__ import annotations

import asyncio
import threading
from collections import Counter

from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import select

from bot.outbox import Outbox
from bot.slack.notifier import SlackNotifier
from handlers.core import enqueue
from handlers.types import Audience, Message, Reply
from models.tables import Channel, OutboxMessage, Person, PostedCard

CHANNELS = 24


class Slow:
    """A chat platform whose posts wait at a gate; records what landed, per channel."""

    def __init__(self, name: str = "slack", *, hold: set[str] | None = None):
        self.platform = name
        self.gate = asyncio.Event()
        self.hold = hold  # only these channels wait at the gate (None: every channel)
        self.started: list[str] = []
        self.landed: list[tuple[str, str, str]] = []

    async def post(self, channel_id: str, message: Message, **_marker) -> str:
        self.started.append(channel_id)
        if self.hold is None or channel_id in self.hold:
            await self.gate.wait()
        self.landed.append(("post", channel_id, f"{message.title}\n{message.text}"))
        return f"ref{len(self.landed)}"

    async def update(self, channel_id: str, ref: str, message: Message) -> None:
        self.landed.append(("update", channel_id, ref))

    async def direct(self, person: Person, message: Message, **_marker) -> str:
        self.landed.append(("dm", person.name, message.text[:40]))
        return f"dm{len(self.landed)}"

    def reaches(self, person: Person) -> bool:
        return bool(person.slack_id)


def add_channels(db, platform: str = "slack", n: int = CHANNELS) -> list[str]:
    ids = [f"C0P{i:03d}" for i in range(n)]
    with db.session() as s:
        for cid in ids:
            s.add(Channel(platform=platform, external_id=cid, purpose="partners", tier=1, name=cid))
    return ids


async def until(predicate, *, timeout: float = 20, what: str = "condition") -> None:
    """Yield to the loop until `predicate()` holds (a count or a state, never a fixed time)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)
    assert predicate(), what


async def drain(*senders: Outbox, clock=None) -> None:
    """Deliver until nothing is left, moving the clock past any backoff."""
    for _ in range(50):
        while any(await asyncio.gather(*(s.deliver_due() for s in senders))):
            pass
        left = [r for r in rows(senders[0].db) if r.status in ("pending", "sending")]
        if not left or clock is None:
            return
        clock.now = max(clock.now, max(r.next_attempt_at for r in left))
    raise AssertionError("the outbox never emptied")


def rows(db) -> list[OutboxMessage]:
    with db.session() as s:
        return list(s.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def test_a_long_fan_out_keeps_its_lease_and_a_second_sender_takes_nothing_of_it(ready, clock):
    channels = add_channels(ready.core.db)
    slack = Slow()
    first, second = (Outbox(ready.core.db, [slack], clock=clock) for _ in range(2))
    first.heartbeat = second.heartbeat = 0.01

    async def scenario() -> None:
        fanning = asyncio.create_task(first.deliver_due(kinds=("card",)))
        await until(lambda: len(slack.started) >= first.concurrency, what="the fan-out under way")
        card = next(r for r in rows(ready.core.db) if r.kind == "card")
        clock.advance(seconds=61)  # longer than any lease: only a renewed one still holds the row
        await until(lambda: next(r for r in rows(ready.core.db) if r.id == card.id).next_attempt_at > clock.now,
                    what="the lease renewed while the fan-out runs")
        assert await second.deliver_due(kinds=("card",)) == 0
        slack.gate.set()
        await fanning
        await drain(first, second, clock=clock)

    asyncio.run(scenario())
    cards = Counter(c for kind, c, text in slack.landed if kind == "post" and "DST patch" in text)
    assert cards == Counter({c: 1 for c in channels + ["C0PARTNERS", "C0DISPATCH"]})


def test_two_senders_racing_on_cards_and_their_updates_post_each_card_once(ready, clock):
    channels = add_channels(ready.core.db)
    for units in (1, 2):  # card updates for SR-1, queued right behind its first post
        ready.ok("Tom Tech", f"claim SR-1 {units}")
    for i in range(2):
        ready.ok("Dana Dispatch", f'request "Job {i}" units=9 deadline=2027-03-10 pay=35 bill=60 town=Hicksville')
    slack = Slow()
    senders = [Outbox(ready.core.db, [slack], clock=clock) for _ in range(2)]
    for sender in senders:
        sender.heartbeat = 0.01

    async def scenario() -> None:
        # one row each at a time: one sender posts SR-1's card while the other takes its update
        racing = [asyncio.create_task(s.deliver_due(limit=1, kinds=("card",))) for s in senders]
        await until(lambda: len(slack.started) >= 2 * senders[0].concurrency or all(t.done() for t in racing),
                    what="both senders under way")
        slack.gate.set()
        await asyncio.gather(*racing)
        await drain(*senders, clock=clock)

    asyncio.run(scenario())
    for cid in channels + ["C0PARTNERS", "C0DISPATCH"]:
        for title in ("DST patch", "Job 0", "Job 1"):
            got = [text for kind, c, text in slack.landed if kind == "post" and c == cid and title in text]
            assert len(got) == 1, (cid, title, got)
    with ready.core.db.session() as s:
        refs = [p.message_ref for p in s.exec(select(PostedCard)).all()]
    assert len(refs) == 3 * (len(channels) + 2) and not [r for r in refs if r.startswith("pending:")]


def test_a_sender_killed_after_slack_took_the_post_leaves_one_card(ready, clock, fake_slack):
    def notifier() -> SlackNotifier:
        return SlackNotifier(AsyncWebClient(token="xoxb-test", base_url=fake_slack.api_url), interval=0)

    dying = Outbox(ready.core.db, [notifier()], clock=clock)
    killed, dead = threading.Event(), threading.Event()

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(dying.deliver_due(kinds=("card",)))
        task.add_done_callback(lambda _t: dead.set())

        def die(body: dict) -> None:  # Slack has the post; the sender dies before hearing back
            if not killed.is_set():
                killed.set()
                loop.call_soon_threadsafe(task.cancel)
                dead.wait(10)

        fake_slack.on("chat.postMessage", die)
        await asyncio.wait([task])
        assert killed.is_set() and task.cancelled()
        fake_slack.on("chat.postMessage", lambda body: None)
        clock.advance(seconds=20)  # the dead sender's lease runs out
        await drain(Outbox(ready.core.db, [notifier()], clock=clock), clock=clock)

    asyncio.run(scenario())
    for channel in ("C0PARTNERS", "C0DISPATCH"):
        cards = [m for m in fake_slack.posts_in(channel) if "DST patch" in m["text"]]
        assert len(cards) == 1, (channel, cards)
        with ready.core.db.session() as s:
            posted = s.exec(select(PostedCard).where(PostedCard.channel_id == channel)).one()
        assert posted.message_ref == cards[0]["ts"]  # the post Slack took is the one updated later


def test_a_teams_fan_out_resumed_after_a_crash_skips_the_channels_it_reached(ready, clock):
    channels = add_channels(ready.core.db, "teams")
    reached = set(channels[:5])
    teams = Slow("teams", hold=set(channels) - reached)  # the rest hang until the sender dies
    with ready.core.db.session() as s:
        enqueue(s, Reply(text="", messages=[Message(audience=Audience.PARTNERS, tier=1, text="Holiday hours")]))
    dying = Outbox(ready.core.db, [teams], clock=clock)

    async def scenario() -> None:
        task = asyncio.create_task(dying.deliver_due(kinds=("message",)))
        await until(lambda: {c for kind, c, _ in teams.landed if kind == "post"} >= reached and
                    len(teams.started) >= len(reached) + 1, what="five channels reached, the next under way")
        await until(lambda: _recorded(ready.core.db) >= len(reached), what="the five recorded")
        task.cancel()  # the process dies mid-fan-out
        await asyncio.wait([task])
        teams.hold = None
        teams.gate.set()
        clock.advance(seconds=20)
        await drain(Outbox(ready.core.db, [teams], clock=clock), clock=clock)

    asyncio.run(scenario())
    posts = Counter(c for kind, c, text in teams.landed if kind == "post" and "Holiday" in text)
    assert posts == Counter({c: 1 for c in channels})


def _recorded(db) -> int:
    from models.tables import OutboxDelivery

    with db.session() as s:
        return len(s.exec(select(OutboxDelivery)).all())


def test_surge_serve_sigkilled_after_slack_took_a_card_posts_it_once_after_restart(db_url, fake_slack, tmp_path):
    """As deployed: the process is SIGKILLed while Slack holds its card post, before it hears back."""
    import signal

    from models.db import Database
    from tests.harness import wait_for
    from tests.reliability.conftest import command, start_serve

    serve = start_serve(db_url, fake_slack, tmp_path)
    answered, killed = threading.Event(), threading.Event()

    def sigkill(body: dict) -> None:
        if "Kill card" in str(body.get("text")) and not killed.is_set():
            answered.wait(30)  # the dispatcher has had the answer; the card is in Slack's hands
            serve.proc.send_signal(signal.SIGKILL)
            serve.proc.wait(10)
            killed.set()

    fake_slack.on("chat.postMessage", sigkill)
    status, answer = command(serve.url, "U0DANA", 'request "Kill card" units=5 deadline=2030-03-10 pay=35 town=Hicksville')
    assert status == 200 and "Posted" in answer["text"]
    answered.set()
    assert killed.wait(30)
    again = start_serve(db_url, fake_slack, tmp_path, name="restarted")
    db = Database(db_url)
    try:
        def settled() -> bool:  # every row delivered and every card recorded, once the dead lease ran out
            with db.session() as s:
                busy = [r for r in s.exec(select(OutboxMessage)).all() if r.status in ("pending", "sending")]
                cards = s.exec(select(PostedCard)).all()
            return not busy and len(cards) == 2 and not [c for c in cards if c.message_ref.startswith("pending:")]

        wait_for(settled, timeout=90, what="the restarted server to finish the dead one's rows")
    finally:
        again.stop()
        db.dispose()
    for channel in ("C0PARTNERS", "C0DISPATCH"):
        assert len([m for m in fake_slack.posts_in(channel) if "Kill card" in m["text"]]) == 1, channel
