"""Files encrypted at rest under FIELD_ENCRYPTION_KEYS (core.encryption), streamed: a file is
written and read one frame at a time, so a large scan is never held whole in memory.

A stored file is MAGIC, then frames: each a 4-byte length and a Fernet token (AES-128-CBC and
HMAC-SHA256) of its index, whether it is the last, and up to FRAME bytes of the file. A frame
changed, removed, repeated or moved, or a file cut short, does not read back
(`EncryptedFileError`), and `verify_sources` reports it. Files stored before encryption (no
MAGIC) are read as they are until `rotate_field_keys` encrypts them; it also re-encrypts every
encrypted file under the newest key, frame by frame."""

import io
import os
import struct
import tempfile

from cryptography.fernet import InvalidToken
from django.core.files.base import File
from django.core.files.storage import FileSystemStorage

from core.encryption import FieldDecryptionError, fernet

MAGIC = b"DEFENSORES-ENC1\n"
FRAME = 256 * 1024
_HEAD = struct.Struct(">QB")  # frame index, 1 if last
_LENGTH = struct.Struct(">I")


class EncryptedFileError(FieldDecryptionError):
    """A stored file that does not decrypt: altered, cut short, or under a missing key."""


def _frames(chunks):
    """The encrypted frames of a stream of plaintext pieces (MAGIC first). A frame is
    written once more bytes are known to follow it, so the last one says so."""
    box = fernet()
    yield MAGIC
    index, buffer = 0, b""
    for piece in chunks:
        buffer += piece
        while len(buffer) > FRAME:
            yield _frame(box, index, buffer[:FRAME], last=False)
            index, buffer = index + 1, buffer[FRAME:]
    yield _frame(box, index, buffer, last=True)


def _frame(box, index: int, data: bytes, *, last: bool) -> bytes:
    token = box.encrypt(_HEAD.pack(index, int(last)) + data)
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


def _read_frames(raw):
    """Each frame's (index, last, data) from a stored file after its MAGIC."""
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
        index, last = _HEAD.unpack_from(plain)
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

    def __init__(self, raw):
        self.raw, self.pending, self.expected, self.ended = raw, b"", 0, False
        self.position = 0
        self.frames = _read_frames(raw)

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
        self.raw.seek(len(MAGIC) + index * _FULL)
        self.frames = _read_frames(self.raw)
        self.expected, self.pending, self.ended = index, b"", False

    def size(self) -> int:
        stored = os.fstat(self.raw.fileno()).st_size - len(MAGIC)
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
        stored = os.fstat(self.raw.fileno()).st_size - len(MAGIC)
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
    return io.BufferedReader(_DecryptingReader(raw), buffer_size=FRAME)


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
                        raw.read(len(MAGIC))
                        out.write(MAGIC)
                        for _index, _last, _data, token in _read_frames(raw):
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
        if self.file_permissions_mode is not None:
            os.chmod(out.name, self.file_permissions_mode)
        os.replace(out.name, path)
