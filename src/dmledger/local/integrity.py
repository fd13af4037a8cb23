"""Is the local store sound? The quick check at open, the full check, and the one
translation of SQLite's "damaged" and "disk full" errors into DM Ledger's.

Standard library only: ``dmledger today --json`` and the native host run the quick
check before anything heavy is imported.

The quick check reads no page but the first: SQLite's header (its magic, page size,
page count against the file's size), the write-ahead log beside it (a ``-shm`` whose
index counts frames of a ``-wal`` that is gone), and, once SQLite has the file open,
the names of its tables (``check_tables``). Damage deeper in the file is met when a
statement reads it: :func:`translated` turns that error, wherever it is met, into the
same message.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import os
import shutil
import sqlite3
import struct
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from dmledger.errors import DiskFull, DmLedgerError, StoreDamaged

MAGIC = b"SQLite format 3\x00"
REPAIR = (
    "run `dmledger repair`: it keeps the damaged file, salvages every queued DM and edit "
    "it can read, adds what the newest backup holds, and rebuilds the store "
    "(`dmledger repair --check` only checks)"
)
#: The tables every DM Ledger store has had since the seed (a file without them is
#: another program's SQLite database).
LEDGER_TABLES = frozenset({"meta", "outreach_logs"})
#: The tables holding what exists nowhere else until a sync: checked by ``status``.
QUEUE_TABLES = ("meta", "outreach_logs", "outbox", "team_outbox")
#: The least room a write asks for (see ``needed_free``).
NEEDED_FREE = 8_000_000


class DamagedValue(ValueError):
    """A value read from the store is not of the kind DM Ledger writes there: damage
    inside a row, which SQLite's checks do not see. The store's reads turn it into
    ``StoreDamaged`` naming the file (:func:`translated`)."""


_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB (extended codes keep the low byte)
_FULL_CODE = 13  # SQLITE_FULL
_IOERR_CODE = 10  # SQLITE_IOERR: on a full disk, for the -shm or a short write
_CORRUPT_WORDS = (
    "malformed",
    "not a database",
    "database corrupt",
    "disk image",
    "could not decode to utf-8",
)


def damaged(path: Path, what: str) -> StoreDamaged:
    """The one message for a store that cannot be trusted."""
    return StoreDamaged(
        f"the local store {path} is damaged: {what}. To fix it, {REPAIR}", path=str(path)
    )


def disk_full(path: Path) -> DiskFull:
    """The one message for a write that found the disk full."""
    return DiskFull(
        f"the disk holding {path.parent} (mounted at {mount_point(path)}) is full: "
        f"{_mb(_free(path))} free, DM Ledger needs at least {_mb(needed_free(path))} there. "
        "This write was not made and what was queued before is intact: free some space "
        "and try again"
    )


def needed_free(path: Path) -> int:
    """Room to ask for: SQLite's write-ahead log grows by what a write changes and is
    folded into the file at checkpoints; 8 MB, or a tenth of the store, whichever is
    more, covers every write but a big team's first full pull (~500 bytes a lead)."""
    size = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(OSError):
            size += Path(f"{path}{suffix}").stat().st_size
    return max(NEEDED_FREE, size // 10)


def _free(path: Path) -> int:
    try:
        return shutil.disk_usage(mount_point(path)).free
    except OSError:
        return 0


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{size // 1000} kB"


def mount_point(path: Path) -> Path:
    found = path.resolve()
    while not os.path.ismount(found) and found.parent != found:
        found = found.parent
    return found


def translated(error: BaseException, path: Path) -> DmLedgerError | None:
    """DM Ledger's error for a SQLite (or OS) error met on ``path``, or None when it is
    neither damage nor a full disk."""
    if isinstance(error, DmLedgerError):
        return error
    if isinstance(error, DamagedValue):
        return damaged(path, str(error))
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return disk_full(path)
    if not isinstance(error, sqlite3.DatabaseError):
        return None
    code = getattr(error, "sqlite_errorcode", None)
    text = str(error).lower()
    if (code is not None and code & 0xFF == _FULL_CODE) or "database or disk is full" in text:
        return disk_full(path)
    if ((code is not None and code & 0xFF == _IOERR_CODE) or "disk i/o error" in text) and (
        _free(path) < needed_free(path)
    ):
        return disk_full(path)  # growing the -wal or mapping the -shm found no room
    if (code is not None and code & 0xFF in _CORRUPT_CODES) or any(
        w in text for w in _CORRUPT_WORDS
    ):
        return damaged(path, f"SQLite says {error}")
    return None


@contextlib.contextmanager
def translating(path: Path) -> Iterator[None]:
    """Raise DM Ledger's error for damage or a full disk met inside (plain ``sqlite3``)."""
    try:
        yield
    except (sqlite3.DatabaseError, OSError, DamagedValue) as error:
        found = translated(error, path)
        if found is None:
            raise
        raise found from error


# -- the quick check ---------------------------------------------------------------


# SQLite's locks on a file are POSIX advisory locks, and those belong to the process:
# closing ANY descriptor of the file (or of its -shm) drops every lock the process
# holds on it, the SQLite connections' included, and a connection whose locks went
# meets "disk I/O error" or worse. So the quick check, which reads the file and its
# -shm through descriptors of its own, runs only while this process has no SQLite
# connection on that store; once one is open, SQLite itself is the judge (its errors
# are translated below). Stores and backup copies say when they hold the file.
_held: collections.Counter[str] = collections.Counter()
_held_lock = threading.Lock()


def _key(path: Path) -> str:
    return os.path.realpath(path)


def hold(path: Path) -> None:
    """This process now has (or is about to open) an SQLite connection on ``path``."""
    with _held_lock:
        _held[_key(path)] += 1


def release(path: Path) -> None:
    """One connection of this process on ``path`` (see :func:`hold`) is closed."""
    with _held_lock:
        key = _key(path)
        if _held[key] <= 1:
            del _held[key]
        else:
            _held[key] -= 1


def held(path: Path) -> bool:
    with _held_lock:
        return _held[_key(path)] > 0


def quick_check(path: Path) -> None:
    """StoreDamaged when the file's header or its write-ahead log says it is damaged.
    A missing file passes (it is made on first open). Costs a stat and two short reads.
    Skipped while this process holds the store open (see :func:`hold`): its reads
    would drop the open connections' locks."""
    if held(path):
        return
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    wal = Path(f"{path}-wal")
    wal_size = wal.stat().st_size if wal.exists() else None
    _check_wal_present(path, wal_size)
    if size == 0:
        if not wal_size:
            raise damaged(path, "the file is empty (0 bytes): it was truncated")
        return  # made, its first transaction still in the write-ahead log
    with path.open("rb") as f:
        head = f.read(100)
    if len(head) < 100 or head[:16] != MAGIC:
        raise damaged(
            path,
            "it does not start with SQLite's header: its first page is damaged, or it is "
            "not a SQLite database at all",
        )
    (raw_page,) = struct.unpack(">H", head[16:18])
    page = 65536 if raw_page == 1 else raw_page
    if page < 512 or page & (page - 1):
        raise damaged(path, f"its header names a page size of {raw_page} bytes")
    if size % page:
        raise damaged(
            path,
            f"its size ({size} bytes) is not a whole number of {page}-byte pages: it was "
            "truncated or written over",
        )
    changes, pages = struct.unpack(">II", head[24:32])
    (valid_for,) = struct.unpack(">I", head[92:96])
    if changes == valid_for and pages * page > size and not wal_size:
        raise damaged(
            path,
            f"it holds {size // page} pages where its header counts {pages}: it was truncated",
        )


def _check_wal_present(path: Path, wal_size: int | None) -> None:
    """A ``-shm`` whose index counts frames while the ``-wal`` they are in is gone: the
    changes since the last checkpoint were lost with it (SQLite would open the file
    without them and say nothing)."""
    if wal_size is not None:
        return
    try:
        with open(f"{path}-shm", "rb") as f:
            index = f.read(96)
    except OSError:
        return
    if len(index) < 96 or index[:48] != index[48:96]:
        return
    order = "<" if sys.byteorder == "little" else ">"
    is_init = index[12]
    (frames,) = struct.unpack(order + "I", index[16:20])
    if is_init and frames:
        raise damaged(
            path,
            f"its write-ahead log ({path.name}-wal) is missing while the index beside it "
            f"counts {frames} pages of changes in it: those changes are not in the file",
        )


def check_tables(path: Path, names: Iterable[str]) -> None:
    """StoreDamaged for a file with tables that is not a DM Ledger store."""
    present = set(names)
    if present and not present >= LEDGER_TABLES:
        shown = ", ".join(sorted(present)[:6]) + (", …" if len(present) > 6 else "")
        raise damaged(
            path, f"it is not a DM Ledger store (another program's SQLite file: tables {shown})"
        )


# -- the full check ----------------------------------------------------------------


def integrity_problems(path: Path, *, limit: int = 20) -> list[str]:
    """SQLite's ``PRAGMA integrity_check`` of the whole file (read-only): its findings,
    empty when the file is sound. Reads every page: seconds for a million leads."""
    try:
        quick_check(path)
    except StoreDamaged as error:
        return [str(error).split(". To fix it", 1)[0].split(" is damaged: ", 1)[-1]]
    if not path.exists():
        return []
    try:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            check_tables(path, tables)
            rows = db.execute(f"PRAGMA integrity_check({int(limit)})").fetchall()
            found = _findings(rows) or content_problems(db, tables, limit=limit)
        finally:
            db.close()
    except StoreDamaged as error:
        return [str(error).split(". To fix it", 1)[0].split(" is damaged: ", 1)[-1]]
    except sqlite3.DatabaseError as error:
        return [f"SQLite says {error}"]
    return found


#: Columns holding ISO 8601 times (text DM Ledger writes with ``iso()``).
TIME_COLUMNS = frozenset(
    {"timestamp", "created_at", "failed_at", "first_contacted", "last_updated", "last_dm_at",
     "last_reply_at", "follow_up_at", "due_at", "at", "fetched_at"}
)  # fmt: skip


def content_problems(db: sqlite3.Connection, tables: list[str], *, limit: int = 20) -> list[str]:
    """Values SQLite's check does not look at: text that is not UTF-8, a value of
    another kind than its column's, a time that does not parse. Every row of DM
    Ledger's tables is read (the search index's are SQLite's own)."""
    found: list[str] = []
    db.text_factory = bytes
    try:
        for table in tables:
            if table.startswith(("sqlite_", "prospects_fts")):
                continue
            info = db.execute(f'PRAGMA table_info("{table}")').fetchall()
            names = [str(r[1].decode() if isinstance(r[1], bytes) else r[1]) for r in info]
            kinds = [str(r[2].decode() if isinstance(r[2], bytes) else r[2]).upper() for r in info]
            picks = ", ".join(f'"{n}", typeof("{n}")' for n in names)
            for row in db.execute(f'SELECT rowid, {picks} FROM "{table}"'):
                problem = _row_problem(names, kinds, row)
                if problem:
                    found.append(f"{table} row {row[0]}: {problem}")
                    if len(found) >= limit:
                        return found
    finally:
        db.text_factory = str
    return found


def _row_problem(names: list[str], kinds: list[str], row: tuple[object, ...]) -> str | None:
    from datetime import datetime

    for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        value, typeof = row[1 + 2 * i], row[2 + 2 * i]
        typeof = typeof.decode() if isinstance(typeof, bytes) else typeof
        if typeof == "null":
            continue
        expected = (
            "integer" if kind == "INTEGER" else "text" if kind in ("TEXT", "VARCHAR") else None
        )
        if expected and typeof != expected:
            return f"{name} holds a {typeof}, not {expected}"
        if typeof == "text":
            assert isinstance(value, bytes)
            try:
                text = value.decode("utf-8")
            except UnicodeDecodeError:
                return f"{name} holds text that is not UTF-8"
            if name in TIME_COLUMNS:
                try:
                    datetime.fromisoformat(text)
                except ValueError:
                    return f"{name} holds {text[:40]!r}, not a time"
    return None


def _findings(rows: list[tuple[object, ...]]) -> list[str]:
    """SQLite's check answer as lines for a person (empty when it says "ok")."""
    found = [line for r in rows for line in str(r[0]).splitlines()]
    return [] if found == ["ok"] else [f for f in found if not f.startswith("*** in database")]


def check_queue(db: sqlite3.Connection, path: Path) -> None:
    """StoreDamaged when a table holding queued work fails SQLite's quick check (each
    table and its indexes only: milliseconds for thousands of queued DMs)."""
    for table in QUEUE_TABLES:
        with translating(path):
            rows = db.execute(f"PRAGMA quick_check({table})").fetchall()
        found = _findings(rows)
        if found:
            raise damaged(path, f"its {table} table fails SQLite's check ({found[0]})")


def holder_of(path: Path) -> int | None:
    """The id of another process that has this store open, if one has (SQLite's WAL
    readers hold a shared lock on byte 128 of the ``-shm`` file while open)."""
    if os.name != "posix":
        return None
    import fcntl

    try:
        fd = os.open(f"{path}-shm", os.O_RDWR)
    except OSError:
        return None
    try:
        query = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, 128, 1, 0)
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
        kind, _whence, _start, _len, pid = struct.unpack("hhqqi", answer)
        return None if kind == fcntl.F_UNLCK else pid
    except OSError:
        return None
    finally:
        os.close(fd)
