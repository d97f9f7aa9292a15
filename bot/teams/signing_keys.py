"""Microsoft's token signing keys, fetched off the event loop, with a timeout, and never twice at once.

botbuilder reads the OpenID metadata document and its JWKS with a synchronous `requests.get` without
a timeout, on the thread that checks the token (the event loop), and does not remember a failed
fetch: one forged token while the key endpoint is slow would stall every request. Its cache of
metadata (`JwtTokenExtractor.metadataCache`, one object per metadata URL) is where it looks for
keys, so Surge puts its own object there for each URL it authenticates against:

- a fetch runs on a small pool of its own (never the event loop, never the pool `/healthz` uses),
  with a timeout, and one fetch serves everyone waiting for it;
- a good fetch is kept as botbuilder keeps it (a day; an unknown key id refetches at most hourly);
- a failed or slow fetch is remembered for `RETRY_AFTER` seconds, during which every token is
  refused at once (fail closed: 401), without another fetch.
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta

import requests
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor, _OpenIdConfig, _OpenIdMetadata
from jwt.algorithms import RSAAlgorithm

log = logging.getLogger("surge.teams")

TIMEOUT = 5.0  # seconds for the whole fetch, as a request waits for it
RETRY_AFTER = 30.0  # seconds a failed fetch is remembered
_fetches = ThreadPoolExecutor(max_workers=2, thread_name_prefix="surge-keys")


class KeysUnavailable(PermissionError):
    """The signing keys could not be had: the token can't be checked, so it is refused."""


class SigningKeys(_OpenIdMetadata):
    """The keys of one OpenID metadata document (botbuilder's cache entry, fetched Surge's way)."""

    def __init__(self, url: str, *, timeout: float = TIMEOUT, retry_after: float = RETRY_AFTER):
        super().__init__(url)
        self.timeout, self.retry_after = timeout, retry_after
        self._lock = threading.Lock()
        self._inflight: Future | None = None
        self._failed_at: float | None = None

    async def get(self, key_id: str):
        if self.last_updated < datetime.now() - timedelta(days=1):
            await self._refresh()
        key = self._lookup(key_id)
        if key is None and self.last_updated < datetime.now() - timedelta(hours=1):
            await self._refresh()  # keys roll over: an unknown key id refetches, at most hourly
            key = self._lookup(key_id)
        if key is None:
            raise PermissionError("the token's signing key is not one of Microsoft's")
        return key

    async def _refresh(self) -> None:
        with self._lock:
            if self._failed_at is not None and time.monotonic() - self._failed_at < self.retry_after:
                raise KeysUnavailable("signing keys unavailable (a recent fetch failed)")
            if self._inflight is None or self._inflight.done():
                self._inflight = _fetches.submit(self._fetch)
            fetch = self._inflight
        try:
            fetched = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(fetch)), self.timeout)
        except TimeoutError:
            self._failed(f"no answer from {self.url} within {self.timeout:g} s")
            raise KeysUnavailable("signing keys unavailable (the fetch timed out)") from None
        if not fetched:
            raise KeysUnavailable("signing keys unavailable (the fetch failed)")

    def _fetch(self) -> bool:
        """On the key pool: the metadata document, then its JWKS, each with a timeout. Never raises
        (nobody may be waiting any more): a failure is recorded, and False returned."""
        try:
            metadata = requests.get(self.url, timeout=self.timeout)
            metadata.raise_for_status()
            jwks = requests.get(metadata.json()["jwks_uri"], timeout=self.timeout)
            jwks.raise_for_status()
            keys = jwks.json()["keys"]
            if not isinstance(keys, list):
                raise ValueError("keys is not a list")
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, no token can be checked
            self._failed(f"{type(exc).__name__} from {self.url}")
            return False
        self.keys = keys
        self.last_updated = datetime.now()
        with self._lock:
            self._failed_at = None
        return True

    def _failed(self, why: str) -> None:
        with self._lock:
            self._failed_at = time.monotonic()
        log.warning("teams: Microsoft's signing keys could not be fetched (%s); tokens are refused for %g s",
                    why, self.retry_after)

    def _lookup(self, key_id: str):
        for key in self.keys or []:
            if isinstance(key, dict) and key_id and key.get("kid") == key_id:
                try:
                    return _OpenIdConfig(RSAAlgorithm.from_jwk(json.dumps(key)), key.get("endorsements", []))
                except Exception:  # noqa: BLE001 - an unusable key is no key
                    return None
        return None


def install(*urls: str) -> None:
    """Make botbuilder find Surge's `SigningKeys` for these metadata URLs (kept if already there)."""
    for url in urls:
        if not isinstance(JwtTokenExtractor.metadataCache.get(url), SigningKeys):
            JwtTokenExtractor.metadataCache[url] = SigningKeys(url)
