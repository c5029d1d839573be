"""Shared by data migrations. Imported by migrations: keep what these functions do stable."""

from django.contrib.auth.management import create_permissions


def create_all_permissions(apps) -> None:
    """Create every model's permissions now. Django creates them only after all migrations
    have run, but the migrations that set up roles need them."""
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
