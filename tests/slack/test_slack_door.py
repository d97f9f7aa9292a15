"""The Slack door from outside: forged, stale, replayed and malformed requests get a 4xx, change
nothing in the database, and leave no trace of their body in the logs."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from sqlmodel import select

from models.tables import Claim
from tests.conftest import Chat
from tests.slack.conftest import DISPATCH, PARTNERS, SECRET

FORM, JSON = "application/x-www-form-urlencoded", "application/json"
SECRETS = ("Acme Dental", "516-555-0101")


def send(slack, body: bytes, content_type: str | None = FORM, *, method: str = "POST", secret: str | None = SECRET,
         ts: str | None = None, headers: dict | None = None) -> tuple[int, str]:
    """Any bytes to /slack/events, signed with `secret` (none: no signature headers at all)."""
    ts = str(int(time.time())) if ts is None else ts
    sent = {"Content-Type": content_type} if content_type else {}
    if secret is not None:
        sig = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
        sent |= {"X-Slack-Request-Timestamp": ts.encode(), "X-Slack-Signature": f"v0={sig}"}
    req = urllib.request.Request(slack.server.url + "/slack/events", data=body if method != "GET" else None,
                                 method=method, headers=sent | (headers or {}))
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def form(**fields) -> bytes:
    return urllib.parse.urlencode(fields).encode()


def interaction(payload: dict | str) -> bytes:
    return form(payload=payload if isinstance(payload, str) else json.dumps(payload))


def command(user: str | None, text: str) -> dict:
    fields = {"token": "legacy", "team_id": "T0SURGE", "channel_id": PARTNERS, "command": "/surge", "text": text,
              "api_app_id": "A0SURGE", "response_url": "http://127.0.0.1:9/unused", "trigger_id": "t.1"}
    return fields | ({"user_id": user} if user is not None else {})


def click(value: str, **extra) -> dict:
    return {"type": "block_actions", "team": {"id": "T0SURGE"}, "user": {"id": "U0TOM"}, "trigger_id": "t.1",
            "channel": {"id": PARTNERS}, "response_url": "http://127.0.0.1:9/unused",
            "actions": [{"action_id": "surge.button.0", "type": "button", "value": value, "action_ts": "1.1"}]} | extra


def submission(view: dict | str) -> dict:
    return {"type": "view_submission", "team": {"id": "T0SURGE"}, "user": {"id": "U0TOM"}, "view": view}


REQUEST_VIEW = {"id": "V1", "callback_id": "surge.form.request", "private_metadata": "{}", "state": {"values": {}}}
DEEP = b"[" * 50_000 + b"]" * 50_000

# (what, body, content type): none of these is a request Surge can act on
MALFORMED = [
    ("a lone brace as a form", b"{", FORM),
    ("truncated JSON", b'{"a":', JSON),
    ("payload that is not JSON", b"payload=not-json", FORM),
    ("JSON nested 50k deep", DEEP, JSON),
    ("JSON object nested 50k deep", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, JSON),
    ("invalid UTF-8", b"command=%2Fsurge&user_id=U0TOM&text=list\xff\xfe", FORM),
    ("a form body sent as JSON", form(**command("U0TOM", "list")), JSON),
    ("JSON that is a list", b"[1, 2]", JSON),
    ("a payload that is a string", interaction('"block_actions"'), FORM),
    ("a slash command without user_id", form(**command(None, "claim SR-1 1")), FORM),
    ("a slash command with an empty user_id", form(**command("", "claim SR-1 1")), FORM),
    ("a Surge button without a value", interaction(click("")), FORM),
    ("a click without actions", interaction(click("{}", actions=[])), FORM),
    ("a click without a user", interaction({k: v for k, v in click("{}").items() if k != "user"}), FORM),
    ("a submission without view.type", interaction(submission(REQUEST_VIEW)), FORM),
    ("a submission whose view is a string", interaction(submission("surge.form.request")), FORM),
    ("a submission whose values are a list",
     interaction(submission(REQUEST_VIEW | {"type": "modal", "state": {"values": []}})), FORM),
    ("an event that is a string", json.dumps({"type": "event_callback", "event_id": "E1", "event": "x"}).encode(),
     JSON),
    ("a mention without a user", json.dumps({"type": "event_callback", "event_id": "E2", "event": {
        "type": "app_mention", "text": "hi", "channel": "C1"}}).encode(), JSON),
    ("JSON without a type", b"{}", JSON),
    ("an empty body", b"", FORM),
]


def not_utf8(body: bytes) -> bool:
    """Such a body is refused (400) before its signature is checked: slack_sdk reads bodies as UTF-8."""
    try:
        body.decode()
    except UnicodeDecodeError:
        return True
    return False


def state(slack) -> dict[str, list]:
    """Every row of every table, but of the outbox only which messages exist: the sender records
    its deliveries of earlier messages (and the cards it posted) in the background."""
    rows = Chat(slack.stack.core).state()
    del rows["outbox_delivery"], rows["posted_card"]
    return rows | {"outbox_message": [row[0] for row in rows["outbox_message"]]}


@pytest.mark.parametrize(("what", "body", "content_type"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_requests_get_a_4xx_whether_signed_or_not_and_change_nothing(slack, what, body, content_type):
    before = state(slack)
    signed, _ = send(slack, body, content_type)
    assert signed == 400, f"signed {what}: {signed}"
    for forged in ({"secret": "not-the-secret"}, {"secret": None}, {"ts": "abc"},
                   {"ts": str(int(time.time()) - 6 * 60)}):
        status, _ = send(slack, body, content_type, **forged)
        assert status == 401 or (status == 400 and not_utf8(body)), f"{what} with {forged}: {status}"
    assert state(slack) == before
    assert slack.fake.sent("chat.postMessage") == [] and slack.fake.sent("views.open") == []


@pytest.mark.parametrize("header", ["abc", "", " 1", "١٧٠٠٠٠٠٠٠٠", "1e9", "-1", "99999999999999999999999"])
def test_a_timestamp_that_is_not_a_number_is_401(slack, header):
    before = state(slack)
    assert send(slack, form(**command("U0TOM", "list")), ts=header)[0] == 401
    assert state(slack) == before


def test_a_signature_that_is_not_plain_text_is_401(slack):
    body = form(**command("U0TOM", "list"))
    assert send(slack, body, headers={"X-Slack-Signature": "v0=é".encode()})[0] == 401
    assert send(slack, body, headers={"X-Slack-Signature": ""})[0] == 401


def test_wrong_content_type_or_charset_is_415_and_wrong_method_is_405(slack):
    before = state(slack)
    body = form(**command("U0TOM", "list"))
    assert send(slack, body, "text/plain")[0] == 415
    assert send(slack, body, "application/octet-stream")[0] == 415
    assert send(slack, body, "multipart/form-data; boundary=x")[0] == 415
    assert send(slack, body, f"{FORM}; charset=klingon")[0] == 415
    assert send(slack, body, f"{FORM}; charset=klingon", secret="not-the-secret")[0] == 401
    assert send(slack, body, method="GET")[0] == 405
    assert send(slack, body, method="PUT")[0] == 405
    assert send(slack, b"text=" + b"x" * (1024**2 + 1))[0] == 413
    assert state(slack) == before
    assert send(slack, body, f"{FORM}; charset=UTF-8")[0] == 200  # what a proxy may add is fine


def test_a_replayed_slash_command_runs_once(slack):
    slack.command("U0PAULA", 'sign "Paula Admin"')
    slack.command("U0TOM", "guidelines ack")
    assert "Posted" in slack.command("U0DANA", 'request "DST patch" units=40 deadline=2030-03-10 pay=35 bill=60 '
                                     'town=Hicksville customer="Acme Dental" site="12 Main St" '
                                     'contact="Ann Lee 516-555-0101"', channel=DISPATCH).text
    fields = command("U0TOM", "claim SR-1 1") | {"response_url": slack.fake.response_url("replayed")}
    body, ts = form(**fields), str(int(time.time()))
    assert send(slack, body, ts=ts)[0] == 200
    [first] = slack.wait_sent("respond/replayed")
    assert "You have 1 unit" in first["text"], first
    before = state(slack)
    for n in range(2, 5):
        assert send(slack, body, ts=ts)[0] == 200
        again = slack.wait_sent("respond/replayed", n)[-1]
        assert "You have 1 unit" in again["text"], again  # the first answer again
    assert state(slack) == before
    with slack.stack.core.db.session() as s:
        assert [c.units for c in s.exec(select(Claim))] == [1]
    # the same words typed again are a new command, not a replay
    assert "You have 2 units" in slack.command("U0TOM", "claim SR-1 1").text


def test_replays_sent_at_the_same_moment_run_once(slack):
    slack.command("U0PAULA", 'sign "Paula Admin"')
    slack.command("U0TOM", "guidelines ack")
    assert "Posted" in slack.command("U0DANA", 'request "DST patch" units=40 deadline=2030-03-10 pay=35 bill=60 '
                                     'town=Hicksville', channel=DISPATCH).text
    fields = command("U0TOM", "claim SR-1 3") | {"response_url": slack.fake.response_url("replay")}
    body, ts = form(**fields), str(int(time.time()))
    barrier, answers = threading.Barrier(6), []

    def replay() -> None:
        barrier.wait()
        answers.append(send(slack, body, ts=ts))

    threads = [threading.Thread(target=replay) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [status for status, _ in answers] == [200] * 6
    # answered in the ack, or (when the core was busy) acknowledged at once and answered after
    inline = [text for _, text in answers if text]
    later = slack.wait_sent("respond/replay", count=6 - len(inline)) if len(inline) < 6 else []
    assert all("You have 3 units" in said for said in inline + [r["text"] for r in later]), (inline, later)
    with slack.stack.core.db.session() as s:
        assert [c.units for c in s.exec(select(Claim))] == [3]


def test_no_request_body_reaches_the_logs(slack, caplog):
    caplog.set_level(logging.DEBUG)
    secret_form = form(**command("U0DANA", 'request "Patch" units=4 deadline=2030-03-10 pay=35 bill=60 town=Hicksville '
                                 'customer="Acme Dental" site="12 Main St" contact="Ann Lee 516-555-0101"'))
    secret_json = json.dumps({"type": "event_callback", "event_id": "Ev9", "event": {
        "type": "app_mention", "user": "U0DANA", "channel": "C1", "text": "Acme Dental 516-555-0101"}}).encode()
    for body, content_type in ((secret_form, FORM), (secret_json, JSON)):
        for forged in ({"secret": "not-the-secret"}, {"secret": None}, {"ts": "abc"},
                       {"ts": str(int(time.time()) - 6 * 60)}, {"ts": str(int(time.time()) + 6 * 60)}):
            assert send(slack, body, content_type, **forged)[0] == 401
    # signed but malformed: refused without quoting it either
    assert send(slack, secret_form + b"&payload=Acme+Dental+516-555-0101")[0] == 400
    assert send(slack, secret_json[:-1], JSON)[0] == 400
    # a button value that is not a Surge button is answered in words (see test_slack_typed_buttons), not quoted
    assert send(slack, interaction(click("Acme Dental 516-555-0101")))[0] == 200
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert caplog.records, "the log was not captured"
    leaked = [s for s in SECRETS if s in logged]
    assert not leaked, f"logged {leaked}:\n{logged}"
