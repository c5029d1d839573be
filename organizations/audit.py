"""Keeps "nothing lost, everything audited" true for writes made through the ORM.

django-simple-history writes a history row from the model's save/delete signals.
QuerySet.update(), bulk_create() and bulk_update() send no such signal, so on an
audited model they would change data without a trace. Audited models use this
queryset, which refuses them; write through the services instead.
"""

from django.db import models


class AuditBypassError(RuntimeError):
    pass


class AuditedQuerySet(models.QuerySet):
    def _refuse(self, operation: str):
        raise AuditBypassError(
            f"{self.model.__name__}.objects.{operation}() would skip the audit history. "
            "Save each object through its service (e.g. cases.services) instead."
        )

    def update(self, **kwargs):
        self._refuse("update")

    def bulk_create(self, objs, *args, **kwargs):
        self._refuse("bulk_create")

    def bulk_update(self, objs, fields, *args, **kwargs):
        self._refuse("bulk_update")
