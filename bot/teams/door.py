"""The HTTP door to the Teams bot: `POST /api/messages`.

A request is read (a malformed one is a 400), authenticated (a refused token is a 401, never a 500),
and only then handed to botbuilder's adapter as a turn. A conversation's address may be stored from
a turn only when it is trusted: verified with an app id, or, in emulator mode, sent from this machine.
"""
from __future__ import annotations

import ipaddress
import json
import logging
from dataclasses import dataclass

from aiohttp import web
from botbuilder.core import ActivityHandler, TurnContext, serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity

from bot.teams.notifier import TeamsNotifier

log = logging.getLogger("surge.teams")
TRUSTED = "surge.trusted"  # turn state: may this activity change a stored conversation address?


@dataclass
class TeamsEndpoint:
    """What `surge serve` mounts at POST /api/messages: the adapter's turns, run by the bot."""

    adapter: CloudAdapter
    bot: ActivityHandler
    notifier: TeamsNotifier  # the same adapter's way out, which the outbox sends through
    emulator: bool = True

    async def handle(self, request: web.Request) -> web.Response:
        """Read, then authenticate, then run the turn: a malformed body is a 400 and a refused
        token a 401, both before anything is stored; a conversation's address is only stored from
        a verified request (with an app id) or, in emulator mode, from this machine."""
        if "application/json" not in request.headers.get("Content-Type", ""):
            return web.json_response({"error": "expected a JSON Bot Framework activity"}, status=415)
        try:
            body = json.loads(await request.read())
        except (ValueError, RecursionError):
            return web.json_response({"error": "the body is not JSON"}, status=400)
        if not isinstance(body, dict) or not body.get("type"):
            return web.json_response({"error": "not an activity (no type)"}, status=400)
        try:
            activity = Activity().deserialize(body)
        except Exception as exc:  # noqa: BLE001 - msrest raises several kinds on a wrong shape
            log.info("teams: malformed activity refused (%s)", type(exc).__name__)
            return web.json_response({"error": "not a Bot Framework activity"}, status=400)
        try:
            auth = await self.adapter.bot_framework_authentication.authenticate_request(
                activity, request.headers.get("Authorization", ""))
        except PermissionError as exc:
            # quoted and cut short: the id and some refusals' words come from the request itself
            log.info("teams: activity %r refused: %.200r", str(activity.id or "")[:64], str(exc))
            return web.json_response({"error": "unauthorized"}, status=401)
        trusted = not self.emulator or _loopback(request.remote)

        async def turn(turn_context: TurnContext) -> None:
            turn_context.turn_state[TRUSTED] = trusted
            await self.bot.on_turn(turn_context)

        invoke = await self.adapter.process_activity(auth, activity, turn)
        if invoke:
            return web.json_response(data=serializer_helper(invoke.body), status=invoke.status)
        return web.Response(status=201)


def _loopback(remote: str | None) -> bool:
    try:
        return bool(remote) and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False
