"""What happened (core), the pairs of likely duplicates, and the spreadsheet imports and
exports."""

from cases.models.archives import (
    ArchivedCopy,
    OfSourceQuerySet,
    SourceText,
)
from cases.models.core import (
    Case,
    CaseQuerySet,
    Incident,
    IncidentQuerySet,
    Involvement,
    Source,
    SourceQuerySet,
    Support,
    source_upload_to,
)
from cases.models.duplicates import DuplicatePair, DuplicatePairQuerySet, comparable_for
from cases.models.exports import IncidentExport
from cases.models.imports import ImportBatch, ImportBatchQuerySet

__all__ = [
    "ArchivedCopy",
    "Case",
    "CaseQuerySet",
    "DuplicatePair",
    "DuplicatePairQuerySet",
    "ImportBatch",
    "ImportBatchQuerySet",
    "IncidentExport",
    "Incident",
    "IncidentQuerySet",
    "OfSourceQuerySet",
    "Involvement",
    "Source",
    "SourceQuerySet",
    "SourceText",
    "Support",
    "comparable_for",
    "source_upload_to",
]
