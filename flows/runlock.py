"""One run at a time per database: an exclusive lock on a file beside it, held for the whole run.

DuckDB itself allows one writing process, but its error is cryptic and comes at a random step; the run lock
turns a second run into a clear, harmless no-op before it touches anything. The lock belongs to the process
(``flock``): a run killed with ``kill -9`` releases it with its death, so a crash never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.errors import UndercurrentError, UserError
from store.db import utc_now

EXIT_RUN_IN_PROGRESS = 75  # EX_TEMPFAIL: nothing was done, try again later
GRACE = 2.0  # seconds a run retries the lock before it calls it taken


class RunInProgress(UndercurrentError):
    """Another run holds this database; this one did nothing."""


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".run-lock")


@contextmanager
def run_lock(db: Path) -> Iterator[None]:
    try:
        handle = open(lock_path(db), "a+", encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot lock database {db} for a run: {exc.strerror}") from None
    deadline = time.monotonic() + GRACE
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() < deadline:  # perhaps a reader's probe (``holder``), which lasts microseconds
                time.sleep(0.05)
                continue
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunInProgress(f"another run is in progress on {db} ({holder}); this one did nothing") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {utc_now():%Y-%m-%d %H:%M:%S} UTC\n")
        handle.flush()
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def ensure_no_run(db: Path) -> None:
    """Raise RunInProgress when a run holds the database (checked and released at once)."""
    with run_lock(db):
        pass


def holder(db: Path) -> str | None:
    """Who holds the run lock of ``db`` ("pid …, started …"), or None when no run does. Never creates the file.

    The probe takes a shared lock for an instant; a run starting at that instant retries (``GRACE``)."""
    path = lock_path(db)
    try:
        handle = open(path, encoding="utf-8")
    except OSError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return handle.read().strip() or "another process"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None
