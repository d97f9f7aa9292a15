"""Running real aiohttp servers (Surge's own, and fakes of Slack and Microsoft) on local ports,
each on its own event loop in a thread, so tests talk to them over real HTTP."""
from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    """An aiohttp application served from a background thread: on 127.0.0.1, or on `bind` (e.g.
    0.0.0.0, as `surge serve --host 0.0.0.0` runs) and reached at `address`."""

    def __init__(self, make_app: Callable[[], web.Application], *, bind: str = "127.0.0.1",
                 address: str = "127.0.0.1"):
        self.make_app = make_app
        self.bind, self.address = bind, address
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def start():
            # in-flight handlers get a few seconds at shutdown (aiohttp's default is 60 s)
            self._runner = web.AppRunner(self.make_app(), shutdown_timeout=5)
            await self._runner.setup()
            await web.TCPSite(self._runner, self.bind, self.port).start()

        self.loop.run_until_complete(start())
        self._ready.set()
        self.loop.run_forever()

    def start(self) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(20):
            raise RuntimeError("server did not start")
        return self

    def stop(self) -> None:
        async def stop():
            await self._runner.cleanup()

        done = asyncio.run_coroutine_threadsafe(stop(), self.loop)
        try:
            done.result(60)
        except TimeoutError:
            # say what is still running, so a slow shutdown can be traced
            for task in asyncio.all_tasks(self.loop):
                print(f"still running at shutdown: {task!r}", file=sys.stderr)
                task.print_stack(file=sys.stderr)
            frame = sys._current_frames().get(self._thread.ident)  # the loop's thread, if it is blocked
            print("event loop thread:\n" + "".join(traceback.format_stack(frame)), file=sys.stderr)
            raise
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(20)


@dataclass
class Recorded:
    """One call a fake received."""

    path: str
    body: dict
    headers: dict = field(default_factory=dict)


def wait_for(predicate: Callable[[], object], *, timeout: float = 15.0, what: str = "condition"):
    """Poll until `predicate()` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


async def read_body(request: web.Request) -> dict:
    """A Web API call's arguments, whether JSON or form-encoded."""
    if request.content_type == "application/json":
        return await request.json()
    form = await request.post()
    out = {}
    for key, value in form.items():
        try:
            out[key] = json.loads(value) if key in ("blocks", "view", "attachments") else value
        except (TypeError, ValueError):
            out[key] = value
    return out
