from django.core.files.storage import FileSystemStorage
from django.urls import reverse


class SourceFileStorage(FileSystemStorage):
    """Source files under MEDIA_ROOT, never served directly: their URL is a view that checks
    who may see the source (cases.views.source_file)."""

    def url(self, name):
        return reverse("source_file", args=[name])


def source_storage():
    return SourceFileStorage()
