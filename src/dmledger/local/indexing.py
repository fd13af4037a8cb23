"""The cache's indexes around a full resync: off while its rows land, then built again
from the rows, each step in a transaction of its own so a writer (the app, a sync)
waits for one step, never for the whole build.

The secondary indexes of ``prospects`` are one ``CREATE INDEX`` each. The FTS5 trigram
index is filled in ranges of rowids: ``SEARCH_INDEX_THROUGH`` holds the rowid through
which it is built, and while it is built its triggers keep only the rows at or below
that mark (the later ranges read the other rows as they are when their turn comes). So
an edit made during the build is indexed once, whichever side of the mark it falls on,
and a build stopped half way (a kill) resumes at the mark. Filling ranges with
``INSERT … SELECT`` also costs several times less than FTS5's ``'rebuild'``.
"""

from __future__ import annotations

import sqlalchemy as sa

from dmledger.local import meta_keys as keys
from dmledger.local import schema
from dmledger.local.base import StoreBase

# Rows per transaction of the trigram build: about a second's write lock at worst.
FTS_CHUNK = 50_000

_MARK = f"(SELECT CAST(value AS INTEGER) FROM meta WHERE key = '{keys.SEARCH_INDEX_THROUGH}')"
# The triggers while the index is built: the same as schema.FTS_STATEMENTS' (same
# names), for the rows at or below the mark only.
_BUILDING_TRIGGERS = (
    f"CREATE TRIGGER prospects_fts_ins AFTER INSERT ON prospects WHEN new.rowid <= {_MARK} "
    "BEGIN INSERT INTO prospects_fts(rowid, target_username, notes) "
    "VALUES (new.rowid, new.target_username, new.notes); END",
    f"CREATE TRIGGER prospects_fts_del AFTER DELETE ON prospects WHEN old.rowid <= {_MARK} "
    "BEGIN INSERT INTO prospects_fts(prospects_fts, rowid, target_username, notes) "
    "VALUES ('delete', old.rowid, old.target_username, old.notes); END",
    "CREATE TRIGGER prospects_fts_upd AFTER UPDATE OF target_username, notes ON prospects "
    f"WHEN old.rowid <= {_MARK} BEGIN "
    "INSERT INTO prospects_fts(prospects_fts, rowid, target_username, notes) "
    "VALUES ('delete', old.rowid, old.target_username, old.notes); "
    "INSERT INTO prospects_fts(rowid, target_username, notes) "
    "VALUES (new.rowid, new.target_username, new.notes); END",
)
_COUNTS = "SELECT count(*) FILTER (WHERE rowid <= ?), count(*) FROM prospects"
_TOP = "SELECT coalesce(max(rowid), 0) FROM prospects"
_FILL = (
    "INSERT INTO prospects_fts(rowid, target_username, notes) "
    "SELECT rowid, target_username, notes FROM prospects WHERE rowid > ? AND rowid <= ?"
)


class IndexBuilds(StoreBase):
    """Switching the cache's indexes off for a full resync, and building them after."""

    def suspend_search_index(self, conn: sa.Connection) -> None:
        """Stop maintaining the cache's indexes row by row: the trigram index's triggers
        and the secondary indexes of ``prospects`` go (a full resync writes every row,
        and building each once after is several times faster). Until the build ends,
        search and the filters scan."""
        for trigger in schema.FTS_TRIGGERS:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        for index in schema.PROSPECT_INDEXES:
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index.name}")
        self.set_meta(conn, keys.SEARCH_INDEX_BUILDING, "1")
        self.delete_meta(conn, keys.SEARCH_INDEX_THROUGH)  # the build starts again

    def can_build_indexes(self, conn: sa.Connection) -> bool:
        """Indexes are off and no full resync is writing rows (it builds them after)."""
        return self.search_indexing(conn) and self.get_meta(conn, keys.RESYNC_GEN_ACTIVE) is None

    def index_progress(self, conn: sa.Connection) -> tuple[int, int] | None:
        """(leads in the trigram index so far, leads) while the indexes are off or being
        built; None when they are ready."""
        if not self.search_indexing(conn):
            return None
        through = int(self.get_meta(conn, keys.SEARCH_INDEX_THROUGH) or 0)
        counts = conn.exec_driver_sql(_COUNTS, (through,)).one()
        return int(counts[0]), int(counts[1])

    def build_secondary_index(self, conn: sa.Connection, index: sa.Index) -> None:
        index.create(conn, checkfirst=True)

    def fill_search_index(
        self, conn: sa.Connection, chunk: int = FTS_CHUNK
    ) -> tuple[int, int] | None:
        """One step of the trigram build: index the next ``chunk`` rowids, or, once every
        row is in, put the usual triggers back and end the build. Returns (rowid built
        through, highest rowid), or None when the build is over."""
        through = self.get_meta(conn, keys.SEARCH_INDEX_THROUGH)
        if through is None:
            # From empty (a resync's rows, or an index left by an older agent).
            conn.exec_driver_sql("INSERT INTO prospects_fts(prospects_fts) VALUES ('delete-all')")
            for trigger in schema.FTS_TRIGGERS:
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
            self.set_meta(conn, keys.SEARCH_INDEX_THROUGH, "0")
            for statement in _BUILDING_TRIGGERS:
                conn.exec_driver_sql(statement)
            mark = 0
        else:
            mark = int(through)
        top = int(conn.exec_driver_sql(_TOP).scalar_one())
        if mark < top:
            upto = min(mark + chunk, top)
            conn.exec_driver_sql(_FILL, (mark, upto))
            self.set_meta(conn, keys.SEARCH_INDEX_THROUGH, str(upto))
            return upto, top
        for trigger in schema.FTS_TRIGGERS:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        for statement in schema.FTS_STATEMENTS:
            conn.exec_driver_sql(statement)
        self.delete_meta(conn, keys.SEARCH_INDEX_THROUGH)
        self.delete_meta(conn, keys.SEARCH_INDEX_BUILDING)
        return None
