"""Calls to the Bot Connector, retried on 429 and 5xx with backoff (honouring `Retry-After`).

botbuilder's connector client (msrest on requests/urllib3 2.x) retries on its own in a worker
thread: never POSTs, never 429s, but PUTs on 5xx, with blocking sleeps, then fails without a status.
`one_policy` swaps that for connection retries only, so `with_retries` is the one retry policy for
every call, and the outbox retries the row when even that gives up.
"""
from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from botbuilder.core import BotAdapter, TurnContext
from msrest.exceptions import ClientRequestError, HttpOperationError
from msrest.universal_http.requests import ClientRetryPolicy
from urllib3 import Retry

log = logging.getLogger("surge.teams")
T = TypeVar("T")

# msrest builds each client's retry policy by testing 999 status codes against a list of 501 (about
# 7 ms of CPU, on the event loop, for every proactive message: botbuilder makes a token client for
# each). The same codes in a frozenset: 0.07 ms.
ClientRetryPolicy.safe_codes = frozenset(ClientRetryPolicy.safe_codes)

ATTEMPTS = 4
BASE_DELAY = 0.5
MAX_DELAY = 30.0


class ConnectorError(RuntimeError):
    """The Bot Connector refused a call, or kept failing it."""


def one_policy(turn_context: TurnContext) -> None:
    """Let this turn's connector client retry dropped connections only; statuses come back to us.

    msrest reads its retry policy into the requests session when the client is built (before any
    of our code runs), so the session's adapters are changed too, not only the configuration.
    """
    client = turn_context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
    config = getattr(client, "config", None)
    if getattr(getattr(config, "retry_policy", None), "policy", None) is None:
        return
    retry = Retry(total=3, connect=3, read=0, redirect=0, status=0, other=0, status_forcelist=(),
                  respect_retry_after_header=False, raise_on_status=False)
    config.retry_policy.policy = retry  # for sessions made later (one per worker thread)
    driver = getattr(getattr(getattr(config, "pipeline", None), "_sender", None), "driver", None)
    session = getattr(driver, "session", None)
    for adapter in getattr(session, "adapters", {}).values():
        adapter.max_retries = retry


def status_of(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def retry_after(exc: BaseException) -> float | None:
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    try:
        return max(0.0, float(headers.get("Retry-After")))
    except (TypeError, ValueError):
        return None


def retryable(exc: BaseException) -> bool:
    if isinstance(exc, HttpOperationError):
        status = status_of(exc)
        return status is not None and (status == 429 or status >= 500)
    return isinstance(exc, ClientRequestError)


async def with_retries(call: Callable[[], Awaitable[T]], *, what: str, attempts: int = ATTEMPTS,
                       base: float = BASE_DELAY) -> T:
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except Exception as exc:  # noqa: BLE001 - sorted below: only 429, 5xx and dropped connections retry
            if attempt == attempts or not retryable(exc):
                if status_of(exc) is not None:
                    raise ConnectorError(f"{what}: HTTP {status_of(exc)} after {attempt} attempt(s): {exc}") from exc
                raise
            delay = retry_after(exc)
            if delay is None:
                delay = base * 2 ** (attempt - 1) * (1 + random.random() / 4)
            delay = min(delay, MAX_DELAY)
            log.warning("teams: %s failed (attempt %d), retrying in %.2fs: %s", what, attempt, delay,
                        status_of(exc) or exc)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")
