"""POST /api/messages before the turn: a malformed activity is a 400 and a refused token a 401, never
a 500, in emulator mode and with an app id; nothing is stored either way. Microsoft's signing keys are
fetched off the event loop with a timeout, and a failed fetch is remembered, so a slow key endpoint
stalls nobody."""
from __future__ import annotations

import threading
import time
import urllib.request

import pytest
from sqlmodel import select

from models.tables import ConversationReference
from tests.conftest import Chat
from tests.harness import wait_for
from tests.teams.conftest import DANA, TOM, start_surge
from tests.teams.fake_connector import Teams
from tests.teams.fake_keys import APP_ID, FakeKeys, bearer


@pytest.fixture
def keys():
    fake = FakeKeys().start()
    yield fake
    fake.stop()


@pytest.fixture(params=["emulator", "app id"])
def endpoint(request, db_url, clock, connector, keys):
    """Surge in emulator mode, or with an app id whose tokens are checked against `keys`."""
    creds = {} if request.param == "emulator" else {
        "microsoft_app_id": APP_ID, "microsoft_app_password": "not-a-placeholder-secret",
        "microsoft_openid_metadata_url": keys.metadata_url}
    running = start_surge(db_url, clock, **creds)
    yield running, Teams(running.server.url, connector), request.param
    running.server.stop()
    running.core.db.dispose()


def stored(running) -> list[ConversationReference]:
    with running.core.db.session() as s:
        return list(s.exec(select(ConversationReference)).all())


def deep(depth: int) -> bytes:
    return b'{"type": "message", "channelData": ' + b"[" * depth + b"]" * depth + b"}"


MALFORMED = {
    "nested 100k deep": lambda teams: deep(100_000),
    "from as a string": lambda teams: {**teams.message(TOM, "help"), "from": TOM},
    "timestamp not a date": lambda teams: {**teams.message(TOM, "help"), "timestamp": "not-a-date"},
}


@pytest.mark.parametrize("shape", list(MALFORMED))
def test_a_malformed_activity_is_400_and_stores_nothing(endpoint, connector, keys, shape):
    running, teams, mode = endpoint
    before = Chat(running.core).state()
    headers = bearer(keys.signed(connector.url)) if mode == "app id" else {}
    status, _ = teams.post(MALFORMED[shape](teams), headers=headers)
    assert status == 400
    assert connector.calls == [] and Chat(running.core).state() == before


FORGED = {
    "alg none": lambda keys, url: keys.unsigned(url),
    "HS256 keyed with the public key": lambda keys, url: keys.hmac_with_public_key(url),
    "unknown signing key": lambda keys, url: keys.signed(url, kid="someone-else"),
}


@pytest.mark.parametrize("forgery", list(FORGED))
def test_a_forged_token_is_401_and_stores_nothing(endpoint, connector, keys, forgery):
    running, teams, _ = endpoint
    before = Chat(running.core).state()
    token = FORGED[forgery](keys, connector.url)
    status, _ = teams.post(teams.install(channel=None, teams_id=DANA, send=False), headers=bearer(token))
    assert status == 401
    assert connector.calls == [] and stored(running) == [] and Chat(running.core).state() == before


def test_a_token_for_a_channel_its_key_is_not_endorsed_for_is_401(endpoint, connector, keys):
    running, teams, _ = endpoint
    body = {**teams.install(teams_id=DANA, send=False), "channelId": "directline"}  # the key is for msteams only
    status, _ = teams.post(body, headers=bearer(keys.signed(connector.url)))
    assert status == 401
    assert connector.calls == [] and stored(running) == []


def test_with_an_app_id_a_genuine_token_is_accepted(endpoint, connector, keys):
    running, teams, mode = endpoint
    if mode == "emulator":
        pytest.skip("emulator mode has no app id for a token to be addressed to")
    body = teams.install(teams_id=DANA, send=False)
    body["membersAdded"] = [teams.user(DANA)]  # Dana joined: no welcome to send, so no token is needed to answer
    status, _ = teams.post(body, headers=bearer(keys.signed(connector.url)))
    assert status in (200, 201)
    assert [r.conversation_id for r in stored(running)] == [f"a:1on1-{DANA}"]
    again = {**body, "id": body["id"] + "-2"}
    assert teams.post(again, headers=bearer(keys.signed(connector.url)))[0] in (200, 201)
    assert keys.hits == 1  # the keys are kept, not fetched per request


def get(url: str, timeout: float) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status


def test_a_slow_key_endpoint_stalls_nobody_and_is_not_asked_again(db_url, clock, connector, keys):
    keys.hold()  # Microsoft's key endpoint accepts the connection and says nothing
    running = start_surge(db_url, clock, microsoft_app_id=APP_ID, microsoft_app_password="not-a-placeholder-secret",
                          microsoft_openid_metadata_url=keys.metadata_url)
    try:
        teams = Teams(running.server.url, connector)
        forged = bearer(keys.signed(connector.url, kid="forged"))
        first: dict = {}
        waiting = threading.Thread(target=lambda: first.update(answer=teams.post(teams.message(TOM, "help"),
                                                                                 headers=forged)))
        waiting.start()
        assert keys.fetching.wait(10), "Surge never asked for the keys"
        # while the key endpoint holds that request, the server answers everyone else at once
        assert get(running.server.url + "/healthz", timeout=2) == 200
        assert keys.hits == 1 and not first, "the forged request was answered before the key endpoint was"
        waiting.join(20)
        assert first["answer"][0] == 401  # failed closed once the fetch timed out
        started = time.monotonic()
        assert teams.post(teams.message(TOM, "help"), headers=forged)[0] == 401
        assert time.monotonic() - started < 2  # the failure is remembered: refused without waiting again…
        assert keys.hits == 1  # …and without asking again
        assert connector.calls == [] and stored(running) == []
        wait_for(lambda: get(running.server.url + "/healthz", timeout=2) == 200, what="healthz")
    finally:
        keys.release()
        running.server.stop()
        running.core.db.dispose()

