"""A server for the benchmarks, in a process of its own (started by `_common.serve`).

    python bench/_serve.py surge --port N --db URL --slack-api URL   Surge: compose() + build_server(), Slack on,
                                                                     Teams in emulator mode, threads set up as
                                                                     `surge serve` does (`bot.workers.serving`)
    python bench/_serve.py bare  --port N --slack-api URL            a bare Bolt AsyncApp whose only listener acks
    python bench/_serve.py fake  --port N [--interval 1.0]           the tests' FakeSlack (Slack's Web API)

`surge` and `bare` are served the same way (aiohttp, no access log), so the difference between
them is what Surge does per request.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web  # noqa: E402

from bench._common import SECRET, TIMEZONE, TOKEN  # noqa: E402


def surge_app(db: str, slack_api: str, *, core_workers: int | None = None,
              switch_interval: float | None = None) -> web.Application:
    from bot import workers
    from bot.config import Settings
    from bot.main import compose
    from bot.server import build_server

    cfg = Settings(_env_file=None, database_url=db, slack_bot_token=TOKEN, slack_signing_secret=SECRET,
                   slack_api_url=slack_api, surge_timezone=TIMEZONE)
    stack = compose(cfg)
    app = build_server(stack.core, outbox=stack.outbox, slack_app=stack.slack_app, teams=stack.teams)
    if switch_interval is None:
        workers.serving(core_workers=core_workers)  # as `surge serve` does before it serves
    else:  # a setting to measure: 0 keeps Python's default
        workers.serving(core_workers=core_workers, switch_interval=switch_interval or None)
    return app


def bare_app(slack_api: str) -> web.Application:
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    bolt = AsyncApp(client=AsyncWebClient(token=TOKEN, base_url=slack_api), signing_secret=SECRET)

    @bolt.command("/surge")
    async def only_ack(ack):
        await ack()

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", healthz)
    return app


def fake_app(interval: float | None) -> web.Application:
    from tests.slack.fake_slack import FakeSlack

    return FakeSlack(per_channel_interval=interval)._app()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["surge", "bare", "fake"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", default="")
    parser.add_argument("--slack-api", default="")
    parser.add_argument("--interval", type=float, default=None)
    parser.add_argument("--core-workers", type=int, default=None, help="surge: the core's threads (to measure)")
    parser.add_argument("--switch-interval", type=float, default=None,
                        help="surge: the GIL switch interval in seconds (to measure; 0: Python's default)")
    args = parser.parse_args()
    if args.mode == "surge":
        app = surge_app(args.db, args.slack_api, core_workers=args.core_workers, switch_interval=args.switch_interval)
    elif args.mode == "bare":
        app = bare_app(args.slack_api)
    else:
        app = fake_app(args.interval)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
