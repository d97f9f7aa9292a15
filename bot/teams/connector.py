"""Calls to the Bot Connector, retried on 429 and 5xx with backoff (honouring `Retry-After`).

botbuilder's connector client (msrest on requests/urllib3 2.x) retries on its own in a worker
thread: never POSTs, never 429s, but PUTs on 5xx, with blocking sleeps, then fails without a status.
`one_policy` swaps that for connection retries only, so `with_retries` is the one retry policy for
every call, and the outbox retries the row when even that gives up.

Both lean on msrest's internals, so `patch_msrest()` (called once by `build_teams()`) checks the
versions they were written against and probes a real connector client's shape at start, and
`one_policy` raises `MsrestChanged` rather than silently leave msrest's own retries in place.
"""
from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from importlib.metadata import version
from typing import TypeVar

from botbuilder.core import BotAdapter, TurnContext
from msrest.exceptions import ClientRequestError, HttpOperationError
from msrest.universal_http.requests import ClientRetryPolicy
from requests.adapters import HTTPAdapter
from urllib3 import Retry

log = logging.getLogger("surge.teams")
T = TypeVar("T")

ATTEMPTS = 4
BASE_DELAY = 0.5
MAX_DELAY = 30.0
TESTED = {"msrest": "0.7.", "botframework-connector": "4.17.", "botbuilder-core": "4.17."}  # version prefixes


class ConnectorError(RuntimeError):
    """The Bot Connector refused a call, or kept failing it."""


class MsrestChanged(RuntimeError):
    """msrest's internals are not the shape Surge's retry patch was written for."""


def require_versions(found: Mapping[str, str] | None = None) -> None:
    """Refuse to start on an msrest or botbuilder the patches below were not written for."""
    found = found if found is not None else {name: version(name) for name in TESTED}
    wrong = [f"{name} {found.get(name)} (Surge needs {prefix}x)" for name, prefix in TESTED.items()
             if not str(found.get(name) or "").startswith(prefix)]
    if wrong:
        raise MsrestChanged("Teams: Surge's connector patches were written for other versions: " + ", ".join(wrong)
                            + "; check bot/teams/connector.py against the new msrest before changing the pins")


_patched = False


def patch_msrest() -> None:
    """Once per process: check versions, make msrest's retry-policy set-up cheap, and probe the shape
    `one_policy` changes on a real connector client, so a changed msrest fails at start, not mid-send.

    msrest builds each client's retry policy by testing 999 status codes against a list of 501 (about
    7 ms of CPU, on the event loop, for every proactive message: botbuilder makes a token client for
    each). The same codes in a frozenset: 0.07 ms.
    """
    global _patched
    if _patched:
        return
    require_versions()
    codes = ClientRetryPolicy.safe_codes
    if not isinstance(codes, list | frozenset) or not all(isinstance(c, int) for c in codes):
        raise MsrestChanged(f"msrest's ClientRetryPolicy.safe_codes is a {type(codes).__name__}, not a list of codes")
    ClientRetryPolicy.safe_codes = frozenset(codes)
    from botframework.connector import ConnectorClient
    from botframework.connector.auth import MicrosoftAppCredentials

    connection_retries_only(ConnectorClient(MicrosoftAppCredentials("", ""), base_url="https://localhost/"))
    _patched = True


def one_policy(turn_context: TurnContext) -> None:
    """Let this turn's connector client retry dropped connections only; statuses come back to us."""
    client = turn_context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
    if client is not None:  # no client: this turn sends nothing through the connector
        connection_retries_only(client)


def connection_retries_only(client) -> None:
    """msrest reads its retry policy into the requests session when the client is built (before any
    of our code runs), so the session's adapters are changed too, not only the configuration.
    Raises `MsrestChanged` when any of those parts is missing or of another kind."""
    config = getattr(client, "config", None)
    policy = getattr(config, "retry_policy", None)
    if not isinstance(getattr(policy, "policy", None), Retry):
        raise MsrestChanged(f"{type(client).__name__}.config.retry_policy holds no urllib3 Retry "
                            f"(found {type(policy).__name__})")
    driver = getattr(getattr(getattr(config, "pipeline", None), "_sender", None), "driver", None)
    adapters = getattr(getattr(driver, "session", None), "adapters", None)
    if not isinstance(adapters, Mapping) or not adapters or \
            not all(isinstance(a, HTTPAdapter) for a in adapters.values()):
        raise MsrestChanged(f"{type(client).__name__}'s pipeline has no requests session with HTTP adapters "
                            f"(its sender is a {type(getattr(getattr(config, 'pipeline', None), '_sender', None)).__name__})")
    retry = Retry(total=3, connect=3, read=0, redirect=0, status=0, other=0, status_forcelist=(),
                  respect_retry_after_header=False, raise_on_status=False)
    policy.policy = retry  # for sessions made later (one per worker thread)
    for adapter in adapters.values():
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
