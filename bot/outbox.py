"""Delivers the outbox: what handlers wrote for channels and DMs, through each platform's notifier.

Exactly once, as a channel sees it:

- A sender leases a few rows at a time (status `sending`, `lease_owner` itself, for `LEASE`) and
  renews the lease every `HEARTBEAT` seconds while it works, so no other process takes a row that is
  still being delivered however long its fan-out takes, and a dead process's rows are free again
  within `LEASE`. Only the lease's holder may mark a row done; a sender that lost a lease stops.
- Each target is recorded right after its send: a request card as its `PostedCard` (written first as
  an intent, `pending:<sender>:<row>`, then given the message's reference), a message as an
  `OutboxDelivery`. A row taken up again skips what is recorded.
- What may have been sent without being recorded (a process killed between the platform's answer
  and the record: an intent left pending by a sender that no longer holds its row, or any target of
  a row attempted before) is looked for before sending again: on Slack, every post carries message
  metadata (`surge_outbox`: outbox id, request id) and `conversations.history` finds it, and its ts
  is adopted. Teams has no such history: there a send killed in that instant may be repeated.

Two processes never hold the same row (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one writer). A
failed target is retried alone with backoff; a card is re-rendered from the database as it stands.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.notifier import Marker, Notifier
from bot.workers import in_background
from handlers.types import Audience, CardChange, Message
from handlers.views import request_cards
from models.db import Database
from models.queries import posted_cards
from models.tables import Channel, OutboxDelivery, OutboxMessage, Person, PostedCard, SurgeRequest
from models.types import utcnow

log = logging.getLogger("surge.outbox")

LEASE = timedelta(seconds=15)
HEARTBEAT = 5.0  # seconds between lease renewals (well inside LEASE)
BATCH = 10  # rows leased at a time
MAX_ATTEMPTS = 8
LANES = (("message",), ("card",))  # delivered side by side; rows of one lane in order
PENDING = "pending:"


class Busy(RuntimeError):
    """Another live sender is posting this card to this channel right now: retried later."""


class LeaseLost(RuntimeError):
    """This sender no longer holds the row (its lease lapsed and another sender took it)."""


class Outbox:
    def __init__(self, db: Database, notifiers: Sequence[Notifier], *, home_timezone: str = "UTC", clock=utcnow):
        self.db = db
        self.notifiers = {n.platform: n for n in notifiers}
        self.home_timezone = home_timezone
        self.clock = clock
        self.concurrency = 8  # targets delivered at once; each platform paces its own channels
        self.batch = BATCH
        self.heartbeat = HEARTBEAT
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lost: set[int] = set()  # rows whose lease this sender lost mid-delivery
        self._wakes: dict[tuple[str, ...], asyncio.Event] = {}
        self._stopping = False

    def wake(self) -> None:
        """Deliver soon (called after a handler committed something for others)."""
        for event in self._wakes.values():
            event.set()

    async def run_forever(self, *, idle: float = 2.0) -> None:
        """Deliver until `stop()` (or the task is cancelled), in two lanes: direct messages and
        channel messages in one, request cards in the other, so a claimant's DM never waits behind
        a card's fan-out to hundreds of channels."""
        self._stopping = False
        await asyncio.gather(*(self._lane(kinds, idle) for kinds in LANES))

    async def _lane(self, kinds: tuple[str, ...], idle: float) -> None:
        wake = self._wakes.setdefault(kinds, asyncio.Event())
        while not self._stopping:
            try:
                while not self._stopping and await self.deliver_due(kinds=kinds):
                    pass
            except Exception:  # noqa: BLE001 - keep the sender alive; the rows are retried
                log.exception("outbox delivery failed")
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
            # arrives as the event is set, and the sender would then never stop
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(idle):
                    await wake.wait()
            wake.clear()

    def stop(self) -> None:
        """Finish the rows in hand, then leave `run_forever` (what is left stays in the outbox)."""
        self._stopping = True
        self.wake()

    async def deliver_due(self, *, limit: int | None = None, kinds: tuple[str, ...] | None = None) -> int:
        """Deliver what is due now (of these kinds of row); returns how many rows were handled."""
        rows = await in_background(self.db.run, lambda s: self._lease(s, limit or self.batch, kinds))
        if not rows:
            return 0
        held = {r.id for r in rows}
        beat = asyncio.create_task(self._heartbeat(held))
        try:
            cards_done: set[int] = set()
            for row in rows:
                try:
                    self._holding(row)
                    failed = await (self._card(row, cards_done) if row.kind == "card" else self._message(row))
                    self._holding(row)
                except LeaseLost:
                    log.warning("outbox row %s: lease lost to another sender; left to it", row.id)
                    held.discard(row.id)
                    continue
                except Exception as exc:  # noqa: BLE001 - e.g. the database went away: retry the row later
                    log.warning("outbox row %s failed (attempt %s): %s", row.id, row.attempts, exc)
                    await in_background(self.db.run, lambda s, r=row, e=exc: self._failed(s, r.id, e))
                    held.discard(row.id)
                    continue
                await in_background(self.db.run, lambda s, r=row, f=failed: self._sent(s, r, f))
                held.discard(row.id)
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        return len(rows)

    # -- leases ---------------------------------------------------------------------------------

    def _lease(self, s: Session, limit: int, kinds: tuple[str, ...] | None = None) -> list[OutboxMessage]:
        now = self.clock()
        stmt = (
            select(OutboxMessage)
            .where(or_(OutboxMessage.status == "pending", OutboxMessage.status == "sending"),
                   OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.id).limit(limit)
        )
        if kinds is not None:
            stmt = stmt.where(OutboxMessage.kind.in_(kinds))
        if not self.db.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list(s.exec(stmt).all())
        for row in rows:
            row.status, row.attempts, row.next_attempt_at = "sending", row.attempts + 1, now + LEASE
            row.lease_owner = self.owner
        s.flush()
        return [OutboxMessage.model_validate(r.model_dump()) for r in rows]

    async def _heartbeat(self, held: set[int]) -> None:
        """Renew the lease of the rows still in hand; a row another sender has taken is lost."""
        while True:
            await asyncio.sleep(self.heartbeat)
            ids = set(held)
            if not ids:
                continue
            try:
                kept = await in_background(self.db.run, lambda s: self._renew(s, ids))
            except Exception as exc:  # noqa: BLE001 - try again at the next beat (the lease has margin)
                log.warning("outbox lease renewal failed: %s", exc)
                continue
            self._lost |= ids - kept

    def _renew(self, s: Session, ids: set[int]) -> set[int]:
        stmt = select(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.status == "sending",
                                           OutboxMessage.lease_owner == self.owner)
        if not self.db.is_sqlite:
            stmt = stmt.with_for_update()
        rows = s.exec(stmt).all()
        until = self.clock() + LEASE
        for row in rows:
            row.next_attempt_at = until
        return {r.id for r in rows}

    def _holding(self, row: OutboxMessage) -> None:
        if row.id in self._lost:
            raise LeaseLost(row.id)

    def _mine(self, s: Session, row_id: int) -> OutboxMessage | None:
        row = s.get(OutboxMessage, row_id)
        if row is None or row.status != "sending" or row.lease_owner != self.owner:
            log.warning("outbox row %s: no longer held by this sender; left as it is", row_id)
            return None
        return row

    def _sent(self, s: Session, done: OutboxMessage, failed: list[tuple[dict, Exception]]) -> None:
        """Mark a row delivered; each target that failed gets a row of its own, retried with backoff,
        so a retry never repeats what already reached the other targets."""
        row = self._mine(s, done.id)
        if row is None:
            return
        row.status, row.last_error = "sent", ""
        for target, exc in failed:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            log.warning("outbox row %s: %s failed (attempt %s): %s", row.id, target, row.attempts, error)
            give_up = row.attempts >= MAX_ATTEMPTS and not isinstance(exc, Busy)
            s.add(OutboxMessage(
                kind=row.kind, payload={**row.payload, "_only": target, "_origin": _origin(row)},
                attempts=row.attempts, last_error=error, status="failed" if give_up else "pending",
                created_at=row.created_at, next_attempt_at=self.clock() + _backoff(row, give_up)))

    def _failed(self, s: Session, row_id: int, exc: Exception) -> None:
        row = self._mine(s, row_id)
        if row is None:
            return
        row.last_error, row.lease_owner = f"{type(exc).__name__}: {exc}"[:2000], None
        if row.attempts >= MAX_ATTEMPTS:
            row.status, row.next_attempt_at = "failed", self.clock()  # when it gave up (`failures` says)
            log.error("outbox row %s gave up after %s attempts: %s", row_id, row.attempts, row.last_error)
        else:
            row.status = "pending"
            row.next_attempt_at = self.clock() + _backoff(row)

    # -- what a row means -----------------------------------------------------------------------

    def _channels(self, s: Session, purpose: str, *, max_tier: int | None = None) -> list[Channel]:
        stmt = select(Channel).where(Channel.purpose == purpose, Channel.active == True).order_by(Channel.id)  # noqa: E712
        chans = [c for c in s.exec(stmt).all() if c.platform in self.notifiers]
        if max_tier is not None:
            chans = [c for c in chans if c.tier is not None and c.tier <= max_tier]
        return chans

    async def _each(self, row: OutboxMessage, targets: list, send) -> list[tuple[dict, Exception]]:
        """Send to every target, a few at a time; returns the targets that failed and why."""
        gate = asyncio.Semaphore(self.concurrency)

        async def one(target):
            async with gate:
                self._holding(row)  # a lost lease stops the fan-out (LeaseLost is not a target's failure)
                try:
                    await send(target)
                except Exception as exc:  # noqa: BLE001 - reported per target
                    return _target(target), exc
                return None

        return [r for r in await asyncio.gather(*(one(t) for t in targets)) if r]

    async def _message(self, row: OutboxMessage) -> list[tuple[dict, Exception]]:
        m, only, origin = Message.model_validate(row.payload), row.payload.get("_only"), _origin(row)
        marker, check = Marker(outbox_id=origin, request_id=m.request_id), _tried_before(row)

        def targets(s: Session):
            done = set(s.exec(select(OutboxDelivery.target).where(OutboxDelivery.origin_id == origin)).all())
            if m.audience is Audience.DM:
                return [s.get(Person, m.person_id)], done
            purpose = {Audience.DISPATCH: "dispatch", Audience.MANAGERS: "managers", Audience.PARTNERS: "partners"}
            tier = m.tier if m.audience is Audience.PARTNERS else None
            return self._channels(s, purpose[m.audience], max_tier=tier), done

        found, done = await in_background(self.db.read, targets)
        if m.audience is Audience.DM:
            person = found[0]
            notifier = next((n for n in self.notifiers.values() if person and n.reaches(person)), None)
            if not notifier or not person.active or _key(person) in done:
                return []

            async def dm(p: Person) -> None:
                ref = await notifier.direct(p, m, marker=marker, check=check)
                await self._record(origin, _key(p), ref)

            return await self._each(row, [person], dm)
        found = [c for c in found if (not only or _target(c) == only) and _key(c) not in done]

        async def post(c: Channel) -> None:
            ref = await self.notifiers[c.platform].post(c.external_id, m, marker=marker, check=check)
            await self._record(origin, _key(c), ref)

        return await self._each(row, found, post)

    async def _record(self, origin: int, target: str, ref: str | None) -> None:
        def work(s: Session) -> None:
            s.add(OutboxDelivery(origin_id=origin, target=target, ref=ref or "", at=self.clock()))

        await in_background(self.db.run, work)

    async def _card(self, row: OutboxMessage, done: set[int]) -> list[tuple[dict, Exception]]:
        payload = row.payload
        request_id, change, only = payload["request_id"], CardChange(payload["change"]), payload.get("_only")
        if change is CardChange.UPDATE and request_id in done and not only:
            return []  # already re-rendered from the newest state in this batch
        now, mine = self.clock(), f"{PENDING}{self.owner}:{row.id}"
        marker = Marker(outbox_id=_origin(row), request_id=request_id, card=True)

        def load(s: Session):
            req = s.get(SurgeRequest, request_id)
            partner, dispatch = request_cards(s, request_id, self.home_timezone)
            posted = posted_cards(session=s, request_id=request_id)  # not a deactivated channel's
            wanted = self._channels(s, "partners", max_tier=req.visible_tier) + self._channels(s, "dispatch")
            live = {c.id for c in posted if c.message_ref.startswith(PENDING) and _live(s, c.message_ref, now)}
            return partner, dispatch, posted, wanted, live

        partner, dispatch, posted, wanted, live = await in_background(self.db.read, load)
        fits = lambda where: not only or _target(where) == only  # noqa: E731
        have = {(p.platform, p.channel_id) for p in posted}
        ours = [c for c in posted if c.platform in self.notifiers and fits(c)]
        updates = [c for c in ours if not c.message_ref.startswith(PENDING)]
        # left pending by a sender that no longer holds its row (or by this row's own earlier attempt)
        orphans = [c for c in ours if c.message_ref.startswith(PENDING) and (c.id not in live or c.message_ref == mine)]
        busy = [c for c in ours if c.id in live and c.message_ref != mine]
        # a first post, or a tier the request has widened to
        posts = [c for c in wanted if (c.platform, c.external_id) not in have and fits(c)]

        async def update(card: PostedCard) -> None:
            copy = dispatch if card.purpose == "dispatch" else partner
            await self.notifiers[card.platform].update(card.channel_id, card.message_ref, copy)

        async def post(channel: Channel) -> None:
            try:
                card = await in_background(self.db.run, lambda s: self._intend(s, channel, request_id, mine))
            except IntegrityError:
                raise Busy(f"{channel.platform} {channel.external_id}: another sender is posting this card") from None
            await self._post_card(card, dispatch if channel.purpose == "dispatch" else partner, marker, check=False)

        async def adopt(card: PostedCard) -> None:
            """A post that may have landed without being recorded: look for it before posting again."""
            if not await in_background(self.db.run, lambda s: _take_over(s, card, mine)):
                raise Busy(f"{card.platform} {card.channel_id}: taken up by another sender")
            await self._post_card(card, dispatch if card.purpose == "dispatch" else partner, marker, check=True)

        async def wait(card: PostedCard) -> None:
            raise Busy(f"{card.platform} {card.channel_id}: another sender is posting this card")

        failed = (await self._each(row, updates, update) + await self._each(row, posts, post)
                  + await self._each(row, orphans, adopt) + await self._each(row, busy, wait))
        if not only:
            done.add(request_id)
        return failed

    def _intend(self, s: Session, channel: Channel, request_id: int, mine: str) -> PostedCard:
        """Record the intent to post before posting: a second sender sees it (the unique key refuses
        its own), and a sender taking this row up after a crash knows to look before posting."""
        card = PostedCard(request_id=request_id, platform=channel.platform, channel_id=channel.external_id,
                          message_ref=mine, purpose=channel.purpose, posted_at=self.clock())
        s.add(card)
        s.flush()
        return PostedCard.model_validate(card.model_dump())

    async def _post_card(self, card: PostedCard, copy: Message, marker: Marker, *, check: bool) -> None:
        ref = await self.notifiers[card.platform].post(card.channel_id, copy, marker=marker, check=check)

        def record(s: Session) -> None:
            row = s.get(PostedCard, card.id)
            if row.message_ref != card.message_ref and not row.message_ref.startswith(PENDING):
                log.warning("card %s in %s was recorded twice", card.request_id, card.channel_id)
            row.message_ref, row.posted_at = ref, self.clock()

        await in_background(self.db.run, record)


def _live(s: Session, pending: str, now) -> bool:
    """Whether the sender named in a pending card still holds the row it is posting for."""
    owner, _, row_id = pending.removeprefix(PENDING).rpartition(":")
    row = s.get(OutboxMessage, int(row_id)) if row_id.isdigit() else None
    return bool(row and row.status == "sending" and row.lease_owner == owner and row.next_attempt_at > now)


def _take_over(s: Session, card: PostedCard, mine: str) -> bool:
    row = s.get(PostedCard, card.id)
    if row is None or row.message_ref != card.message_ref:
        return False  # another sender got there first
    row.message_ref = card.message_ref = mine
    return True


def _backoff(row: OutboxMessage, give_up: bool = False) -> timedelta:
    return timedelta(0) if give_up else timedelta(seconds=min(2 ** row.attempts, 300))


def _origin(row: OutboxMessage) -> int:
    """The row first written for this message: retry rows carry its id, for markers and records."""
    return row.payload.get("_origin", row.id)


def _tried_before(row: OutboxMessage) -> bool:
    """A row leased before (its lease ran out, or a target failed) may have reached a target unrecorded."""
    return row.attempts > 1 or "_origin" in row.payload


def _key(where) -> str:
    return f"person:{where.id}" if isinstance(where, Person) else f"{where.platform}:{where.external_id}"


def _target(where) -> dict:
    """A delivery target as a row can carry it: a channel (or posted card), or a person for a DM."""
    if isinstance(where, Person):
        return {"person": where.id}
    if isinstance(where, PostedCard):
        return {"platform": where.platform, "channel": where.channel_id}
    return {"platform": where.platform, "channel": where.external_id}
