"""Where an answer marked private (its handler put a customer, a site or a contact in it) may be shown.

In a one-to-one chat, or in a roster channel only the home MSP's staff read (dispatch, managers), it is
shown where it was asked; anywhere else (a partner channel, a group chat, a conversation that is not
on the roster) it goes to the sender alone. An adapter says where the question was asked; this decides.
"""
from __future__ import annotations

from sqlmodel import Session, select

from models.tables import Channel

STAFF_ONLY = frozenset({"dispatch", "managers"})  # roster channel purposes only home staff read


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
