"""The outbox sender: leases due rows and delivers them, in two lanes, until stopped."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from bot.notifier import Notifier
from bot.outbox.cards import Cards
from bot.outbox.leases import HEARTBEAT, LeaseLost, Leases
from bot.outbox.messages import Messages
from bot.outbox.targets import Failed, fan_out
from bot.workers import in_background
from models.db import Database
from models.tables import OutboxKind, OutboxMessage
from models.types import utcnow

log = logging.getLogger("surge.outbox")

BATCH = 10  # rows leased at a time
LANES = ((OutboxKind.MESSAGE,), (OutboxKind.CARD,))  # delivered side by side; rows of one lane in order


class Outbox:
    def __init__(self, db: Database, notifiers: Sequence[Notifier], *, home_timezone: str = "UTC", clock=utcnow):
        self.db = db
        self.notifiers = {n.platform: n for n in notifiers}
        self.home_timezone = home_timezone
        self.clock = clock
        self.concurrency = 8  # targets delivered at once; each platform paces its own channels
        self.batch = BATCH
        self.heartbeat = HEARTBEAT
        self.leases = Leases(db, lambda: self.clock())  # the clock as it is when asked (tests move it)
        self.cards = Cards(db, self.notifiers, self.leases, self._fan, home_timezone=home_timezone)
        self.messages = Messages(db, self.notifiers, self._fan, clock=lambda: self.clock())
        self._wakes: dict[tuple[str, ...], asyncio.Event] = {}
        self._stopping = False

    @property
    def owner(self) -> str:
        return self.leases.owner

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
            except Exception:
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
        rows = await in_background(self.db.run, lambda s: self.leases.take(s, limit or self.batch, kinds))
        if not rows:
            return 0
        held = {r.id for r in rows}
        beat = asyncio.create_task(self.leases.keep(held, self.heartbeat))
        try:
            cards_done: set[int] = set()
            for row in rows:
                await self._one(row, cards_done)
                held.discard(row.id)
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        return len(rows)

    async def _one(self, row: OutboxMessage, cards_done: set[int]) -> None:
        """Deliver one leased row and record how it went (unless its lease was lost meanwhile)."""
        try:
            self.leases.check(row)
            failed = await (self.cards.deliver(row, cards_done) if row.kind == OutboxKind.CARD
                            else self.messages.deliver(row))
            self.leases.check(row)
        except LeaseLost:
            log.warning("outbox row %s: lease lost to another sender; left to it", row.id)
            return
        except Exception as exc:  # noqa: BLE001 - e.g. the database went away: retry the row later
            log.warning("outbox row %s failed (attempt %s): %s", row.id, row.attempts, exc)
            await in_background(self.db.run, lambda s, e=exc: self.leases.failed(s, row.id, e))
            return
        await in_background(self.db.run, lambda s: self.leases.sent(s, row, failed))

    async def _fan(self, row: OutboxMessage, targets: list, send: Callable[..., Awaitable[None]]) -> Failed:
        """Send to every target, a few at a time; a lost lease stops the fan-out."""
        return await fan_out(targets, send, concurrency=self.concurrency, before=lambda: self.leases.check(row))
