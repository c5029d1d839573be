"""How far a piece of background work has got, told to the pages that show it.

Kept in a small file per piece of work, beside the uploaded files (MEDIA_ROOT), not in the
database: an import writes inside one transaction, and what it wrote there, progress
included, is seen by no one until it ends (on SQLite, no one else could even write). Workers
on several machines share MEDIA_ROOT already, since they read the files people upload."""

import json
import os
import time
from pathlib import Path

from django.conf import settings


def progress_path(key: str) -> Path:
    return Path(settings.MEDIA_ROOT) / "progress" / f"{key}.json"


class FileProgress:
    """A progress callback (what, done, total) that writes where progress_read finds it: on
    each new stage and then at most every `every` seconds, so a stage of a million rows
    costs a few writes, not a million."""

    def __init__(self, key: str, every: float = 0.5):
        self.path = progress_path(str(key))
        self.every = every
        self._last_what, self._last_write = None, 0.0

    def __call__(self, what: str, done: int, total: int) -> None:
        now = time.monotonic()
        if what == self._last_what and now - self._last_write < self.every and done < total:
            return
        self._last_what, self._last_write = what, now
        self.path.parent.mkdir(parents=True, exist_ok=True)
        state = {"stage": str(what), "done": done, "total": total, "at": time.time()}
        # Written aside, then renamed: a page never reads half a file.
        aside = self.path.with_suffix(f".{os.getpid()}.tmp")
        aside.write_text(json.dumps(state), encoding="utf-8")
        aside.replace(self.path)


def progress_read(key: str) -> dict | None:
    """{"stage", "done", "total", "at" (seconds since the epoch)}, or None before the work
    reported anything."""
    try:
        return json.loads(progress_path(str(key)).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def progress_clear(key: str) -> None:
    progress_path(str(key)).unlink(missing_ok=True)
