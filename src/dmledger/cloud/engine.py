"""Engines for the three backends, error translation, and round-trip counting.

Every cloud connection runs in UTC: PostgreSQL and Oracle sessions get their time
zone set, SQLite has no other. The embedded SQLite cloud gets WAL, a busy timeout
and foreign keys, like a real server would enforce them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import make_url

from dmledger.errors import (
    CloudError,
    CloudPermissionDenied,
    CloudUnavailable,
    InvalidInput,
)

log = logging.getLogger(__name__)

SUPPORTED_SCHEMES = ("sqlite", "postgresql", "oracle")
_PG_OPTIONS = "-c timezone=UTC -c lock_timeout=30000"


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``, safe to print or log."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return "<unparseable URL>"


def backend_of(url: str) -> str:
    """``sqlite``, ``postgresql`` or ``oracle``; InvalidInput for anything else."""
    try:
        name = make_url(url).get_backend_name()
    except exc.ArgumentError:
        raise InvalidInput(
            f"cloud URL {redact_url(url)!r} is not a database URL: expected e.g. "
            "sqlite:///PATH, postgresql+psycopg://USER@HOST/DB or oracle+oracledb://USER@ALIAS"
        ) from None
    if name not in SUPPORTED_SCHEMES:
        raise InvalidInput(
            f"cloud URL {redact_url(url)!r} uses {name!r}: supported are "
            + ", ".join(SUPPORTED_SCHEMES)
        )
    return name


def create_cloud_engine(
    url: str, *, password: str | None = None, connect_timeout: float = 10.0
) -> sa.Engine:
    """An Engine for a sqlite or postgresql cloud URL (Oracle goes through ``oracle.py``).

    ``password`` (from the environment or the keyring) is added to the URL in memory
    only. Does not connect.
    """
    backend = backend_of(url)
    parsed = make_url(url)
    if password is not None and parsed.password is None:
        parsed = parsed.set(password=password)
    if backend == "sqlite":
        engine = sa.create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        # Sessions run in UTC, and a write waiting on a lock gives up after 30 s
        # (the sync retries later) instead of hanging. Options in the URL are kept.
        given = parsed.query.get("options")
        options = " ".join(
            part for part in ((given if isinstance(given, str) else None), _PG_OPTIONS) if part
        )
        parsed = parsed.difference_update_query(["options"])
        return sa.create_engine(
            parsed,
            pool_pre_ping=False,
            connect_args={
                "connect_timeout": max(1, int(connect_timeout)),
                "options": options,
                "application_name": "dmledger",
            },
        )
    raise InvalidInput("Oracle clouds are opened from the wallet settings, not a bare URL")


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def translate(error: BaseException, url: str) -> CloudError:
    """Turn a driver or SQLAlchemy error into a DM Ledger error a person can act on."""
    where = redact_url(url)
    if isinstance(error, CloudError):
        return error
    if isinstance(error, exc.DBAPIError):
        original = error.orig
        text = str(original).strip().splitlines()[0] if original is not None else str(error)
        if error.connection_invalidated or _is_unreachable(error):
            return CloudUnavailable(f"cloud {where} is unreachable: {text}")
        sqlstate = getattr(original, "sqlstate", None)
        if _is_transient(sqlstate, text):
            # Nothing is wrong with the data: a refusal here would set good rows aside.
            return CloudUnavailable(f"cloud {where} is busy, try again: {text}")
        if sqlstate == "42501" or "permission denied" in text.lower() or "ORA-01031" in text:
            return CloudPermissionDenied(
                f"the cloud user is not allowed to do this ({text}); "
                "ask the team lead for a user with more rights"
            )
        return CloudError(f"cloud {where} refused the statement: {text}")
    if isinstance(error, OSError | exc.TimeoutError):
        return CloudUnavailable(f"cloud {where} is unreachable: {error}")
    return CloudError(f"cloud {where}: {error}")


def _is_unreachable(error: exc.DBAPIError) -> bool:
    if isinstance(error, exc.OperationalError):
        text = str(error.orig).lower()
        refused_words = (
            "connection",
            "could not",
            "timeout",
            "timed out",
            "server closed",
            "terminat",
            "unable to open database",
            "no such host",
            "network",
            "eof",
            "ssl",
            "consuming input failed",
        )
        return any(word in text for word in refused_words)
    return False


_TRANSIENT_SQLSTATES = ("40001", "40P01", "55P03")  # serialization, deadlock, lock wait
_TRANSIENT_WORDS = ("ora-00060", "ora-08177", "database is locked", "database table is locked")


def _is_transient(sqlstate: object, text: str) -> bool:
    """A deadlock, serialization failure or lock wait: the same statement may pass later."""
    lowered = text.lower()
    return sqlstate in _TRANSIENT_SQLSTATES or any(w in lowered for w in _TRANSIENT_WORDS)


def is_row_refusal(error: exc.DBAPIError) -> bool:
    """True when the database refused the data itself, not the connection.

    Such a batch is split to find the rows to set aside; anything else aborts the
    sync and is retried later with the queue intact.
    """
    if error.connection_invalidated or _is_unreachable(error):
        return False
    return isinstance(
        error,
        exc.IntegrityError
        | exc.DataError
        | exc.InternalError
        | exc.ProgrammingError
        | exc.DatabaseError,
    ) and not isinstance(error, exc.OperationalError)


@dataclass
class RoundTrips:
    """Statements and commits sent on an engine's connections while counting."""

    statements: int = 0
    commits: int = 0

    @property
    def total(self) -> int:
        return self.statements + self.commits


@contextlib.contextmanager
def count_round_trips(engine: sa.Engine) -> Iterator[RoundTrips]:
    """Count the cloud round trips made inside the block (an executemany counts once)."""
    counts = RoundTrips()

    def on_execute(*_args: object) -> None:
        counts.statements += 1

    def on_commit(_conn: object) -> None:
        counts.commits += 1

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "commit", on_commit)
    try:
        yield counts
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "commit", on_commit)
