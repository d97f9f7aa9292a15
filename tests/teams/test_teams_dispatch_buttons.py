"""The dispatch copy's buttons in Teams (Action.Execute invokes to the real adapter): Revoke asks why,
Edit opens the request form prefilled, Reassign… asks to whom; each runs the text command's code, the
clicker sees the card as it now stands, and every copy is updated in place. A refused one keeps the
form with the reason beside it and changes nothing."""
from __future__ import annotations

import json

from tests.conftest import Chat
from tests.harness import wait_for
from tests.teams.conftest import DANA, DISPATCH, FRANK, PARTNERS, PAULA, TOM, request_card, settle
from tests.teams.fake_connector import button, buttons, card_of, elements


def text(card) -> str:
    return json.dumps(card, ensure_ascii=False)


def titles(card) -> list[str]:
    return [b["title"] for b in buttons(card)]


def claimed(posted, connector, units: int = 10):
    """Frank holds `units` of SR-1; the dispatch post and its copy once it shows his buttons."""
    posted.say(FRANK, "guidelines ack")
    posted.say(FRANK, f"claim SR-1 {units}")
    post = request_card(connector, DISPATCH, 1)
    card = wait_for(lambda: (c := connector.latest_card(DISPATCH, post.created_id)) and "Revoke Frank" in text(c) and c,
                    what="the dispatch card with Revoke Frank")
    return post, card


def test_revoke_asks_why_then_the_units_go_back_on_every_copy(posted, connector, surge):
    post, card = claimed(posted, connector)
    _, answer, _ = posted.click(DANA, button(card, "Revoke Frank"), channel=DISPATCH, card_id=post.created_id)
    form = card_of(answer)
    assert "Revoke a claim" in text(form) and "Acme Dental" in text(form)  # the dispatch copy, the form under it
    send = button(form, "Send")
    _, answer, _ = posted.click(DANA, send, inputs={"why": ""}, channel=DISPATCH, card_id=post.created_id)
    assert "Say why" in text(card_of(answer))
    _, answer, _ = posted.click(DANA, send, inputs={"why": "the customer wants our own staff"}, channel=DISPATCH,
                                card_id=post.created_id)
    shown = text(card_of(answer))
    assert "Revoked Frank Fabrikam's claim on SR-1" in shown and "40 of 40 units left" in shown
    assert not any(t.startswith("Revoke Frank") for t in titles(card_of(answer)))
    partner = request_card(connector, PARTNERS, 1)
    wait_for(lambda: "40 of 40 units left" in text(connector.latest_card(PARTNERS, partner.created_id)),
             what="the partner card updated in place")
    wait_for(lambda: [c for c in connector.dms_to(FRANK) if "took back your claim" in c.text], what="Frank told why")
    settle(surge)
    assert len([c for c in connector.in_conversation(PARTNERS, "post") if "SR-1 ·" in c.text]) == 1  # no double post


def test_revoke_on_a_stale_card_keeps_the_form_with_the_reason_and_changes_nothing(posted, connector, surge):
    post, card = claimed(posted, connector)
    posted.say(FRANK, "done SR-1")
    assert "Verified" in posted.say(DANA, 'verify SR-1 "Frank Fabrikam"')[0].text
    settle(surge)
    before = Chat(surge.core).state()
    _, answer, _ = posted.click(DANA, button(card, "Revoke Frank"), channel=DISPATCH, card_id=post.created_id)
    _, answer, _ = posted.click(DANA, button(card_of(answer), "Send"), inputs={"why": "no show"}, channel=DISPATCH,
                                card_id=post.created_id)
    shown = text(card_of(answer))
    assert "no claim on SR-1 to take back" in shown and "Input.Text" in shown
    settle(surge)
    assert Chat(surge.core).state() == before


def form_values(card: dict) -> dict:
    """The inputs of a card's form with the values it shows (what Teams submits when nothing is touched)."""
    return {node["id"]: node.get("value", "") for node in elements(card)
            if str(node.get("type", "")).startswith("Input.") and "id" in node}


def test_edit_opens_the_request_form_prefilled_and_saves_only_the_changes(posted, connector, surge):
    post, card = claimed(posted, connector)
    _, answer, _ = posted.click(DANA, button(card, "Edit"), channel=DISPATCH, card_id=post.created_id)
    form = card_of(answer)
    shown = form_values(form)
    assert "Edit SR-1" in text(form) and shown["units"] == 40 and shown["customer"] == "Acme Dental"
    assert shown["deadline"] == "2027-03-10" and shown["pay"] == "35.00" and shown["tier"] == 2
    save = button(form, "Save")
    _, answer, _ = posted.click(DANA, save, inputs={**shown, "units": 30, "site": "14 Oak St, Hicksville"},
                                channel=DISPATCH, card_id=post.created_id)
    after = text(card_of(answer))
    assert "Edited SR-1" in after and "units 30 (was 40)" in after and "site changed" in after
    assert "20 of 30 units left" in after and "14 Oak St" in after  # the dispatch copy as it now stands
    partner = request_card(connector, PARTNERS, 1)
    wait_for(lambda: "20 of 30 units left" in text(connector.latest_card(PARTNERS, partner.created_id)),
             what="the partner card updated in place")
    wait_for(lambda: [c for c in connector.dms_to(FRANK) if "has changed" in c.text], what="Frank told")
    settle(surge)
    assert len([c for c in connector.in_conversation(PARTNERS, "post") if "SR-1 ·" in c.text]) == 1


def test_an_edit_that_is_refused_keeps_the_form_and_changes_nothing(posted, connector, surge):
    post, card = claimed(posted, connector)
    _, answer, _ = posted.click(DANA, button(card, "Edit"), channel=DISPATCH, card_id=post.created_id)
    form = card_of(answer)
    before = Chat(surge.core).state()
    _, answer, _ = posted.click(DANA, button(form, "Save"), inputs={**form_values(form), "units": 5},
                                channel=DISPATCH, card_id=post.created_id)
    shown = text(card_of(answer))
    assert "can't go below 10" in shown and "Edit SR-1" in shown  # the form again, with the reason
    _, answer, _ = posted.click(DANA, button(form, "Save"), inputs=form_values(form), channel=DISPATCH,
                                card_id=post.created_id)
    assert "Nothing to change" in text(card_of(answer))
    settle(surge)
    assert Chat(surge.core).state() == before


def test_reassign_asks_to_whom_then_moves_the_units(posted, connector, surge):
    post, card = claimed(posted, connector)
    posted.say(PAULA, 'sign "Paula Admin"')
    posted.say(TOM, "guidelines ack")
    _, answer, _ = posted.click(DANA, button(card, "Reassign Frank"), channel=DISPATCH, card_id=post.created_id)
    form = card_of(answer)
    assert "Reassign a claim" in text(form) and "Input.Text" in text(form)
    save = button(form, "Reassign")
    _, answer, _ = posted.click(DANA, save, inputs={"to": "", "units": ""}, channel=DISPATCH, card_id=post.created_id)
    assert "Name who should take the units" in text(card_of(answer))
    _, answer, _ = posted.click(DANA, save, inputs={"to": "tom", "units": 4}, channel=DISPATCH,
                                card_id=post.created_id)
    shown = text(card_of(answer))
    assert "Moved 4 units of SR-1 from Frank Fabrikam to Tom Tech" in shown
    assert "Tom Tech (Contoso Field Services): 4 units claimed" in shown and "Reassign Tom Tech" in shown
    wait_for(lambda: [c for c in connector.dms_to(TOM) if "assigned you 4 units" in c.text], what="Tom's job")
    wait_for(lambda: [c for c in connector.dms_to(FRANK) if "moved 4 units" in c.text], what="Frank told")
    wait_for(lambda: "Tom Tech" in text(connector.latest_card(DISPATCH, post.created_id)),
             what="the dispatch card updated in place")
    settle(surge)


def test_reassign_to_someone_unknown_keeps_the_form_and_changes_nothing(posted, connector, surge):
    post, card = claimed(posted, connector)
    settle(surge)
    before = Chat(surge.core).state()
    _, answer, _ = posted.click(DANA, button(card, "Reassign Frank"), channel=DISPATCH, card_id=post.created_id)
    _, answer, _ = posted.click(DANA, button(card_of(answer), "Reassign"), inputs={"to": "Zed Nobody"},
                                channel=DISPATCH, card_id=post.created_id)
    shown = text(card_of(answer))
    assert "can't find “Zed Nobody” on the roster" in shown and "Zed Nobody" in shown  # what was typed is kept
    settle(surge)
    assert Chat(surge.core).state() == before


def test_edit_typed_alone_opens_the_same_form_and_saving_edits_not_posts(posted, connector, surge):
    form = posted.say(DANA, "edit SR-1")[0].card
    assert "Edit SR-1" in text(form) and form_values(form)["title"] == "DST patch, Main St office"
    _, answer, _ = posted.click(DANA, button(form, "Save"), inputs={**form_values(form), "title": "DST patch round"})
    assert "Edited SR-1 · DST patch round" in text(card_of(answer))
    settle(surge)
    from sqlmodel import select

    from models.tables import SurgeRequest
    with surge.core.db.session() as s:
        assert [r.title for r in s.exec(select(SurgeRequest))] == ["DST patch round"]  # edited, never a new one
