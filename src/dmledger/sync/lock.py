"""One sync at a time per home, across processes (web server, CLI, watch loop).

An advisory ``flock`` on ``sync.lock`` in the home: the kernel releases it when the
holder dies, even by SIGKILL, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from dmledger.errors import SyncBusy


@contextlib.contextmanager
def sync_lock(home: Path, *, wait: bool = False) -> Iterator[None]:
    """Hold the home's sync lock; SyncBusy at once if another process has it (unless ``wait``)."""
    path = home / "sync.lock"
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        flags = fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB
        try:
            fcntl.flock(descriptor, flags)
        except BlockingIOError:
            raise SyncBusy(
                f"another DM Ledger process is syncing {home} right now; try again in a moment"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)
