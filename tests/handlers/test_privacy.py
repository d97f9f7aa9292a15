"""Nothing addressed to a partner channel ever names the customer, the site or the contact."""
from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlmodel import select

from handlers.types import Audience, Message
from handlers.views import PublicRequest, request_cards
from models.tables import SurgeRequest

SECRETS = ["Acme Dental", "12 Main St", "Ann Lee", "516-555-0101"]


def partner_texts(chat) -> list[str]:
    """Every partner-channel message in the outbox, and every request card's partner copy now."""
    texts = [str(m) for m in chat.messages_to(Audience.PARTNERS)]
    with chat.core.db.session() as s:
        ids = s.exec(select(SurgeRequest.id)).all()
        for rid in ids:
            partner, _ = request_cards(s, rid, "America/New_York")
            texts.append(partner.model_dump_json())
    return texts


def test_whole_story_never_leaks_private_details_to_partner_channels(ready):
    ready.ok("Tom Tech", "claim SR-1 12")
    ready.ok("Tom Tech", "start SR-1")
    ready.ok("Tom Tech", 'problem SR-1 "UPS alarm"')
    ready.ok("Tom Tech", 'lead SR-1 "wants laptops"')
    ready.ok("Tom Tech", "done SR-1 10")
    ready.ok("Dana Dispatch", "verify SR-1 Tom")
    ready.ok("Dana Dispatch", 'cancel SR-1 "weather"')
    texts = partner_texts(ready)
    assert texts, "the partner copy of the card must exist"
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
    # ...while the claimant's DM and the dispatch copy do carry them
    private = [m for m in ready.outbox() if m.kind == "message" and m.payload["audience"] in ("dm", "dispatch")]
    assert any("Acme Dental" in str(m.payload) for m in private)


def test_public_request_has_no_private_fields():
    assert not {"customer", "site", "contact", "bill_cents"} & set(PublicRequest.model_fields)


def test_a_private_message_cannot_be_addressed_to_partners():
    with pytest.raises(ValidationError, match="partner channels"):
        Message(audience=Audience.PARTNERS, text="Acme Dental", private=True)


def test_dispatch_copy_is_marked_private(ready):
    with ready.core.db.session() as s:
        partner, dispatch = request_cards(s, 1, "UTC")
    assert dispatch.private and "Acme Dental" in dispatch.model_dump_json()
    assert partner.audience is Audience.PARTNERS and not partner.private
