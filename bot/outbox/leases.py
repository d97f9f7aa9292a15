"""Leasing outbox rows: which sender holds a row, for how long, and what becomes of it afterwards.

A sender leases rows (status `sending`, `lease_owner` itself, until `LEASE` from now), renews the
lease while it works, and alone may mark a row sent or failed. A row whose lease lapsed is free for
any sender again; the one that lost it finds out at its next renewal and stops.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from datetime import timedelta

from sqlalchemy import or_
from sqlmodel import Session, select

from bot.outbox.targets import Failed, origin
from bot.workers import in_background
from models.db import Database
from models.tables import OutboxMessage, OutboxStatus

log = logging.getLogger("surge.outbox")

LEASE = timedelta(seconds=15)
HEARTBEAT = 5.0  # seconds between lease renewals (well inside LEASE)
MAX_ATTEMPTS = 8


class LeaseLost(RuntimeError):
    """This sender no longer holds the row (its lease lapsed and another sender took it)."""


class Busy(RuntimeError):
    """Another live sender is posting this card to this channel right now: retried later."""


class Leases:
    def __init__(self, db: Database, clock):
        self.db = db
        self.clock = clock
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lost: set[int] = set()  # rows whose lease this sender lost mid-delivery

    def take(self, s: Session, limit: int, kinds: tuple[str, ...] | None = None) -> list[OutboxMessage]:
        """Lease up to `limit` rows that are due (pending, or sending with a lapsed lease), oldest first."""
        now = self.clock()
        stmt = (
            select(OutboxMessage)
            .where(or_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.status == OutboxStatus.SENDING),
                   OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.id).limit(limit)
        )
        if kinds is not None:
            stmt = stmt.where(OutboxMessage.kind.in_(kinds))
        if not self.db.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list(s.exec(stmt).all())
        for row in rows:
            row.status, row.attempts, row.next_attempt_at = OutboxStatus.SENDING, row.attempts + 1, now + LEASE
            row.lease_owner = self.owner
        s.flush()
        return [OutboxMessage.model_validate(r.model_dump()) for r in rows]

    async def keep(self, held: set[int], every: float) -> None:
        """Renew the lease of the rows still in hand every `every` seconds; a row another sender
        has taken is lost."""
        while True:
            await asyncio.sleep(every)
            ids = set(held)
            if not ids:
                continue
            try:
                kept = await in_background(self.db.run, lambda s, ids=ids: self._renew(s, ids))
            except Exception as exc:  # noqa: BLE001 - try again at the next beat (the lease has margin)
                log.warning("outbox lease renewal failed: %s", exc)
                continue
            self.lost |= ids - kept

    def _renew(self, s: Session, ids: set[int]) -> set[int]:
        stmt = select(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.SENDING,
                                           OutboxMessage.lease_owner == self.owner)
        if not self.db.is_sqlite:
            stmt = stmt.with_for_update()
        rows = s.exec(stmt).all()
        until = self.clock() + LEASE
        for row in rows:
            row.next_attempt_at = until
        return {r.id for r in rows}

    def check(self, row: OutboxMessage) -> None:
        """Raise `LeaseLost` when this sender no longer holds `row`."""
        if row.id in self.lost:
            raise LeaseLost(row.id)

    def live(self, s: Session, owner: str, row_id: int) -> bool:
        """Whether `owner` still holds the row (a pending card names the sender posting it)."""
        row = s.get(OutboxMessage, row_id)
        return bool(row and row.status == OutboxStatus.SENDING and row.lease_owner == owner
                    and row.next_attempt_at > self.clock())

    def _mine(self, s: Session, row_id: int) -> OutboxMessage | None:
        row = s.get(OutboxMessage, row_id)
        if row is None or row.status != OutboxStatus.SENDING or row.lease_owner != self.owner:
            log.warning("outbox row %s: no longer held by this sender; left as it is", row_id)
            return None
        return row

    def sent(self, s: Session, done: OutboxMessage, failed: Failed) -> None:
        """Mark a row delivered; each target that failed gets a row of its own, retried with backoff,
        so a retry never repeats what already reached the other targets."""
        row = self._mine(s, done.id)
        if row is None:
            return
        row.status, row.last_error = OutboxStatus.SENT, ""
        for where, exc in failed:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            log.warning("outbox row %s: %s failed (attempt %s): %s", row.id, where, row.attempts, error)
            give_up = row.attempts >= MAX_ATTEMPTS and not isinstance(exc, Busy)
            s.add(OutboxMessage(
                kind=row.kind, payload={**row.payload, "_only": where, "_origin": origin(row)},
                attempts=row.attempts, last_error=error,
                status=OutboxStatus.FAILED if give_up else OutboxStatus.PENDING,
                created_at=row.created_at, next_attempt_at=self.clock() + backoff(row, give_up)))

    def failed(self, s: Session, row_id: int, exc: Exception) -> None:
        """The row failed as a whole (e.g. the database went away): retried later, or given up."""
        row = self._mine(s, row_id)
        if row is None:
            return
        row.last_error, row.lease_owner = f"{type(exc).__name__}: {exc}"[:2000], None
        if row.attempts >= MAX_ATTEMPTS:
            row.status, row.next_attempt_at = OutboxStatus.FAILED, self.clock()  # when it gave up (`failures` says)
            log.error("outbox row %s gave up after %s attempts: %s", row_id, row.attempts, row.last_error)
        else:
            row.status = OutboxStatus.PENDING
            row.next_attempt_at = self.clock() + backoff(row)


def backoff(row: OutboxMessage, give_up: bool = False) -> timedelta:
    return timedelta(0) if give_up else timedelta(seconds=min(2 ** row.attempts, 300))
