"""Files encrypted at rest under FIELD_ENCRYPTION_KEYS (core.encryption), streamed: a file is
written and read one frame at a time, so a large scan is never held whole in memory.

A stored file is MAGIC and a random id of its own, then frames: each a 4-byte length and a
Fernet token (AES-128-CBC and HMAC-SHA256) of the file's id, its index, whether it is the
last, and up to FRAME bytes of the file. A frame changed, removed, repeated, moved, or taken
from another file, or a file cut short, does not read back
(`EncryptedFileError`), and `verify_sources` reports it. Files stored before encryption (no
MAGIC) are read as they are until `rotate_field_keys` encrypts them; it also re-encrypts every
encrypted file under the newest key, frame by frame."""

import contextlib
import io
import os
import stat
import struct
import tempfile

from cryptography.fernet import InvalidToken
from django.core.files.base import File
from django.core.files.storage import FileSystemStorage

from core.encryption import FieldDecryptionError, fernet

MAGIC = b"DEFENSORES-ENC1\n"
FRAME = 256 * 1024
_ID = 16  # bytes of a file's random id
_HEAD = struct.Struct(f">{_ID}sQB")  # the file's id, the frame's index, 1 if last
_START = len(MAGIC) + _ID
_LENGTH = struct.Struct(">I")


class EncryptedFileError(FieldDecryptionError):
    """A stored file that does not decrypt: altered, cut short, or under a missing key."""


def _frames(chunks, file_id: bytes | None = None):
    """MAGIC, the file's id, then the encrypted frames of a stream of plaintext pieces. A
    frame is written once more bytes are known to follow it, so the last one says so."""
    box, file_id = fernet(), file_id or os.urandom(_ID)
    yield MAGIC + file_id
    index, buffer = 0, b""
    for piece in chunks:
        buffer += piece
        while len(buffer) > FRAME:
            yield _frame(box, file_id, index, buffer[:FRAME], last=False)
            index, buffer = index + 1, buffer[FRAME:]
    yield _frame(box, file_id, index, buffer, last=True)


def _frame(box, file_id: bytes, index: int, data: bytes, *, last: bool) -> bytes:
    token = box.encrypt(_HEAD.pack(file_id, index, int(last)) + data)
    return _LENGTH.pack(len(token)) + token


class _EncryptingContent:
    """What FileSystemStorage._save writes: the content's chunks, encrypted. (Deliberately
    no temporary_file_path: the storage would move the clear upload into place.)"""

    def __init__(self, content):
        self.content = content

    def chunks(self, chunk_size=None):
        if hasattr(self.content, "seek"):
            self.content.seek(0)
        return _frames(self.content.chunks())


def _read_frames(raw, file_id: bytes):
    """Each frame's (index, last, data, token) from a stored file, from where `raw` is."""
    while True:
        length = raw.read(_LENGTH.size)
        if not length:
            return
        if len(length) < _LENGTH.size:
            raise EncryptedFileError("A stored file was cut short.")
        token = raw.read(_LENGTH.unpack(length)[0])
        try:
            plain = fernet().decrypt(token)
        except InvalidToken:
            raise EncryptedFileError(
                "A stored file does not decrypt: it was altered, or its key is missing."
            ) from None
        owner, index, last = _HEAD.unpack_from(plain)
        if owner != file_id:
            raise EncryptedFileError("A stored file holds a part of another file.")
        yield index, bool(last), plain[_HEAD.size :], token


def _token_length(plain: int) -> int:
    """The length of a Fernet token of `plain` bytes: version, time, IV, the padded
    ciphertext and the HMAC, in base64."""
    raw = 1 + 8 + 16 + 16 * (plain // 16 + 1) + 32
    return 4 * -(-raw // 3)


# Every frame but the last holds FRAME bytes, so frame i starts at a known place.
_FULL = _LENGTH.size + _token_length(_HEAD.size + FRAME)


class _DecryptingReader(io.RawIOBase):
    """The file as given, decrypted a frame at a time; it may seek (a spreadsheet's reader
    does) by going to the frame that holds the place."""

    def __init__(self, raw, file_id: bytes):
        self.raw, self.file_id = raw, file_id
        self.pending, self.expected, self.ended, self.position = b"", 0, False, 0
        self.frames = _read_frames(raw, file_id)

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.position

    def _next(self):
        frame = next(self.frames, None)
        if frame is None:
            raise EncryptedFileError("A stored file was cut short.")
        index, last, data, _token = frame
        if index != self.expected:
            raise EncryptedFileError("A stored file's parts were moved or removed.")
        if not last and len(data) != FRAME:
            raise EncryptedFileError("A stored file's parts were changed.")
        self.expected += 1
        return data, last

    def readinto(self, target):
        while not self.pending and not self.ended:
            self.pending, self.ended = self._next()
        if self.ended and not self.pending and next(self.frames, None) is not None:
            raise EncryptedFileError("A stored file has parts after its end.")
        size = min(len(target), len(self.pending))
        target[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        self.position += size
        return size

    def _go_to_frame(self, index: int) -> None:
        self.raw.seek(_START + index * _FULL)
        self.frames = _read_frames(self.raw, self.file_id)
        self.expected, self.pending, self.ended = index, b"", False

    def size(self) -> int:
        stored = os.fstat(self.raw.fileno()).st_size - _START
        count = max(1, -(-stored // _FULL))
        self._go_to_frame(count - 1)
        data, last = self._next()
        if not last:
            raise EncryptedFileError("A stored file was cut short.")
        return (count - 1) * FRAME + len(data)

    def seek(self, offset, whence=io.SEEK_SET):
        if whence == io.SEEK_CUR:
            offset += self.position
        elif whence == io.SEEK_END:
            offset += self.size()
        if offset < 0:
            raise ValueError("negative seek position")
        stored = os.fstat(self.raw.fileno()).st_size - _START
        if offset // FRAME >= -(-stored // _FULL):  # past the end: reads give nothing
            self.pending, self.ended, self.position = b"", True, offset
            self.frames = iter(())
            return offset
        self._go_to_frame(offset // FRAME)
        data, last = self._next()
        self.pending, self.ended = data[offset % FRAME :], last
        self.position = offset
        return offset

    def close(self):
        self.raw.close()
        super().close()


def open_plain(path: str):
    """A stored file, read as it was given: decrypted as it is read, or as it is if it was
    stored before encryption."""
    raw = open(path, "rb")  # noqa: SIM115  (closed by the reader)
    if raw.read(len(MAGIC)) != MAGIC:
        raw.seek(0)
        return raw
    file_id = raw.read(_ID)
    return io.BufferedReader(_DecryptingReader(raw, file_id), buffer_size=FRAME)


class EncryptedFileSystemStorage(FileSystemStorage):
    def _save(self, name, content):
        return super()._save(name, _EncryptingContent(content))

    def _open(self, name, mode="rb"):
        if "w" in mode or "a" in mode or "+" in mode:
            raise ValueError("Stored files are written through save() only.")
        return File(open_plain(self.path(name)), name)

    def encrypted(self, name: str) -> bool:
        with open(self.path(name), "rb") as raw:
            return raw.read(len(MAGIC)) == MAGIC

    def reencrypt(self, name: str) -> None:
        """Encrypt the file under the newest key (and a file stored in clear at all), frame by
        frame into a file beside it that then replaces it."""
        path = self.path(name)
        folder = os.path.dirname(path)
        with tempfile.NamedTemporaryFile(dir=folder, delete=False) as out:
            try:
                if self.encrypted(name):
                    box = fernet()
                    with open(path, "rb") as raw:
                        file_id = raw.read(_START)[len(MAGIC) :]
                        out.write(MAGIC + file_id)
                        for _index, _last, _data, token in _read_frames(raw, file_id):
                            fresh = box.rotate(token)
                            out.write(_LENGTH.pack(len(fresh)) + fresh)
                else:
                    with open(path, "rb") as raw:
                        for frame in _frames(iter(lambda: raw.read(FRAME), b"")):
                            out.write(frame)
                out.flush()
                os.fsync(out.fileno())
            except BaseException:
                os.unlink(out.name)
                raise
        # The new file takes the old one's mode and, where allowed, its owner: the command
        # may run as another account than the application.
        old = os.stat(path)
        os.chmod(out.name, self.file_permissions_mode or stat.S_IMODE(old.st_mode))
        with contextlib.suppress(PermissionError):
            os.chown(out.name, old.st_uid, old.st_gid)
        os.replace(out.name, path)
