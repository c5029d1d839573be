"""cases' models: what happened (core) and the lawyers' tracker (legal)."""

from cases.models.core import (
    Case,
    CaseQuerySet,
    Incident,
    IncidentQuerySet,
    Involvement,
    Source,
    SourceQuerySet,
    sees_everything,
    source_upload_to,
)
from cases.models.imports import DuplicatePair, DuplicatePairQuerySet, ImportBatch
from cases.models.legal import (
    CalendarToken,
    Charge,
    Detention,
    Hearing,
    LegalAction,
    Proceeding,
    Transfer,
)

__all__ = [
    "CalendarToken",
    "Case",
    "CaseQuerySet",
    "Charge",
    "Detention",
    "DuplicatePair",
    "DuplicatePairQuerySet",
    "Hearing",
    "Incident",
    "ImportBatch",
    "IncidentQuerySet",
    "Involvement",
    "LegalAction",
    "Proceeding",
    "Source",
    "SourceQuerySet",
    "Transfer",
    "sees_everything",
    "source_upload_to",
]
