from django.urls import reverse

from core.encrypted_files import EncryptedFileSystemStorage


class SourceFileStorage(EncryptedFileSystemStorage):
    """Source files and archived copies under MEDIA_ROOT, encrypted at rest, never served
    directly: their URL is a view that checks who may see the source
    (cases.views.source_file)."""

    def url(self, name):
        return reverse("source_file", args=[name])


def source_storage():
    return SourceFileStorage()
