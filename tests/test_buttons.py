"""A button's typed state alone (`handlers.buttons.Button`): compact, round-tripped, refused when forged,
and turned into the same command models the text commands parse to."""
from __future__ import annotations

import pytest

from handlers.buttons import BadButton, Button, needs_form, person_ref, typed_command
from handlers.claims import ApproveClaim
from handlers.completion import RejectClaim, VerifyWork
from handlers.control import ReassignUnits, RevokeClaim
from handlers.types import Action, ActionKind

NAME = 'Dana "DJ" Ortiz'


def on_claim(kind: ActionKind, **more) -> Action:
    return Action(kind=kind, label=f"{kind} {NAME}", command=f'{kind} SR-7 "{NAME}"', request_id=7, person_id=12,
                  **more)


def test_a_claims_button_carries_ids_and_round_trips():
    button = Button.of(on_claim(ActionKind.APPROVE, then="claim SR-7 5"))
    assert button.value() == '{"k":"approve","r":7,"p":12,"t":"claim SR-7 5"}'
    assert Button.read(button.value()) == button and Button.read(button.dump()) == button
    clicked = button.action()
    assert (clicked.kind, clicked.request_id, clicked.person_id, clicked.then) == (ActionKind.APPROVE, 7, 12,
                                                                                  "claim SR-7 5")


def test_the_command_is_built_from_ids_never_parsed_from_a_name():
    who = person_ref(12)
    assert typed_command(on_claim(ActionKind.APPROVE)) == ApproveClaim(request=7, person=who)
    assert typed_command(on_claim(ActionKind.VERIFY)) == VerifyWork(request=7, person=who)
    assert typed_command(on_claim(ActionKind.REJECT)) is None  # asks why first
    assert needs_form(on_claim(ActionKind.REJECT)) and not needs_form(on_claim(ActionKind.APPROVE))
    assert typed_command(on_claim(ActionKind.REJECT), why='a "quoted" reason') == RejectClaim(
        request=7, person=who, why='a "quoted" reason')
    revoke = on_claim(ActionKind.REVOKE, why="partner suspended")  # the reason given already: no form
    assert not needs_form(revoke) and typed_command(revoke) == RevokeClaim(request=7, person=who,
                                                                           why="partner suspended")
    assert typed_command(on_claim(ActionKind.REASSIGN), to="Paula", units=3) == ReassignUnits(
        request=7, holder=who, to="Paula", units=3)
    assert typed_command(Action(kind=ActionKind.CLAIM_ALL, label="Claim", command="claim SR-7")) is None


def test_a_button_naming_nobody_keeps_its_command_and_drops_a_long_prefill_when_asked():
    action = Action(kind=ActionKind.POST_REQUEST, label="Post", command="request units=5",
                    prefill={"scope": "x" * 1990})
    assert len(Button.of(action).value()) > 2000
    assert Button.of(action, prefill=False).value() == '{"k":"post_request","c":"request units=5"}'


@pytest.mark.parametrize("value", [
    "approve SR-7 Dana", "", "[]", "null", '{"k": 5}', '{"kind": "approve"}', '{"k":"approve","r":7}',
    '{"k":"approve","c":"approve SR-7 \\"Dana\\""}', '{"k":"approve","r":7,"p":12,"x":1}',
    '{"k":"approve","r":0,"p":12}', '{"k":"approve","r":7,"p":99999999999}', '{"k":"run"}',
    '{"k":"run","c":"' + "x" * 1001 + '"}', "[" * 10_000 + "]" * 10_000,
])
def test_a_forged_or_garbled_value_is_refused(value):
    with pytest.raises(BadButton):
        Button.read(value)
