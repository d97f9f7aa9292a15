"""The msrest patch: applied once at start after a version check, and loud when msrest changes shape.

Each changed shape is a real object (a real connector client with a real msrest part swapped in), not
a mock of Surge's code.
"""
from __future__ import annotations

import asyncio

import pytest
from botbuilder.core import BotAdapter, TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity
from botframework.connector import ConnectorClient
from botframework.connector.auth import MicrosoftAppCredentials
from msrest.pipeline.aiohttp import AioHTTPSender
from msrest.universal_http.requests import ClientRetryPolicy
from urllib3 import Retry

from bot.teams.connector import (
    MsrestChanged,
    one_policy,
    patch_msrest,
    require_versions,
)


def client() -> ConnectorClient:
    return ConnectorClient(MicrosoftAppCredentials("", ""), base_url="https://smba.example/")


def turn_with(connector) -> TurnContext:
    turn = TurnContext(TestAdapter(), Activity(type="message"))  # botbuilder's own in-memory adapter
    turn.turn_state[BotAdapter.BOT_CONNECTOR_CLIENT_KEY] = connector
    return turn


def test_a_turn_client_retries_dropped_connections_only():
    connector = client()
    one_policy(turn_with(connector))
    adapters = connector.config.pipeline._sender.driver.session.adapters.values()
    for retry in [connector.config.retry_policy.policy, *(a.max_retries for a in adapters)]:
        assert (retry.connect, retry.read, retry.status, set(retry.status_forcelist)) == (3, 0, 0, set())


def test_a_pipeline_without_a_requests_session_raises_instead_of_doing_nothing():
    async def main():
        connector = client()
        sender = AioHTTPSender()  # msrest's aiohttp sender: no requests session inside
        connector.config.pipeline._sender = sender
        try:
            with pytest.raises(MsrestChanged, match="no requests session"):
                one_policy(turn_with(connector))
        finally:
            await sender.driver._session.close()

    asyncio.run(main())


def test_a_retry_policy_without_urllib3s_retry_raises():
    connector = client()
    connector.config.retry_policy = ClientRetryPolicy.__new__(ClientRetryPolicy)  # built without its Retry
    with pytest.raises(MsrestChanged, match="no urllib3 Retry"):
        one_policy(turn_with(connector))


def test_a_turn_without_a_connector_client_has_nothing_to_patch():
    one_policy(TurnContext(TestAdapter(), Activity(type="invoke")))


def test_the_versions_it_was_written_for_pass_and_others_are_refused_by_name():
    require_versions()  # what is installed
    with pytest.raises(MsrestChanged, match=r"msrest 0\.8\.0 \(Surge needs 0\.7\.x\)"):
        require_versions({"msrest": "0.8.0", "botframework-connector": "4.17.1", "botbuilder-core": "4.17.1"})
    with pytest.raises(MsrestChanged, match="botbuilder-core None"):
        require_versions({"msrest": "0.7.1", "botframework-connector": "4.17.1"})


def test_the_patch_is_applied_once_and_leaves_msrest_answering_the_same():
    patch_msrest()
    patch_msrest()
    assert isinstance(ClientRetryPolicy.safe_codes, frozenset)
    assert 429 in ClientRetryPolicy.safe_codes and 503 not in ClientRetryPolicy.safe_codes
    assert isinstance(ClientRetryPolicy().policy, Retry)
