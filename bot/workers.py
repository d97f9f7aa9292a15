"""The threads that run the core's units of work (database and handlers) for the event loop, and
the rule that a waiting ack always goes first.

The event loop and the core's threads share one GIL. A command's ack costs the loop well under a
millisecond of CPU; its answer costs the core 2–10 ms. Left to the GIL, a busy core thread takes it
back every time the loop makes a socket call, so under a burst every ack waits behind the answers.
Hence, measured in `bench/ack_latency.py`:

- **Acks first.** The Slack door marks each request `arriving()` until it is acknowledged (the
  listener's first call into the core, or the door's response). A unit of work starts only when no
  request is waiting for its ack and none came in the last `QUIET` seconds, or once it has itself
  waited `MAX_WAIT`: a burst is acked at the speed of a bare Bolt app and answered (through
  `response_url`) just after it, and under overload the core still makes progress.
- **As many core threads as `CORE_WORKERS`** (one per core, at least two: SQLite and PostgreSQL
  release the GIL while they work, and a second thread overlaps that).
- **A short GIL switch interval** (`serving()`, at the server's start): a core thread gives the GIL
  back to the loop within `SWITCH_INTERVAL` rather than CPython's default 5 ms. And what the server
  built at start is frozen out of the garbage collector's full passes.

What the outbox and the clock do in the database runs on a second, smaller pool, so a fan-out to
hundreds of channels never queues ahead of a user's command. Blocking calls that are not the core's
(the Bot Connector client's HTTP, `/healthz`) stay on asyncio's default pool.
"""
from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import gc
import os
import sys
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

CORE_WORKERS = max(2, os.cpu_count() or 2)
BACKGROUND_WORKERS = 2
SWITCH_INTERVAL = 0.0005  # seconds; CPython's default is 0.005
MAX_WAIT = 5.0  # seconds a unit of work waits for the acks at most; Slack allows 30 min on a response_url
QUIET = 0.002  # seconds without a new request before a unit of work starts: a burst is acked first, whole
_pools: dict[str, ThreadPoolExecutor] = {}


def serving(*, core_workers: int | None = None, switch_interval: float | None = SWITCH_INTERVAL) -> None:
    """Set up a server's process once it is built, before it serves: the GIL switch interval (None
    keeps Python's), the core's thread count (None: `CORE_WORKERS`; pools already started keep
    theirs), and the garbage collector told that everything built so far lives for good, so a full
    collection scans only what came after (else it walks ~170,000 objects, a 110–130 ms pause of the
    event loop every few thousand requests)."""
    global CORE_WORKERS
    if switch_interval is not None:
        sys.setswitchinterval(switch_interval)
    if core_workers is not None and "core" not in _pools:
        CORE_WORKERS = max(1, core_workers)
    gc.collect()
    gc.freeze()


class _Arrival:
    """One request on its way to its ack."""

    def __init__(self, turns: _Turns):
        self.turns, self.open = turns, True
        turns.unacked += 1
        turns.last_arrival = turns.loop.time()

    def acked(self) -> None:
        if self.open:
            self.open = False
            self.turns.unacked -= 1
            if not self.turns.unacked:
                self.turns.pump()


class _Turns:
    """Who may start a unit of work on the core's threads, per event loop (acks first, then FIFO)."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop, self.unacked, self.running = loop, 0, 0
        self.last_arrival = float("-inf")
        self.waiting: deque[tuple[float, asyncio.Future]] = deque()
        self.timer: asyncio.TimerHandle | None = None

    async def take(self) -> None:
        if self.running < CORE_WORKERS and not self.waiting and self.quiet_at() <= self.loop.time():
            self.running += 1
            return
        turn = self.loop.create_future()
        self.waiting.append((self.loop.time(), turn))
        self.pump()
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # given the turn, then cancelled: give it back
                self.give_back()
            raise

    def give_back(self) -> None:
        self.running -= 1
        self.pump()

    def quiet_at(self) -> float:
        """When the loop will be free of acks to make (infinity while one is pending: `acked()` pumps)."""
        return float("inf") if self.unacked else self.last_arrival + QUIET

    def pump(self) -> None:
        """Start whoever may start now; if the acks hold the oldest back, look again when it is due."""
        while self.waiting and self.waiting[0][1].done():  # cancelled while waiting
            self.waiting.popleft()
        now = self.loop.time()
        while self.waiting and self.running < CORE_WORKERS:
            since, turn = self.waiting[0]
            if self.quiet_at() > now and now - since < MAX_WAIT:
                break
            self.waiting.popleft()
            if not turn.done():
                self.running += 1
                turn.set_result(None)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.waiting and self.running < CORE_WORKERS:
            self.timer = self.loop.call_at(min(self.waiting[0][0] + MAX_WAIT, self.quiet_at()), self.pump)


_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Turns] = weakref.WeakKeyDictionary()
_arrival: contextvars.ContextVar[_Arrival | None] = contextvars.ContextVar("surge_arrival", default=None)


def _turns_here() -> _Turns:
    loop = asyncio.get_running_loop()
    turns = _turns.get(loop)
    if turns is None:
        turns = _turns[loop] = _Turns(loop)
    return turns


@contextlib.contextmanager
def arriving() -> Iterator[None]:
    """Around an incoming request, until its response is made: units of work wait while it has no ack.
    The request's own first unit of work counts as its ack (a listener acks, then calls the core)."""
    arrival = _Arrival(_turns_here())
    token = _arrival.set(arrival)
    try:
        yield
    finally:
        arrival.acked()
        _arrival.reset(token)


async def in_core(fn: Callable[..., T], /, *args, **kwargs) -> T:
    """`fn(*args, **kwargs)` for a user waiting on it (as `asyncio.to_thread`, context included),
    once no other request waits for its ack (or after `MAX_WAIT`)."""
    arrival = _arrival.get()
    if arrival is not None:
        arrival.acked()
    turns = _turns_here()
    await turns.take()
    try:
        return await _run(_pool("core"), fn, *args, **kwargs)
    finally:
        turns.give_back()


async def in_background(fn: Callable[..., T], /, *args, **kwargs) -> T:
    """`fn(*args, **kwargs)` for the outbox or the clock: nobody is waiting on an ack."""
    return await _run(_pool("background"), fn, *args, **kwargs)


def _pool(name: str) -> ThreadPoolExecutor:
    pool = _pools.get(name)
    if pool is None:
        size = CORE_WORKERS if name == "core" else BACKGROUND_WORKERS
        pool = _pools.setdefault(name, ThreadPoolExecutor(max_workers=size, thread_name_prefix=f"surge-{name}"))
    return pool


async def _run(pool: ThreadPoolExecutor, fn: Callable[..., T], /, *args, **kwargs) -> T:
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(pool, call)
