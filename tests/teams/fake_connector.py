"""A local fake of Microsoft's Bot Connector (the `serviceUrl` of every activity we send Surge), and a
Teams client that posts real Bot Framework activities to Surge's /api/messages.

The fake records every call and answers like the connector does: new activities get ids, updates are
acknowledged, `POST v3/conversations` opens a one-to-one chat. It can be told to fail the next calls
(429 with Retry-After, 500) to exercise the retries. Used by tests/teams and the cross-platform tests.
"""
from __future__ import annotations

import itertools
import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from aiohttp import web

from tests.harness import ServerThread

TENANT = "tenant-0001"
BOT = {"id": "28:surge-bot", "name": "Surge"}
TEAM = "19:team-partners@thread.tacv2"
CARD = "application/vnd.microsoft.card.adaptive"


@dataclass
class Call:
    method: str
    path: str
    conversation: str | None
    activity_id: str | None  # the activity replied to (POST) or updated (PUT)
    body: dict
    headers: dict = field(default_factory=dict)
    answered: int = 200
    created_id: str | None = None  # the id the connector gave a new activity

    @property
    def kind(self) -> str:
        if self.method == "PUT":
            return "update"
        if self.conversation is None:
            return "create"
        return "reply" if self.activity_id else "post"

    @property
    def card(self) -> dict | None:
        for a in self.body.get("attachments") or []:
            if a.get("contentType") == CARD:
                return a["content"]
        return None

    @property
    def text(self) -> str:
        """Every visible string of the card (and the activity's text), for assertions and privacy scans."""
        return json.dumps([self.body.get("text"), self.card], ensure_ascii=False)

    @property
    def strings(self) -> str:
        """Every string of the activity as a reader gets it (JSON escapes undone), one per line."""
        found: list[str] = []

        def walk(node):
            if isinstance(node, str):
                found.append(node)
            elif isinstance(node, dict):
                for child in node.values():
                    walk(child)
            elif isinstance(node, list):
                for child in node:
                    walk(child)

        walk([self.body.get("text"), self.body.get("summary"), self.body.get("attachments")])
        return "\n".join(found)


class FakeConnector:
    def __init__(self):
        self.calls: list[Call] = []
        self.failures: list[tuple] = []  # (status, headers, conversation, method) for the next calls
        self.chats: dict[str, str] = {}  # one-to-one conversation id → member id
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.server = ServerThread(self.app)

    @property
    def url(self) -> str:
        return self.server.url + "/"

    def start(self) -> FakeConnector:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None, *,
                  conversation: str | None = None, method: str | None = None) -> None:
        """Answer the next `times` calls (to that conversation, with that method) with `status`."""
        headers = {"Retry-After": retry_after} if retry_after else {}
        self.failures += [(status, headers, conversation, method)] * times

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._activity)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._activity)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._activity)
        return app

    def _record(self, request: web.Request, body: dict) -> tuple[Call, web.Response | None]:
        call = Call(method=request.method, path=request.path, conversation=request.match_info.get("conversation"),
                    activity_id=request.match_info.get("activity"), body=body, headers=dict(request.headers))
        with self._lock:
            failure = next((f for f in self.failures if (f[2] is None or (call.conversation or "").startswith(f[2]))
                            and (f[3] is None or f[3] == call.method)), None)
            if failure:
                self.failures.remove(failure)
                call.answered = failure[0]
            self.calls.append(call)
        if failure:
            return call, web.json_response({"error": {"code": "Throttled" if failure[0] == 429 else "ServiceError",
                                                      "message": "fake failure"}}, status=failure[0],
                                           headers=failure[1])
        return call, None

    async def _activity(self, request: web.Request) -> web.Response:
        call, failed = self._record(request, await request.json())
        if failed:
            return failed
        if call.kind == "update":
            return web.json_response({"id": call.activity_id})
        call.created_id = f"m{next(self._ids)}"
        return web.json_response({"id": call.created_id}, status=201)

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        call, failed = self._record(request, body)
        if failed:
            return failed
        member = (body.get("members") or [{}])[0].get("id", "")
        conversation = f"a:chat-{member}"
        self.chats[conversation] = member
        return web.json_response({"id": conversation, "activityId": None, "serviceUrl": self.url}, status=201)

    # -- reading what was received ------------------------------------------------------------

    def ok(self) -> list[Call]:
        return [c for c in self.calls if c.answered < 300]

    def in_conversation(self, conversation: str, kind: str | None = None) -> list[Call]:
        return [c for c in self.ok() if c.conversation and c.conversation.split(";")[0] == conversation
                and (kind is None or c.kind == kind)]

    def chat_of(self, user_id: str) -> str | None:
        return next((conv for conv, member in self.chats.items() if member == user_id), None)

    def latest_card(self, conversation: str, activity_id: str) -> dict | None:
        """The card a posted activity shows now: its last update, or what was posted."""
        for call in reversed(self.in_conversation(conversation)):
            if (call.kind == "update" and call.activity_id == activity_id) or call.created_id == activity_id:
                return call.card
        return None

    def dms_to(self, user_id: str) -> list[Call]:
        """What reached a person's one-to-one chat: the one Surge opened, or the one they wrote in."""
        convs = {conv for conv, member in self.chats.items() if member == user_id} | {f"a:1on1-{user_id}"}
        return [c for c in self.ok() if c.conversation in convs and c.kind in ("post", "reply")]


def activity(kind: str, user: dict, conversation: dict, connector_url: str, **extra) -> dict:
    ids = Teams.ids
    data = {
        "type": kind, "id": f"1700{next(ids):09d}", "timestamp": "2027-03-01T14:00:00.000Z",
        "serviceUrl": connector_url, "channelId": "msteams", "from": user, "recipient": BOT,
        "conversation": conversation, "locale": "en-US",
        "channelData": {"tenant": {"id": TENANT}},
    }
    data.update(extra)
    return data


class Teams:
    """Posts activities to Surge as Teams would, and says what Surge answered."""

    ids = itertools.count(1)

    def __init__(self, surge_url: str, connector: FakeConnector):
        self.url = surge_url.rstrip("/") + "/api/messages"
        self.connector = connector

    def post(self, body: dict | bytes, headers: dict | None = None) -> tuple[int, dict | None]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.url, data=data, method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw) if raw else None
            except ValueError:
                return err.code, {"raw": raw.decode(errors="replace")}

    # -- where people speak -------------------------------------------------------------------

    @staticmethod
    def user(teams_id: str, name: str = "") -> dict:
        return {"id": teams_id, "name": name or teams_id, "aadObjectId": f"aad-{teams_id}"}

    @staticmethod
    def personal(teams_id: str) -> dict:
        return {"conversationType": "personal", "tenantId": TENANT, "id": f"a:1on1-{teams_id}"}

    @staticmethod
    def channel(channel_id: str, thread: str | None = None) -> dict:
        conv = channel_id + (f";messageid={thread}" if thread else "")
        return {"isGroup": True, "conversationType": "channel", "tenantId": TENANT, "id": conv}

    @staticmethod
    def channel_data(channel_id: str) -> dict:
        return {"teamsChannelId": channel_id, "teamsTeamId": TEAM, "channel": {"id": channel_id},
                "team": {"id": TEAM}, "tenant": {"id": TENANT}}

    def message(self, teams_id: str, text: str, *, channel: str | None = None, mention: bool = True) -> dict:
        if channel is None:
            return activity("message", self.user(teams_id), self.personal(teams_id), self.connector.url,
                            text=text, textFormat="plain")
        at = "<at>Surge</at>"
        entities = [{"type": "mention", "mentioned": BOT, "text": at}] if mention else []
        body = activity("message", self.user(teams_id), self.channel(channel), self.connector.url,
                        text=f"{at} {text}" if mention else text, textFormat="plain", entities=entities,
                        channelData=self.channel_data(channel))
        body["conversation"]["id"] += f";messageid={body['id']}"  # a new post starts its own thread
        return body

    def say(self, teams_id: str, text: str, *, channel: str | None = None) -> list[Call]:
        """Send a message; return Surge's replies to it."""
        body = self.message(teams_id, text, channel=channel)
        status, _ = self.post(body)
        assert status in (200, 201, 202), status
        return [c for c in self.connector.ok() if c.kind == "reply" and c.activity_id == body["id"]]

    def install(self, *, channel: str | None = None, teams_id: str | None = None, by: str = "29:1dana",
                send: bool = True) -> dict:
        """The app added to a team (its channel), by someone on the roster (only their activities store
        the channel's address), or to a person's personal scope. `send=False`: only make the activity."""
        if channel:
            conv, data = self.channel(channel), {**self.channel_data(channel), "eventType": "teamMemberAdded"}
            who = self.user(by)
        else:
            conv, data, who = self.personal(teams_id), {"tenant": {"id": TENANT}}, self.user(teams_id)
        body = activity("conversationUpdate", who, conv, self.connector.url, membersAdded=[BOT], channelData=data)
        if not send:
            return body
        status, _ = self.post(body)
        assert status in (200, 201, 202), status
        return body

    def click(self, teams_id: str, action: dict, *, inputs: dict | None = None, channel: str | None = None,
              card_id: str | None = None, replay: dict | None = None) -> tuple[int, dict | None, dict]:
        """Press an Action.Execute button (with form inputs); returns (status, invoke answer, the activity)."""
        if replay is not None:
            return (*self.post(replay), replay)
        data = {**action.get("data", {}), **(inputs or {})}
        value = {"action": {"type": "Action.Execute", "verb": action["verb"], "data": data}, "trigger": "manual"}
        conv = self.channel(channel, card_id) if channel else self.personal(teams_id)
        extra = {"channelData": self.channel_data(channel)} if channel else {}
        body = activity("invoke", self.user(teams_id), conv, self.connector.url, name="adaptiveCard/action",
                        value=value, replyToId=card_id, **extra)
        status, answer = self.post(body)
        return status, answer, body


def elements(card: dict | None) -> list[dict]:
    """Every element of a card (every object in it, depth first), leaving out actions' `data`."""
    found: list[dict] = []

    def walk(node):
        if isinstance(node, dict):
            found.append(node)
            for key, child in node.items():
                if key != "data":
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(card)
    return found


def buttons(card: dict | None) -> list[dict]:
    """Every Action.Execute on a card, in order."""
    return [node for node in elements(card) if node.get("type") == "Action.Execute"]


def button(card: dict | None, title: str) -> dict:
    found = buttons(card)
    for b in found:
        if b["title"] == title:
            return b
    for b in found:
        if b["title"].startswith(title):
            return b
    raise AssertionError(f"no button {title!r} on the card: {[b['title'] for b in buttons(card)]}")


def card_of(answer: dict | None) -> dict | None:
    """The card an invoke answered with (None for a plain message answer)."""
    if answer and answer.get("type") == CARD:
        return answer["value"]
    return None
