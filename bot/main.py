"""Composition root and the `surge` command line (Typer)."""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError

from bot.config import Settings

if TYPE_CHECKING:  # the edges load only when they are switched on
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.notifier import Notifier
    from bot.outbox import Outbox
    from bot.teams.door import TeamsEndpoint
    from handlers.core import Surge

cli = typer.Typer(help="Surge: hand surplus field work to trusted partner MSPs.", no_args_is_help=True,
                  add_completion=False)
db_cli = typer.Typer(help="Database migrations.", no_args_is_help=True)
roster_cli = typer.Typer(help="The roster file.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(roster_cli, name="roster")

log = logging.getLogger("surge")


def settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        for err in exc.errors():
            typer.echo(f"surge: configuration: {err['msg'].removeprefix('Value error, ')}", err=True)
        raise typer.Exit(2) from None


@dataclass
class Stack:
    """Everything `surge serve` runs, composed from one Settings."""

    core: Surge
    outbox: Outbox
    slack_app: AsyncApp | None = None
    slack_client: AsyncWebClient | None = None
    teams: TeamsEndpoint | None = None  # when Teams is on
    notifiers: list[Notifier] = field(default_factory=list)


def compose(cfg: Settings, *, migrate: bool = True) -> Stack:
    """Built in order, each part from the ones before it: the core, the notifiers, the outbox that
    sends through them, then the Slack and Teams edges that wake the outbox."""
    from bot.outbox import Outbox

    core = build_core(cfg, migrate=migrate)
    notifiers: list[Notifier] = []
    slack_client = teams_out = None
    if cfg.slack_enabled:
        from bot.slack.app import web_client
        from bot.slack.notifier import SlackNotifier

        slack_client = web_client(cfg)
        notifiers.append(SlackNotifier(slack_client))
    if cfg.teams_enabled:
        from bot.teams.app import teams_notifier

        teams_out = teams_notifier(cfg, core.db)
        notifiers.append(teams_out)
    outbox = Outbox(core.db, notifiers, home_timezone=cfg.surge_timezone)
    teams = slack_app = None
    if teams_out is not None:
        from bot.teams.app import build_teams

        teams = build_teams(cfg, core, teams_out, wake=outbox.wake)
    if slack_client is not None:
        from bot.slack.app import build_slack_app

        slack_app = build_slack_app(cfg, core, outbox, slack_client)
    return Stack(core=core, outbox=outbox, slack_app=slack_app, slack_client=slack_client, teams=teams,
                 notifiers=notifiers)


def build_core(cfg: Settings, *, migrate: bool = True):
    from handlers.core import Surge
    from models.db import Database

    db = Database(cfg.database_url)
    if migrate:
        db.upgrade()
    return Surge(db, home_timezone=cfg.surge_timezone)


def load_roster_file(core, path: str) -> list[str]:
    from handlers.roster import RosterError, load_roster

    file = Path(path)
    if not file.is_file():
        typer.echo(f"surge: no roster file at {path}", err=True)
        raise typer.Exit(2)
    try:
        return load_roster(core.db, file.read_text(encoding="utf-8"), name=file.name)
    except RosterError as exc:
        typer.echo("surge: the roster was not loaded (nothing changed):", err=True)
        for line in exc.errors:
            typer.echo(f"  {line}", err=True)
        raise typer.Exit(1) from None


LOOPBACK, EVERYWHERE = "127.0.0.1", "0.0.0.0"


def serve_host(cfg: Settings, host: str | None = None) -> tuple[str, str | None]:
    """The interface `surge serve` listens on, and why it is loopback only (None when it is not).

    Teams in emulator mode takes activities without authentication, and a server with no credentials
    at all authenticates nothing: both listen on this machine only, unless `--host` says otherwise.
    """
    if host:
        return host, None
    if cfg.teams_enabled and cfg.teams_emulator:
        return LOOPBACK, ("Teams is in emulator mode (no MICROSOFT_APP_ID), so /api/messages takes activities "
                          "without authentication")
    slack_signed = cfg.slack_enabled and not cfg.slack_app_token  # /slack/events, with its signing secret
    teams_signed = cfg.teams_enabled and not cfg.teams_emulator
    if not slack_signed and not teams_signed:
        return LOOPBACK, "no credentials are configured (no Slack signing secret, no MICROSOFT_APP_ID)"
    return EVERYWHERE, None


@cli.command()
def serve(
    port: Annotated[int | None, typer.Option(help="HTTP port (default: $PORT or 3978)")] = None,
    host: Annotated[str | None, typer.Option(
        help="Interface to listen on. Default: 0.0.0.0 (every interface) when Slack or Teams credentials are "
             "set; 127.0.0.1 (this machine only) when Teams is in emulator mode (no MICROSOFT_APP_ID) or nothing "
             "is configured, as requests are then not authenticated. Behind a reverse proxy on this machine keep "
             "127.0.0.1; give another address only when you know who can reach it.")] = None,
    no_scheduler: Annotated[bool, typer.Option("--no-scheduler", help="Run the clock in its own process")] = False,
) -> None:
    """Run the HTTP server (migrates the database first)."""
    from aiohttp import web

    from bot import workers
    from bot.server import build_server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = settings()
    stack = compose(cfg)
    core = stack.core
    if cfg.surge_roster:
        for change in load_roster_file(core, cfg.surge_roster):
            log.info("roster: %s", change)
    if not cfg.slack_enabled:
        log.info("Slack is off: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to turn it on")
    elif cfg.slack_app_token:
        log.info("Slack: Socket Mode")
    else:
        log.info("Slack: POST /slack/events")
    report_teams(cfg, stack)
    log.info("database: %s", core.db.engine.url.render_as_string(hide_password=True))
    use_http = stack.slack_app if cfg.slack_enabled and not cfg.slack_app_token else None
    server = build_server(core, outbox=stack.outbox, slack_app=use_http, teams=stack.teams)
    if cfg.slack_enabled and cfg.slack_app_token:
        server.cleanup_ctx.append(_socket_mode(stack.slack_app, cfg.slack_app_token))
    if not no_scheduler:
        server.cleanup_ctx.append(_clock(stack))
        log.info("clock: in this process (digests, reminders, tier widening)")
    listen, why = serve_host(cfg, host)
    workers.serving()  # the GIL's switch interval, the core's threads, the GC (bench/README.md)
    if why:
        log.warning("listening on %s only: %s; pass --host 0.0.0.0 to listen on every interface", listen, why)
    web.run_app(server, host=listen, port=port or cfg.port, print=lambda msg: log.info(msg.strip()))


def _clock(stack):
    async def run(_app):
        from bot.scheduler import Clock

        clock = Clock(stack.core, stack.outbox)
        clock.start()
        yield
        clock.stop()

    return run


@cli.command()
def scheduler() -> None:
    """The clock process: daily digests, reminders and tier widening (and delivery of what they send)."""
    import asyncio

    from bot.scheduler import Clock

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stack = compose(settings())

    async def main() -> None:
        Clock(stack.core, stack.outbox).start()
        log.info("clock running: every minute; Ctrl-C stops it")
        await stack.outbox.run_forever()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


def report_teams(cfg: Settings, stack: Stack) -> None:
    """Say at start whether Teams is served, how, and which roster channels it can't post to yet."""
    if cfg.teams_refusal:
        log.error("%s", cfg.teams_refusal)
        return
    if cfg.teams_emulator:
        log.warning("Teams: POST /api/messages in emulator mode (no MICROSOFT_APP_ID): activities are not "
                    "authenticated; for the Agents Playground and the Bot Framework Emulator only")
    else:
        log.info("Teams: POST /api/messages (app id %s)", cfg.microsoft_app_id)
    from models.queries import unreachable_teams_channels

    for channel in stack.core.db.run(lambda s: unreachable_teams_channels(session=s)):
        log.warning("Teams: channel %s (%s) has never spoken to Surge, so Surge can't post there yet: "
                    "add the app to its team and @mention Surge in it once", channel.external_id, channel.purpose)


def _socket_mode(slack_app, app_token: str):
    async def run(_app):
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(slack_app, app_token)
        await handler.connect_async()
        yield
        await handler.close_async()

    return run


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema to the newest migration."""
    cfg = settings()
    build_core(cfg)
    typer.echo("database is up to date")


@roster_cli.command("load")
def roster_load(file: Annotated[str, typer.Argument(help="the roster YAML file")]) -> None:
    """Load a roster file (idempotent; refused whole on any error)."""
    core = build_core(settings())
    changes = load_roster_file(core, file)
    typer.echo("\n".join(changes) if changes else "nothing changed")


@cli.command()
def console(
    as_: Annotated[str | None, typer.Option("--as", help="who you are (a roster name)")] = None,
) -> None:
    """The chat commands in a terminal, on the same core."""
    from bot.console import Console

    cfg = settings()
    core = build_core(cfg)
    if cfg.surge_roster:
        load_roster_file(core, cfg.surge_roster)
    con = Console(core, person=None, out=sys.stdout)
    if as_:
        con.person, why = con.whom(as_)
        if con.person is None:
            typer.echo(f"surge: --as: {why}", err=True)
            raise typer.Exit(2)
    if sys.stdin.isatty():
        def lines():
            while True:
                try:
                    yield input(f"{con.person or '?'}> ")
                except EOFError:
                    return
        con.run(lines(), prompt=True)
    else:
        con.run(sys.stdin)


@cli.command()
def digest(
    manager: Annotated[str | None, typer.Option(help="the manager's roster name (default: every manager)")] = None,
    date_: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD (default: today)")] = None,
    chart: Annotated[str | None, typer.Option(help="also write the digest's chart to this PNG file")] = None,
) -> None:
    """Print a manager's daily digest (and write its chart with --chart)."""
    from bot.console import render_reply
    from handlers.digest import digest_text

    core = build_core(settings())
    try:
        day = date.fromisoformat(date_) if date_ else None
    except ValueError:
        typer.echo(f"surge: --date {date_!r} is not a date like 2027-03-10", err=True)
        raise typer.Exit(2) from None
    try:
        replies = digest_text(core, manager=manager, day=day, now=datetime.now().astimezone())
        for n, reply in enumerate(replies, start=1):
            typer.echo(render_reply(reply))
            if chart and reply.chart:
                from bot.charts import png
                path = Path(chart) if len(replies) == 1 else Path(chart).with_stem(f"{Path(chart).stem}-{n}")
                path.write_bytes(png(reply.chart))
                typer.echo(f"chart: {path}")
    except LookupError as exc:
        typer.echo(f"surge: {exc.args[0]}", err=True)
        raise typer.Exit(1) from None


@cli.command("export")
def export_csv(
    what: Annotated[str, typer.Argument(help="payables | billing")],
    month: Annotated[str | None, typer.Option(help="YYYY-MM, in the home MSP's time zone (default: this month)")] = None,
    out: Annotated[str | None, typer.Option(help="write the CSV to this file (default: print it)")] = None,
) -> None:
    """Print (or write) a month's payables or billing as CSV."""
    from zoneinfo import ZoneInfo

    from handlers.books import EXPORTS, month_arg
    from handlers.common import home_zone
    from handlers.errors import UsageError

    cfg = settings()
    core = build_core(cfg)
    if what not in EXPORTS:
        typer.echo(f"surge: export payables or billing (not {what!r})", err=True)
        raise typer.Exit(2)
    with core.db.session() as s:
        tz = ZoneInfo(home_zone(s, cfg.surge_timezone))
        try:
            content, _ = EXPORTS[what](s, month_arg(month, datetime.now(tz), tz), tz)
        except UsageError as exc:
            typer.echo(f"surge: {exc.args[0]}", err=True)
            raise typer.Exit(2) from None
    if out:
        Path(out).write_text(content, encoding="utf-8", newline="")
        typer.echo(f"wrote {out}", err=True)
    else:
        sys.stdout.write(content)



@cli.command()
def report(
    month: Annotated[str | None, typer.Option(help="YYYY-MM, in the home MSP's zone (default: last month)")] = None,
) -> None:
    """Print the month report a manager is sent on the 1st: margin, partners, customers, incidents, leads."""
    from zoneinfo import ZoneInfo

    from bot.console import render_reply
    from handlers.books import month_arg
    from handlers.common import home_zone
    from handlers.errors import UsageError
    from handlers.month_report import month_report, previous_month

    cfg = settings()
    core = build_core(cfg)
    with core.db.session() as s:
        tz = ZoneInfo(home_zone(s, cfg.surge_timezone))
        try:
            chosen = month_arg(month, datetime.now(tz), tz) if month else previous_month(
                month_arg(None, datetime.now(tz), tz))
        except UsageError as exc:
            typer.echo(f"surge: {exc.args[0]}", err=True)
            raise typer.Exit(2) from None
        typer.echo(render_reply(month_report(session=s, month=chosen, tz=tz)))

if __name__ == "__main__":
    cli()
