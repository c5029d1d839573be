from django.db import models


class URLField(models.URLField):
    """A URL typed without a scheme becomes https:// (Django 6's default, adopted now)."""

    def formfield(self, **kwargs):
        return super().formfield(**{"assume_scheme": "https", **kwargs})
