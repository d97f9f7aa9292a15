"""One aiohttp application for every chat platform: /slack/events, /api/messages, /healthz.

The outbox sender runs beside the server, so a slow fan-out never delays an answer.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import ClientSession, web

from bot.outbox import Outbox
from handlers.core import Surge
from models.queries import failed_count

log = logging.getLogger("surge.server")

CORE = web.AppKey("core", Surge)
OUTBOX = web.AppKey("outbox", Outbox)
SLACK = web.AppKey("slack", object)
TEAMS = web.AppKey("teams", object)
PROBE = web.AppKey("probe", dict)
HEALTH_TIMEOUT = 2.0  # seconds: a database that doesn't answer by then is "unavailable"


async def healthz(request: web.Request) -> web.Response:
    """200 with the count of outbox rows that failed for good, or 503 within `HEALTH_TIMEOUT` when the
    database doesn't answer (unreachable, hung, or the outbox table locked)."""
    try:
        failed = await asyncio.wait_for(asyncio.shield(_probe(request.app)), HEALTH_TIMEOUT)
    except Exception:  # noqa: BLE001 - any failure, or no answer in time, means "unavailable"
        return web.json_response({"status": "unavailable"}, status=503)
    return web.json_response({"status": "ok", "outbox_failed": failed})


def _probe(app: web.Application) -> asyncio.Future:
    """One probe of the database at a time: a hung one is shared by every /healthz waiting on it,
    rather than each stacking another blocked thread."""
    probe = app[PROBE]
    if probe.get("task") is None or probe["task"].done():
        task = asyncio.ensure_future(asyncio.to_thread(app[CORE].db.quick, failed_count))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved even if nobody waited
        probe["task"] = task
    return probe["task"]


async def slack_events(request: web.Request) -> web.Response:
    from bot.slack.door import serve  # the signature is checked on the raw body before anything is parsed

    return await serve(request, request.app[SLACK])


async def reachable(_request: web.Request) -> web.Response:
    return web.Response(status=200)


async def teams_messages(request: web.Request) -> web.Response:
    return await request.app[TEAMS].handle(request)  # bot.teams.door.TeamsEndpoint: adapter.process(request, bot)


async def _run_outbox(app: web.Application):
    outbox = app[OUTBOX]
    task = asyncio.create_task(outbox.run_forever())
    yield
    outbox.stop()
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout=5)  # a delivery in hand may finish
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _shared_http(app: web.Application):
    """One HTTP session for every call to Slack (the Web API and `response_url`s): connections are
    kept alive and reused, rather than a new session (and TLS handshake) for each call."""
    client = app[SLACK].client
    session = ClientSession()
    client.session = session
    yield
    client.session = None
    await session.close()


def build_server(core: Surge, *, outbox: Outbox | None = None, slack_app=None, teams=None) -> web.Application:
    app = web.Application(client_max_size=1024**2)
    app[CORE] = core
    app[PROBE] = {}
    app.router.add_get("/healthz", healthz)
    if slack_app is not None:
        app[SLACK] = slack_app
        app.router.add_post("/slack/events", slack_events)
        app.cleanup_ctx.append(_shared_http)
    if teams is not None:
        app[TEAMS] = teams
        app.router.add_post("/api/messages", teams_messages)
        app.router.add_route("HEAD", "/api/messages", reachable)  # the Agents Playground's probe
    if outbox is not None:
        app[OUTBOX] = outbox
        app.cleanup_ctx.append(_run_outbox)
    return app
