"""Delivers the outbox: what handlers wrote for channels and DMs, through each platform's notifier.

Exactly once, as a channel sees it:

- A sender leases a few rows at a time (status `sending`, `lease_owner` itself, for `LEASE`) and
  renews the lease every `HEARTBEAT` seconds while it works, so no other process takes a row that is
  still being delivered however long its fan-out takes, and a dead process's rows are free again
  within `LEASE`. Only the lease's holder may mark a row done; a sender that lost a lease stops
  (`leases.py`).
- Each target is recorded right after its send: a request card as its `PostedCard` (written first as
  an intent, `pending:<sender>:<row>`, then given the message's reference; `cards.py`), a message as
  an `OutboxDelivery` (`messages.py`). A row taken up again skips what is recorded.
- What may have been sent without being recorded (a process killed between the platform's answer
  and the record: an intent left pending by a sender that no longer holds its row, or any target of
  a row attempted before) is looked for before sending again: on Slack, every post carries message
  metadata (`surge_outbox`: outbox id, request id) and `conversations.history` finds it, and its ts
  is adopted. Teams has no such history: there a send killed in that instant may be repeated.

Two processes never hold the same row (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one writer). A
failed target is retried alone with backoff; a card is re-rendered from the database as it stands.
"""
from bot.outbox.sender import Outbox

__all__ = ["Outbox"]
