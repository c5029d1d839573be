"""Source files and archived copies are encrypted at rest, streamed a frame at a time, refuse
to read back once altered, and move to a new key with rotate_field_keys."""

import io
import os
import tracemalloc

import pytest
from cryptography.fernet import Fernet
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from cases import services
from cases.storage import source_storage
from core import encrypted_files
from core.encrypted_files import MAGIC, EncryptedFileError
from core.management.commands.rotate_field_keys import Command as Rotate
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db
SECRET = b"Testigo: Mariela Contreras, telefono 0414-5550000"


def stored_bytes(name: str) -> bytes:
    with open(source_storage().path(name), "rb") as raw:
        return raw.read()


def read_back(name: str) -> bytes:
    with source_storage().open(name) as stored:
        return stored.read()


def with_file(user, data: bytes = SECRET, **case):
    return services.source_create(
        user=user,
        case=CaseFactory(status="draft", **case),
        kind="testimony",
        title="Testimonio",
        file=SimpleUploadedFile("testimonio.txt", data),
    )


def test_a_source_file_is_not_in_clear_on_disk(documentalist, client_for, coordinator):
    source = with_file(documentalist)
    on_disk = stored_bytes(source.file.name)
    assert on_disk.startswith(MAGIC) and b"Contreras" not in on_disk
    assert read_back(source.file.name) == SECRET
    # Its download is the file as given, its fingerprint the file's.
    response = client_for(coordinator).get(source.file.url)
    assert b"".join(response.streaming_content) == SECRET
    call_command("verify_sources", stdout=io.StringIO())


def test_a_large_file_is_written_and_read_a_frame_at_a_time(tmp_path):
    big = tmp_path / "escaneo.pdf"
    block = os.urandom(1024 * 1024)
    with open(big, "wb") as out:
        for _ in range(12):
            out.write(block)
    storage = source_storage()
    tracemalloc.start()
    with open(big, "rb") as given:
        name = storage.save("sources/escaneo.pdf", File(given))
    saving = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    total = 0
    with storage.open(name) as stored:
        for chunk in iter(lambda: stored.read(64 * 1024), b""):
            assert chunk == block[total % len(block) : total % len(block) + len(chunk)]
            total += len(chunk)
    reading = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert total == 12 * len(block)
    # A 12 MiB file never held whole: a few frames at most.
    assert saving < 3 * 1024 * 1024 and reading < 3 * 1024 * 1024, (saving, reading)


@pytest.mark.parametrize("damage", ["flip", "cut", "drop_last", "swap", "foreign"])
def test_an_altered_file_does_not_read_back(damage):
    storage = source_storage()
    size = 3 * encrypted_files.FRAME
    name = storage.save("sources/x.bin", ContentFile(os.urandom(size)))
    other = storage.save("sources/y.bin", ContentFile(os.urandom(size)))  # same key
    data = stored_bytes(name)
    head, frames = data[: encrypted_files._START], _frames(data)
    if damage == "flip":
        altered = bytearray(data)
        altered[encrypted_files._START + 100] ^= 1
    elif damage == "cut":
        altered = data[:-10]
    elif damage == "drop_last":
        altered = head + b"".join(frames[:-1])
    elif damage == "swap":
        altered = head + frames[1] + frames[0] + b"".join(frames[2:])
    else:  # frame 0 of another file under the same key, in its place
        altered = head + _frames(stored_bytes(other))[0] + b"".join(frames[1:])
    with open(storage.path(name), "wb") as out:
        out.write(altered)
    with pytest.raises(EncryptedFileError):
        read_back(name)


def _frames(data: bytes) -> list[bytes]:
    frames, at = [], encrypted_files._START
    while at < len(data):
        length = int.from_bytes(data[at : at + 4], "big")
        frames.append(data[at : at + 4 + length])
        at += 4 + length
    return frames


def test_rotation_moves_files_to_the_new_key_and_encrypts_older_clear_files(
    settings, documentalist
):
    source = with_file(documentalist)
    # A file stored before encryption: read as it is until rotation.
    clear = services.source_create(
        user=documentalist, case=source.case, kind="testimony", title="Antiguo", file=None
    )
    clear.file.name = "sources/antiguo.txt"
    with open(source_storage().path(clear.file.name), "wb") as out:
        out.write(SECRET)
    clear.save(update_fields=["file"])
    assert read_back(clear.file.name) == SECRET
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_key]
    Rotate(stdout=io.StringIO()).reencrypt_files()
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]  # the old key gone
    for name in (source.file.name, clear.file.name):
        assert stored_bytes(name).startswith(MAGIC) and b"Contreras" not in stored_bytes(name)
        assert read_back(name) == SECRET
    with pytest.raises(EncryptedFileError):
        settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
        read_back(source.file.name)


def test_verify_sources_names_a_file_that_no_longer_decrypts(documentalist):
    source = with_file(documentalist, b"texto")
    path = source_storage().path(source.file.name)
    data = bytearray(stored_bytes(source.file.name))
    data[-5] ^= 1
    with open(path, "wb") as out:
        out.write(data)
    with pytest.raises(Exception, match="1 with a problem|1 con un problema"):
        call_command("verify_sources", stdout=io.StringIO(), stderr=io.StringIO())


def test_the_source_file_view_serves_only_through_the_checks(client_for, reviewer, documentalist):
    source = with_file(documentalist, confidentiality="restricted")
    source.case.team.add(documentalist)
    assert (
        client_for(reviewer).get(reverse("source_file", args=[source.file.name])).status_code == 404
    )


@pytest.mark.parametrize("size", [0, 10, encrypted_files.FRAME, 2 * encrypted_files.FRAME + 7])
def test_a_stored_file_seeks_as_a_file_does(size):
    """Spreadsheets are read with seeks (openpyxl's zip reader)."""
    import random

    data = os.urandom(size)
    storage = source_storage()
    name = storage.save("sources/hoja.bin", ContentFile(data))
    with storage.open(name) as stored:
        assert stored.seek(0, io.SEEK_END) == size and stored.read() == b""
        for offset in random.Random(size).sample(range(size + 2), min(size + 2, 20)):
            stored.seek(offset)
            assert stored.read(100) == data[offset : offset + 100], offset
            assert stored.tell() == min(offset + 100, max(offset, size)) or offset > size
        stored.seek(-min(size, 5), io.SEEK_END)
        assert stored.read() == data[size - min(size, 5) :]


def test_rotation_reaches_earlier_files_and_names_a_damaged_one(settings, documentalist):
    source = with_file(documentalist, b"primera")
    earlier = source.file.name
    source.file = SimpleUploadedFile("segunda.txt", b"segunda")
    services.source_save(source=source, user=documentalist)
    damaged = with_file(documentalist, b"danado").file.name
    data = bytearray(stored_bytes(damaged))
    data[-5] ^= 1
    with open(source_storage().path(damaged), "wb") as out:
        out.write(data)
    mode = os.stat(source_storage().path(earlier)).st_mode
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_key]
    errors = io.StringIO()
    with pytest.raises(Exception, match="1 stored files|1 archivos guardados"):
        call_command("rotate_field_keys", stdout=io.StringIO(), stderr=errors)
    assert damaged in errors.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]
    # The file only the history names (the source's first) moved to the new key too.
    assert read_back(earlier) == b"primera" and read_back(source.file.name) == b"segunda"
    assert os.stat(source_storage().path(earlier)).st_mode == mode
