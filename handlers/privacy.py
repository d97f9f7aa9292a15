"""Where an answer marked private (its handler put a customer, a site or a contact in it) may be shown.

In a one-to-one chat, or in a roster channel only the home MSP's staff read (dispatch, managers), it is
shown where it was asked; anywhere else (a partner channel, a group chat, a conversation that is not
on the roster) it goes to the sender alone. An adapter says where the question was asked; this decides.
Likewise for a button pressed on a request card: which copy of the card the presser sees again.
"""
from __future__ import annotations

from sqlmodel import Session, select

from handlers.types import Audience, Context, Message
from handlers.views import request_cards
from models.tables import Channel, ChannelPurpose

STAFF_ONLY = frozenset({ChannelPurpose.DISPATCH, ChannelPurpose.MANAGERS})  # the channels only home staff read


def goes_to_sender_alone(session: Session, *, private: bool, platform: str, one_to_one: bool,
                         channel_id: str | None) -> bool:
    """Whether an answer asked for here must go to its sender alone rather than where it was asked."""
    if not private or one_to_one:
        return False
    if channel_id is None:
        return True  # a group chat, or a conversation that can't be placed: shared
    purpose = session.exec(select(Channel.purpose).where(Channel.platform == platform,
                                                         Channel.external_id == channel_id)).first()
    return purpose not in STAFF_ONLY


def clicked_copy(ctx: Context, request_id: int | None, *, clicked: Audience | None, home_timezone: str) -> Message | None:
    """The copy of a request's card shown back to whoever pressed a button on it: the dispatch copy
    (customer, site, contact) only for the home MSP's staff pressing on a dispatch card, the partner
    copy otherwise; None when there is no such request (any more)."""
    if request_id is None:
        return None
    try:
        partner, dispatch = request_cards(ctx.session, request_id, home_timezone)
    except LookupError:
        return None
    return dispatch if clicked is Audience.DISPATCH and ctx.actor.is_home else partner
