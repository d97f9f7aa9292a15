"""Persistence: SQLModel tables, the engine and sessions, queries and Alembic migrations.

Nothing here imports a chat platform SDK.
"""
from models.db import Database
from models.ledger import Dispute, Expense  # noqa: F401  (registers the tables)
from models.tables import (
    AgreementVersion,
    AuditEntry,
    Channel,
    Claim,
    ClaimStatus,
    CompletionReport,
    GuidelineAck,
    GuidelineVersion,
    Lead,
    Org,
    OrgKind,
    OrgStatus,
    OutboxMessage,
    Person,
    PostedCard,
    Problem,
    ProcessedInteraction,
    RequestStatus,
    Role,
    Signature,
    SurgeRequest,
)

__all__ = [
    "AgreementVersion", "AuditEntry", "Channel", "Claim", "ClaimStatus", "CompletionReport",
    "Database", "GuidelineAck", "GuidelineVersion", "Lead", "Org", "OrgKind", "OrgStatus",
    "OutboxMessage", "Person", "PostedCard", "Problem", "ProcessedInteraction", "RequestStatus",
    "Role", "Signature", "SurgeRequest",
]
