"""What happened (core), the pairs of likely duplicates, and the spreadsheet imports."""

from cases.models.core import (
    Case,
    CaseQuerySet,
    Incident,
    IncidentQuerySet,
    Involvement,
    Source,
    SourceQuerySet,
    source_upload_to,
)
from cases.models.duplicates import DuplicatePair, DuplicatePairQuerySet, comparable_for
from cases.models.imports import ImportBatch, ImportBatchQuerySet

__all__ = [
    "Case",
    "CaseQuerySet",
    "DuplicatePair",
    "DuplicatePairQuerySet",
    "ImportBatch",
    "ImportBatchQuerySet",
    "Incident",
    "IncidentQuerySet",
    "Involvement",
    "Source",
    "SourceQuerySet",
    "comparable_for",
    "source_upload_to",
]
