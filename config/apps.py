import sys

from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    default_site = "config.admin.OTPAdminSite"

    def ready(self):
        super().ready()  # autodiscovers every app's admin
        from django.contrib import admin
        from django_rq.models import Dashboard
        from django_tasks_db.models import DBTaskResult

        # The task queues' pages show the tracebacks of failed work, which may quote the data
        # it worked on, and RQ's statistics answer a token without a login: none in the
        # admin; each import shows its own work on its page.
        for model in (DBTaskResult, Dashboard):
            if admin.site.is_registered(model):
                admin.site.unregister(model)
        from config import startup  # (importing it registers the deploy check)

        startup.assert_safe_command_line(sys.argv)
