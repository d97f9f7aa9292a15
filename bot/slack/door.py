"""The HTTP door to the Bolt app: `POST /slack/events`.

Nothing is parsed or logged before the request is known to come from Slack: the timestamp must be
fresh, the body UTF-8 (what Slack signs and sends, and how slack_sdk's `SignatureVerifier` reads
it), and the signature Slack's over exactly those bytes. Then the body is parsed the way Bolt parses
it and checked against the shapes Surge reads (`bot.slack.payloads`); only then does Bolt see it.
Every refusal is a 4xx with a short reason that quotes nothing from the request; nothing is stored.
401: no valid signature. 400: not UTF-8, or signed but not a request Surge reads. 415: neither a
form nor JSON. 405 (wrong method) and 413 (over the server's `client_max_size`) come from aiohttp.
"""
from __future__ import annotations

import logging
import time

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.slack import payloads
from bot.workers import arriving

log = logging.getLogger("surge.slack.door")

# What Slack sends: slash commands and interactions as forms, the Events API as JSON, in UTF-8.
CONTENT_TYPES = frozenset({"application/x-www-form-urlencoded", "application/json"})
CHARSETS = frozenset({"", "utf-8", "utf8", "us-ascii"})
# Slack's (and Bolt's) window is 5 minutes. Ours closes a little earlier, so a request we let through
# never fails Bolt's own check a moment later: Bolt logs the whole body of a request it refuses.
FRESH_FOR = 5 * 60 - 10


class SlackApp(AsyncApp):
    """Bolt's app with the verifier the door checks signatures with (none: Socket Mode only, and
    the door refuses everything)."""

    def __init__(self, *, signing_secret: str | None, **kwargs):
        super().__init__(signing_secret=signing_secret or "socket-mode",
                         request_verification_enabled=bool(signing_secret), **kwargs)
        self.verifier = SignatureVerifier(signing_secret) if signing_secret else None


def refuse(status: int, reason: str) -> web.Response:
    log.info("slack: refused a request (%s): %s", status, reason)
    return web.json_response({"error": reason}, status=status)


def fresh(headers) -> bool:
    """A timestamp of digits within the window, and a signature header of plain text."""
    ts, signature = headers.get("X-Slack-Request-Timestamp", ""), headers.get("X-Slack-Signature", "")
    # `int()` reads every Unicode digit; `hmac.compare_digest` refuses text that is not ASCII
    return ts.isascii() and ts.isdigit() and signature.isascii() and abs(time.time() - int(ts)) <= FRESH_FOR


def signed(verifier: SignatureVerifier | None, body: str, headers) -> bool:
    """Slack's signature over this timestamp and body."""
    return verifier is not None and verifier.is_valid(
        body=body, timestamp=headers.get("X-Slack-Request-Timestamp"), signature=headers.get("X-Slack-Signature"))


async def serve(request: web.Request, bolt: SlackApp) -> web.Response:
    with arriving():  # the core's units of work wait while this request has no ack (bot.workers)
        return await _serve(request, bolt)


async def _serve(request: web.Request, bolt: SlackApp) -> web.Response:
    raw = await request.read()  # beyond the server's client_max_size: 413
    if not fresh(request.headers):
        return refuse(401, "no valid Slack signature")
    try:
        body = raw.decode("utf-8")  # what Slack signs and sends; the verifier reads the body as UTF-8
    except UnicodeDecodeError:
        return refuse(400, "the body is not UTF-8")
    if not signed(bolt.verifier, body, request.headers):
        return refuse(401, "no valid Slack signature")
    if request.content_type not in CONTENT_TYPES or (request.charset or "").lower() not in CHARSETS:
        return refuse(415, "Slack sends forms or JSON, in UTF-8")
    try:
        parsed = AsyncBoltRequest(body=body, query=request.query_string, headers=request.headers)
        payloads.check(parsed.body)
    except payloads.Malformed as exc:
        return refuse(400, str(exc))
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError) as exc:
        return refuse(400, f"the body could not be read ({type(exc).__name__})")
    return await to_aiohttp_response(await bolt.async_dispatch(parsed))
