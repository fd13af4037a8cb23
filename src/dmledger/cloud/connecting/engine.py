"""Engines for the SQLite and PostgreSQL clouds, round-trip counting, and PostgreSQL
pipelines (several statements in one round trip).

Oracle's engine is made in ``oracle_connect.py``; driver errors are translated in
``cloud/driver_errors/``; cloud URLs are read in ``cloud/urls.py``.

Every cloud connection runs in UTC: PostgreSQL and Oracle sessions get their time
zone set, SQLite has no other. The embedded SQLite cloud gets WAL, a busy timeout
and foreign keys, like a real server would enforce them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from psycopg import Pipeline
from psycopg.rows import namedtuple_row
from psycopg.types.array import ListBinaryDumper
from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.sql.compiler import Compiled

from dmledger.cloud.urls import backend_of
from dmledger.errors import InvalidInput

log = logging.getLogger(__name__)

#: UTC sessions; a write waiting on a lock gives up after 30 s; no JIT: our statements
#: are short (a push, a page, a rollup read), and compiling one cost more than running
#: it (350 ms of JIT on a 10,000-lead push's 500 ms update, measured with EXPLAIN).
_PG_OPTIONS = "-c timezone=UTC -c lock_timeout=30000 -c jit=off"


def create_cloud_engine(
    url: str, *, password: str | None = None, connect_timeout: float = 10.0
) -> sa.Engine:
    """An Engine for a sqlite or postgresql cloud URL (Oracle: ``oracle_connect.py``).

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
        engine = sa.create_engine(
            parsed,
            pool_pre_ping=False,
            connect_args={
                "connect_timeout": max(1, int(connect_timeout)),
                "options": options,
                "application_name": "dmledger",
            },
        )
        event.listen(engine, "connect", _pg_on_connect)
        return engine
    raise InvalidInput("Oracle clouds are opened from the wallet settings, not a bare URL")


def _pg_on_connect(dbapi_connection: Any, _record: Any) -> None:
    """Lists (a push's one array per column) travel in the binary format: the text
    format quotes each element in Python (0.58 s against 0.09 s for six columns of
    10,000, round trip included, measured here)."""
    dbapi_connection.adapters.register_dumper(list, ListBinaryDumper)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


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


def pipelined(
    conn: sa.Connection, statements: Sequence[tuple[Compiled, dict[str, Any]]]
) -> list[list[Any]]:
    """Run compiled statements with their parameters on a PostgreSQL connection in one
    round trip (psycopg's pipeline mode), in order; each one's rows as named tuples
    (none for a statement without rows). In a transaction, its BEGIN goes along.

    The server runs them one after the other, each as a statement of its own: under
    READ COMMITTED each takes its own snapshot, so one that waits (``dmledger_settle``)
    lets the next see what committed meanwhile, as if it had been sent next. To the
    engine's listeners (``count_round_trips``, the fault tests' cuts) the pipeline is
    one cursor execution, which is what it costs. A driver error comes out as
    ``Connection.execute`` raises it: SQLAlchemy's DBAPIError, the connection
    invalidated when it broke. With a libpq too old for pipelines (before 14), the
    statements go one after the other, a round trip each.
    """
    if not Pipeline.is_supported():  # a libpq older than 14: one round trip each
        return [_one_by_one(conn, compiled, values) for compiled, values in statements]
    dialect = conn.dialect
    texts = [str(compiled) for compiled, _ in statements]
    params = [compiled.construct_params(values) for compiled, values in statements]
    joined = ";\n".join(texts)
    raw: Any = conn.connection.driver_connection  # a psycopg Connection
    dbapi_error: Any = dialect.loaded_dbapi.Error
    cursors = [raw.cursor(row_factory=namedtuple_row) for _ in texts]
    try:
        conn.dispatch.before_cursor_execute(conn, None, joined, params, None, False)
        with raw.pipeline():
            for cursor, sql, values in zip(cursors, texts, params, strict=True):
                cursor.execute(sql, values)
        # A statement that returns no rows (an INSERT, an UPDATE) gives an empty list.
        return [list(cursor.fetchall()) if cursor.description else [] for cursor in cursors]
    except dbapi_error as error:
        broken = bool(dialect.is_disconnect(error, raw, None))
        if broken:
            conn.invalidate(error)
        raise exc.DBAPIError.instance(
            joined, params, error, dbapi_error, connection_invalidated=broken, dialect=dialect
        ) from error
    finally:
        for cursor in cursors:
            cursor.close()


def _one_by_one(conn: sa.Connection, compiled: Compiled, values: dict[str, Any]) -> list[Any]:
    statement = compiled.statement
    assert isinstance(statement, sa.Executable)
    return list(conn.execute(statement, values).all())
