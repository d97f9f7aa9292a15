"""Importing this module registers every chat command."""
from handlers import (  # noqa: F401
    agreements,
    books,
    capacity,
    claims,
    completion,
    control,
    digest,
    editing,
    health,
    help,
    incidents,
    mine,
    partners,
    record,
    requests,
)
