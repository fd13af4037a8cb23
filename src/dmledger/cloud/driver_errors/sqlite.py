"""sqlite3's errors, translated by their result code.

Python 3.11 gives every error SQLite raises its code (``error.sqlite_errorcode``,
extended, e.g. ``SQLITE_CONSTRAINT_TRIGGER``) and name (``sqlite_errorname``). The
primary code is the low byte of the extended one; one table below says what each
known primary code means for the sync (the kinds of ``driver_errors.Refusal``).

SQLite has one code, ``SQLITE_ERROR``, for every fault in a statement: a missing table
or column reads the same as a syntax error. Only there the message is read (see
:data:`_SCHEMA_WORDS`).
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dmledger.cloud.driver_errors.kinds import Refusal

_BY_CODE: dict[int, Refusal] = {
    sqlite3.SQLITE_BUSY: "busy",  # another connection holds the write lock
    sqlite3.SQLITE_LOCKED: "busy",  # a table is locked by this connection's other work
    sqlite3.SQLITE_CANTOPEN: "unreachable",  # the cloud file cannot be opened
    sqlite3.SQLITE_IOERR: "unreachable",  # the disk (or network share) failed
    sqlite3.SQLITE_READONLY: "right",  # the file is read-only to this process
    sqlite3.SQLITE_PERM: "right",
    sqlite3.SQLITE_AUTH: "right",
    sqlite3.SQLITE_CONSTRAINT: "row",  # unique, check, not null, foreign key, trigger
    sqlite3.SQLITE_TOOBIG: "row",
    sqlite3.SQLITE_MISMATCH: "row",
    sqlite3.SQLITE_CORRUPT: "other",  # a damaged file: stop, set nothing aside
    sqlite3.SQLITE_NOTADB: "other",  # not a database file at all
    sqlite3.SQLITE_FULL: "other",
}

# Read only under SQLITE_ERROR, which carries no finer code (see the module notes).
_SCHEMA_WORDS = ("no such table", "no such column", "has no column named")


def classify_sqlite(error: BaseException) -> Refusal | None:
    """The kind of a sqlite3 error, from its result code (None: not sqlite3's error)."""
    if not isinstance(error, sqlite3.Error):
        return None
    code = getattr(error, "sqlite_errorcode", None)
    if not isinstance(code, int):
        return "other"  # raised by the sqlite3 module itself (a closed connection …)
    primary = code & 0xFF
    if primary == sqlite3.SQLITE_ERROR:
        lowered = str(error).lower()
        return "schema" if any(words in lowered for words in _SCHEMA_WORDS) else "other"
    return _BY_CODE.get(primary, "other")
