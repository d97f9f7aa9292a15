"""A local fake of the Slack Web API (and of `response_url`s) that records what the bot sent.

It answers like Slack: `auth.test`, `chat.postMessage` (with a `ts`), `chat.update`,
`chat.postEphemeral`, `views.open`, `views.publish`, `files.*`, and `conversations.history` (newest
first, with each message's `metadata` when `include_all_metadata` is set). Failures can be scripted
per method (`fail(method, 429, 500…)`), a call can be intercepted after Slack has taken it but before
the caller hears back (`on(method, fn)`), and it can enforce Slack's ~1 message per second per channel.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from aiohttp import web

from tests.harness import Recorded, ServerThread, read_body

BOT_USER = "U0SURGEBOT"


class FakeSlack:
    def __init__(self, *, per_channel_interval: float | None = None):
        self.calls: list[Recorded] = []
        self.uploads: list[bytes] = []
        self.envelopes: list[dict] = []  # what Socket Mode delivers to the app on connect
        self.lock = threading.Lock()
        self._ts = itertools.count(1)
        self._failures: dict[str, list[int]] = defaultdict(list)
        self._stalls: dict[str, list[float]] = defaultdict(list)
        self.per_channel_interval = per_channel_interval
        self._last_post: dict[str, float] = {}
        self.history: dict[str, list[dict]] = defaultdict(list)  # channel → messages, oldest first
        self._hooks: dict[str, Callable[[dict], None]] = {}
        self.server = ServerThread(self._app)

    # -- scripting ---------------------------------------------------------------------------

    def stall(self, method: str, seconds: float, times: int = 1) -> None:
        """The next `times` calls of `method` answer only after `seconds` (a timeout for a hurried client)."""
        with self.lock:
            self._stalls[method].extend([seconds] * times)

    def fail(self, method: str, *statuses: int) -> None:
        """The next calls of `method` answer these HTTP statuses, in order."""
        with self.lock:
            self._failures[method].extend(statuses)

    def on(self, method: str, fn: Callable[[dict], None]) -> None:
        """Call `fn(body)` on each call of `method` once Slack has taken it, before answering (`fn`
        runs on the fake's own loop and may block: the caller hears nothing until it returns)."""
        self._hooks[method] = fn

    def posts_in(self, channel: str) -> list[dict]:
        """The messages a channel (or a person's DM, by user id) holds."""
        with self.lock:
            return list(self.history[_conversation(channel)])

    @property
    def api_url(self) -> str:
        return self.server.url + "/api/"

    def response_url(self, name: str) -> str:
        return f"{self.server.url}/respond/{name}"

    def start(self) -> FakeSlack:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    # -- reading what was sent ---------------------------------------------------------------

    def sent(self, method: str, **match) -> list[dict]:
        with self.lock:
            calls = list(self.calls)
        return [c.body for c in calls if c.path == method and all(c.body.get(k) == v for k, v in match.items())]

    def text_of(self, body: dict) -> str:
        """Everything a user could read in a message: its text and every block."""
        return repr(body.get("text", "")) + repr(body.get("blocks", "")) + repr(body.get("view", ""))

    # -- the fake API ------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/respond/{name}", self._respond)
        app.router.add_post("/upload", self._upload)
        app.router.add_get("/socket", self._socket)
        return app

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: say hello, deliver the queued envelopes, record the app's acknowledgements."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0SURGE"}})
        for envelope in self.envelopes:
            await ws.send_json(envelope)
        async for msg in ws:
            if msg.type == web.WSMsgType.TEXT:
                self._record("socket", json.loads(msg.data), request.headers)
        return ws

    async def _upload(self, request: web.Request) -> web.Response:
        """The file bytes of `files_upload_v2`, sent to the URL `files.getUploadURLExternal` gave."""
        data = await request.read()
        self.uploads.append(data)
        return web.Response(text="OK - uploaded")

    def _record(self, path: str, body: dict, headers) -> None:
        with self.lock:
            self.calls.append(Recorded(path=path, body=body, headers=dict(headers)))

    async def _respond(self, request: web.Request) -> web.Response:
        self._record(f"respond/{request.match_info['name']}", await request.json(), request.headers)
        return web.Response(text="ok")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = {**request.query, **await read_body(request)}
        with self.lock:
            status = self._failures[method].pop(0) if self._failures[method] else None
            stall = self._stalls[method].pop(0) if self._stalls[method] else 0
        if stall:
            await asyncio.sleep(stall)
            return web.json_response({"ok": False, "error": "too_late"}, status=504)
        if status == 429:
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"})
        if status:
            return web.Response(status=status, text="upstream trouble")
        if method in ("chat.postMessage", "chat.update") and self.per_channel_interval:
            channel, now = body.get("channel", ""), time.monotonic()
            with self.lock:
                too_soon = now - self._last_post.get(channel, -1e9) < self.per_channel_interval
                if not too_soon:
                    self._last_post[channel] = now
            if too_soon:
                return web.json_response({"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"})
        self._record(method, body, request.headers)
        answer = self._answer(method, body)
        if method in self._hooks:
            self._hooks[method](body)
        return web.json_response(answer)

    def _answer(self, method: str, body: dict) -> dict:
        if method == "auth.test":
            return {"ok": True, "url": "https://surge-test.slack.com/", "team": "Surge Test", "user": "surge",
                    "team_id": "T0SURGE", "user_id": BOT_USER, "bot_id": "B0SURGE"}
        if method in ("chat.postMessage", "chat.update"):
            ts = body.get("ts") or f"{1700000000 + next(self._ts)}.000100"
            if method == "chat.postMessage":
                with self.lock:
                    self.history[_conversation(body.get("channel", ""))].append(
                        {"type": "message", "ts": ts, "text": body.get("text"), "bot_id": "B0SURGE",
                         **({"metadata": body["metadata"]} if body.get("metadata") else {})})
            return {"ok": True, "channel": body.get("channel"), "ts": ts, "message": {"text": body.get("text")}}
        if method == "conversations.history":
            with self.lock:
                held = list(reversed(self.history[_conversation(body.get("channel", ""))]))
            shown = held[: int(body.get("limit") or 100)]
            if str(body.get("include_all_metadata")).lower() not in ("1", "true"):
                shown = [{k: v for k, v in m.items() if k != "metadata"} for m in shown]
            return {"ok": True, "messages": shown, "has_more": len(held) > len(shown)}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"{1700000000 + next(self._ts)}.000200"}
        if method in ("views.open", "views.publish", "views.update"):
            return {"ok": True, "view": {"id": f"V{next(self._ts)}", **(body.get("view") or {})}}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.server.url.replace("http", "ws") + "/socket"}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(body.get("users", "")).removeprefix("U")}}
        if method == "files.completeUploadExternal":
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in _files(body)]}
        if method == "files.getUploadURLExternal":
            return {"ok": True, "upload_url": f"{self.server.url}/upload", "file_id": f"F{next(self._ts)}"}
        return {"ok": True}


def _conversation(channel: str) -> str:
    """Posting to a user id lands in the DM with them (`conversations.open` answers D + the id)."""
    return "D" + channel.removeprefix("U") if channel.startswith("U") else channel


def _files(body: dict) -> list[dict]:
    files = body.get("files")
    return json.loads(files) if isinstance(files, str) else files or []
