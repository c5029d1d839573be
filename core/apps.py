from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Infrastructure with no domain model: the audit chain, the records' admin base, field
    encryption, database routing and batching, spreadsheet safety, middleware."""

    name = "core"
    verbose_name = "core"

    def ready(self):
        from core import textsearch  # noqa: F401  (registers SQLite's fold function)
