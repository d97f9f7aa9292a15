"""The threads that run the core's units of work (database and handlers) for the event loop.

Commands and clicks run on a small pool of their own, as many threads as the machine has cores:
more threads do not answer more commands (the work holds the GIL between statements), they only
take the GIL from the event loop, and then every ack waits. What the outbox and the clock do in the
database runs on a second, smaller pool, so a fan-out to hundreds of channels never queues ahead of
a user's command. Blocking calls that are not the core's (the Bot Connector client's HTTP,
`/healthz`) stay on asyncio's default pool.
"""
from __future__ import annotations

import asyncio
import contextvars
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

CORE_WORKERS = max(2, os.cpu_count() or 2)
BACKGROUND_WORKERS = 2
_pool = ThreadPoolExecutor(max_workers=CORE_WORKERS, thread_name_prefix="surge-core")
_background = ThreadPoolExecutor(max_workers=BACKGROUND_WORKERS, thread_name_prefix="surge-background")


async def in_core(fn: Callable[..., T], /, *args, **kwargs) -> T:
    """`fn(*args, **kwargs)` for a user waiting on it (as `asyncio.to_thread`, context included)."""
    return await _run(_pool, fn, *args, **kwargs)


async def in_background(fn: Callable[..., T], /, *args, **kwargs) -> T:
    """`fn(*args, **kwargs)` for the outbox or the clock: nobody is waiting on an ack."""
    return await _run(_background, fn, *args, **kwargs)


async def _run(pool: ThreadPoolExecutor, fn: Callable[..., T], /, *args, **kwargs) -> T:
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(pool, call)
