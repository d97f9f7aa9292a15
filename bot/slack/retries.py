"""The Web API client and its retries: 429s wait for Retry-After; 5xx and dropped connections retry;
all without blocking the event loop."""
from __future__ import annotations

from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings


def retry_handlers() -> list:
    return [AsyncRateLimitErrorRetryHandler(max_retry_count=5), AsyncServerErrorRetryHandler(max_retry_count=3),
            AsyncConnectionErrorRetryHandler(max_retry_count=3)]


def web_client(settings: Settings) -> AsyncWebClient:
    """The Web API client, with `retry_handlers()`. `surge serve` gives it a shared HTTP session."""
    return AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url,
                          retry_handlers=retry_handlers())
