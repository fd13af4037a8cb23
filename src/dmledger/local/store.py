"""The local store: ``local_data.db`` in the home, answering instantly, online or offline.

One SQLite file in WAL mode with a busy timeout, so the web server, a CLI command
and the sync loop can use it at once. Writes go through ``transaction()`` (``BEGIN
IMMEDIATE``: a read-then-write unit never loses a race halfway); reads go through
``reading()`` and take no lock.

The store is one class, ``LocalStore``, put together from one module per idea:
``base`` (meta), ``cache`` (writes and the pull), ``search`` (reads), ``queue`` (the
journal of DMs and edits not yet pushed) and ``people`` (people and Team caches).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from dmledger.domain.timeutil import iso
from dmledger.local import backup, integrity, schema
from dmledger.local import meta_keys as keys
from dmledger.local.cache import CacheWrites
from dmledger.local.indexing import FTS_CHUNK, IndexBuilds
from dmledger.local.people import PeopleCache
from dmledger.local.queue import Journal, QueueCounts

# The file is named in the light reader (`dmledger today` opens it without this class).
from dmledger.local.reader import DB_NAME
from dmledger.local.rows import _prospect, follow_up_values, from_iso, journal_order
from dmledger.local.schema import meta, prospects
from dmledger.local.search import LeadReads, ProspectFilter

__all__ = [
    "DB_NAME",
    "LocalStore",
    "ProspectFilter",
    "QueueCounts",
    "_prospect",
    "follow_up_values",
    "from_iso",
    "iso",
    "journal_order",
]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (rows indexed, rows)


class LocalStore(CacheWrites, IndexBuilds, LeadReads, Journal, PeopleCache):
    """``local_data.db``; created with its tables on first open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        integrity.quick_check(path)  # before SQLite opens it (and maybe resets its -shm)
        integrity.hold(path)  # from now on no descriptor of ours may close under SQLite
        self._held = True
        self.engine = sa.create_engine(
            f"sqlite:///{path}",
            connect_args={"timeout": 30, "isolation_level": None, "check_same_thread": False},
            # Insert counts (new vs already known) come from rowcount.
            execution_options={"preserve_rowcount": True},
        )
        event.listen(self.engine, "connect", _on_connect)
        event.listen(self.engine, "begin", _on_begin)
        event.listen(self.engine, "handle_error", self._on_error)
        # A backup when one is due and work is queued: at open (serve, the host, a
        # command starting) and after writes (local/backup.py), in a daemon thread.
        self.backups = backup.Schedule(path)
        self._create()

    @classmethod
    def in_home(cls, home: Path) -> LocalStore:
        return cls(home / DB_NAME)

    def _on_error(self, context: sa.engine.ExceptionContext) -> None:
        # Damage or a full disk met by any statement, at open or mid-command, becomes
        # the one message that names the file and the way out (local/integrity.py).
        found = integrity.translated(context.original_exception, self.path)
        if found is not None:
            raise found from context.original_exception

    def _create(self) -> None:
        with self.transaction() as conn:
            integrity.check_tables(
                self.path,
                (
                    r[0]
                    for r in conn.exec_driver_sql(
                        "SELECT name FROM sqlite_master WHERE type='table'"
                    )
                ),
            )
            schema.metadata.create_all(conn)
            for table, column in schema.ADDED_COLUMNS:
                present = {r[1] for r in conn.exec_driver_sql(f"PRAGMA table_info({table.name})")}
                if column.name not in present:
                    # A cache made by an older agent: the new columns start empty.
                    conn.exec_driver_sql(
                        f"ALTER TABLE {table.name} ADD COLUMN {column.name} "
                        f"{column.type.compile(dialect=conn.dialect)}"
                    )
                    if column is prospects.c.due_at:
                        # The follow-up figures come from the cloud: read every row again.
                        self.set_meta(conn, keys.FORCE_RESYNC, "1")
            # While a full resync writes the rows, the indexes on them and the trigram
            # index's triggers stay off (the resync builds them once at its end).
            building = self.search_indexing(conn)
            for name in schema.OBSOLETE_INDEXES:
                conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
            # Indexes after the columns: some are on columns an older cache lacked.
            for index in schema.INDEXES:
                if not (building and index.table is prospects):
                    index.create(conn, checkfirst=True)
            for statement in schema.FTS_STATEMENTS[:1] if building else schema.FTS_STATEMENTS:
                conn.exec_driver_sql(statement)
            conn.execute(
                sa.insert(meta)
                .prefix_with("OR REPLACE")
                .values(key=keys.LOCAL_SCHEMA_VERSION, value=str(schema.LOCAL_SCHEMA_VERSION))
            )

    def finish_indexing(self, progress: Progress | None = None, *, chunk: int = FTS_CHUNK) -> bool:
        """Build the indexes a full resync left off, after its rows: each secondary index
        in a transaction of its own, then the trigram index in ranges of rows (see
        ``indexing``), so the app's writes wait a second at most, never the whole build.
        ``progress`` gets (rows indexed, rows) as the trigram index fills. False when
        there was nothing to build, or a full resync is writing rows (it builds after)."""
        with self.reading() as conn:
            if not self.can_build_indexes(conn):
                return False
        for index in schema.PROSPECT_INDEXES:
            with self.transaction() as conn:
                if not self.can_build_indexes(conn):
                    return False
                self.build_secondary_index(conn, index)
        while True:
            with self.transaction() as conn:
                if not self.can_build_indexes(conn):
                    return False
                step = self.fill_search_index(conn, chunk)
            if step is None:
                return True
            if progress is not None:
                progress(*step)

    def dispose(self) -> None:
        self.engine.dispose()
        if self._held:
            self._held = False
            integrity.release(self.path)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One unit of work: BEGIN IMMEDIATE … COMMIT, rolled back on any error."""
        with self.engine.begin() as conn, integrity.translating(self.path):
            yield conn
        self._backup_if_due()

    def _backup_if_due(self) -> None:
        def queued() -> bool:
            with self.reading() as conn:
                return self._journal_has_items(conn) or bool(
                    conn.exec_driver_sql("SELECT EXISTS (SELECT 1 FROM team_outbox)").scalar()
                )

        self.backups.after_write(queued)

    @contextlib.contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        """A connection for reads only: no transaction, no lock."""
        with self.engine.connect() as conn, integrity.translating(self.path):
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    @contextlib.contextmanager
    def driver_reading(self) -> Iterator[sqlite3.Connection]:
        """``reading()``'s connection as the standard library's (the statements of
        ``local/reader.py``), its errors translated as the engine's are."""
        with self.reading() as conn, integrity.translating(self.path):
            raw = conn.connection.driver_connection
            assert isinstance(raw, sqlite3.Connection)
            yield raw

    def check_queue(self) -> None:
        """StoreDamaged when a table holding queued work fails SQLite's quick check."""
        with self.driver_reading() as raw:
            integrity.check_queue(raw, self.path)


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # 32 MB of page cache per connection, at most (SQLite's default is 2 MB): a full
    # resync inserts a million handles into the primary key's b-tree in cloud order,
    # and the pages it revisits stay in memory (about a tenth less CPU for the pull).
    cursor.execute("PRAGMA cache_size=-32768")
    cursor.close()


def _on_begin(conn: sa.Connection) -> None:
    # The driver runs in autocommit mode; we open write transactions ourselves so that
    # they take the write lock up front (BEGIN IMMEDIATE) and reads open none at all.
    if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
