"""A local stand-in for Microsoft's token signing key endpoints (the OpenID metadata document and its
JWKS), and tokens made with pyjwt: signed with its key as the Bot Framework signs them, or forged.

It counts fetches of the metadata document and can hold them (a slow endpoint) until released.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.harness import ServerThread

APP_ID = "00000000-0000-0000-0000-000000000001"
ISSUER = "https://api.botframework.com"
KID = "surge-test-key"


class FakeKeys:
    def __init__(self, endorsements: tuple[str, ...] = ("msteams",)):
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwk = {**json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key())), "kid": KID, "use": "sig",
                    "endorsements": list(endorsements)}
        self.hits = 0  # fetches of the metadata document
        self.fetching = threading.Event()  # set when a fetch arrives
        self.held = False  # hold every fetch until release()
        self._release = threading.Event()
        self.server = ServerThread(self.app)

    @property
    def metadata_url(self) -> str:
        return self.server.url + "/v1/.well-known/openidconfiguration"

    def start(self) -> FakeKeys:
        self.server.start()
        return self

    def stop(self) -> None:
        self.release()
        self.server.stop()

    def hold(self) -> None:
        self.held = True

    def release(self) -> None:
        self._release.set()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/.well-known/openidconfiguration", self._metadata)
        app.router.add_get("/v1/keys", self._keys)
        return app

    async def _metadata(self, request: web.Request) -> web.Response:
        self.hits += 1
        self.fetching.set()
        if self.held:
            await asyncio.get_running_loop().run_in_executor(None, self._release.wait, 60)
            return web.json_response({"error": "unavailable"}, status=503)
        return web.json_response({"issuer": ISSUER, "jwks_uri": self.server.url + "/v1/keys",
                                  "id_token_signing_alg_values_supported": ["RS256"]})

    async def _keys(self, request: web.Request) -> web.Response:
        return web.json_response({"keys": [self.jwk]})

    # -- tokens ------------------------------------------------------------------------------------

    def claims(self, service_url: str, **extra) -> dict:
        now = int(time.time())
        return {"iss": ISSUER, "aud": APP_ID, "serviceurl": service_url, "nbf": now - 60, "exp": now + 3600,
                **extra}

    def signed(self, service_url: str, *, kid: str = KID) -> str:
        """A token as the Bot Framework would send it (signed with this server's key)."""
        return jwt.encode(self.claims(service_url), self.private_key, algorithm="RS256", headers={"kid": kid})

    def unsigned(self, service_url: str) -> str:
        """`alg: none`: no signature at all."""
        return jwt.encode(self.claims(service_url), None, algorithm="none", headers={"kid": KID})

    def hmac_with_public_key(self, service_url: str) -> str:
        """HS256 with the public key's text (its modulus, as published) as the shared secret: the classic
        key-confusion forgery."""
        return jwt.encode(self.claims(service_url), self.jwk["n"], algorithm="HS256", headers={"kid": KID})


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
