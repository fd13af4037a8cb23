"""The pull: the header (clock, horizon, people) and pages of prospect changes, and
the clock expressions both read (the watermark, the database's time).

Called through ``CloudStore.header`` / ``pull_page`` / ``header_and_page`` (the header
and the first page in one PostgreSQL round trip). The cursor comparison is the one
place dialects differ: a row-value comparison, or Oracle's two-part range.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import Compiled

from dmledger.cloud import tables
from dmledger.cloud.connecting.engine import pipelined
from dmledger.cloud.exchange import team_settings
from dmledger.cloud.tables import (
    actors,
    dmledger_info,
    operators,
    prospect_tombstones,
    prospects,
    sync_clock,
)
from dmledger.domain.records import ActorRow, CloudHeader, Cursor, PulledRow
from dmledger.domain.timeutil import iso
from dmledger.errors import CloudSchemaError


def header(
    conn: sa.Connection, *, with_count: bool = False, settle_wait: float | None = None
) -> CloudHeader:
    """The clock, the tombstone horizon, operators and actors: one statement.

    ``with_count`` adds a second statement counting prospects (for a progress bar
    on a full pull only: a no-op sync must stay at one round trip). ``settle_wait``
    (PostgreSQL) makes the same statement wait, at most that many seconds, for the
    transactions open when it began, so a pull sent next reads what they commit.
    """
    dialect = conn.dialect.name
    rows = conn.execute(_header_statement(dialect, _settle_ms(dialect, settle_wait))).all()
    count = None
    if with_count:
        count = int(conn.execute(sa.select(sa.func.count()).select_from(prospects)).scalar_one())
    return _header_of(rows, count)


def pull_page(conn: sa.Connection, after: Cursor, limit: int) -> list[PulledRow]:
    """Prospect changes and deletions after ``after`` in (version, handle) order."""
    dialect = conn.dialect.name
    statement = _page_statement(dialect, limit)
    return _page_of(dialect, conn.execute(statement, _cursor_params(after)).all())


def header_and_page(
    conn: sa.Connection, after: Cursor, limit: int, *, settle_wait: float | None = None
) -> tuple[CloudHeader, list[PulledRow]]:
    """The header, then the first page after ``after``, as two statements in that order.

    On PostgreSQL both go in one round trip (a pipeline): each statement takes its own
    snapshot, so the page is read after the header's settle wait, exactly as when it is
    sent next, and its watermark is computed with its rows. Elsewhere two round trips
    (SQLite is a file; Oracle is checked statically only).
    """
    dialect = conn.dialect.name
    settle_ms = _settle_ms(dialect, settle_wait)
    params = _cursor_params(after)
    head_rows: Sequence[Any]
    page_rows: Sequence[Any]
    if dialect == "postgresql":
        head, page = _compiled(conn.dialect, settle_ms, limit)
        head_rows, page_rows = pipelined(conn, ((head, {}), (page, params)))
    else:
        head_rows = conn.execute(_header_statement(dialect, settle_ms)).all()
        page_rows = conn.execute(_page_statement(dialect, limit), params).all()
    return _header_of(head_rows, None), _page_of(dialect, page_rows)


def _settle_ms(dialect: str, settle_wait: float | None) -> int | None:
    return int(settle_wait * 1000) if settle_wait is not None and dialect == "postgresql" else None


def _cursor_params(after: Cursor) -> dict[str, Any]:
    return {"after_version": after.version, "after_handle": after.handle}


# The statements are built once per shape (a sync every few seconds need not rebuild
# them): the cursor is a bound parameter; the limit and the settle wait are few values.
@functools.lru_cache(maxsize=64)
def _compiled(dialect: Dialect, settle_ms: int | None, limit: int) -> tuple[Compiled, Compiled]:
    """The header and page statements compiled for a pipeline (which bypasses
    SQLAlchemy's own cache of compiled statements)."""
    head = _header_statement(dialect.name, settle_ms).compile(dialect=dialect)
    return head, _page_statement(dialect.name, limit).compile(dialect=dialect)


@functools.lru_cache(maxsize=64)
def _header_statement(dialect: str, settle_ms: int | None) -> sa.CompoundSelect[Any]:
    text = sa.cast(sa.null(), sa.String)
    number = sa.cast(sa.null(), sa.BigInteger)
    stamp = sa.cast(sa.null(), sa.TIMESTAMP)

    def info(key: str) -> sa.ScalarSelect[Any]:
        return (
            sa.select(dmledger_info.c.info_value)
            .where(dmledger_info.c.info_key == key)
            .scalar_subquery()
        )

    return sa.union_all(
        # The clock row also carries the cloud's identity, schema version and time.
        sa.select(
            sa.literal("C").label("kind"),
            info("cloud_id").label("name"),
            info("schema_version").label("owner"),
            info(team_settings.TEAM_VERSION_KEY).label("status"),
            watermark_of(dialect).label("version"),
            sync_clock.c.purged_through.label("purged"),
            now_of(dialect).label("now"),
            settling(dialect, None if settle_ms is None else settle_ms / 1000).label("settled"),
        ).where(sync_clock.c.id == 1),
        sa.select(
            sa.literal("A"),
            actors.c.username,
            actors.c.owner_operator,
            actors.c.status,
            number,
            number,
            stamp,
            number,
        ),
        sa.select(
            sa.literal("O"),
            operators.c.operator_name,
            text,
            text,
            number,
            number,
            stamp,
            number,
        ),
    )


def _header_of(rows: Sequence[Any], count: int | None) -> CloudHeader:
    """The header from its statement's rows (SQLAlchemy's, or a pipeline's named tuples)."""
    version = purged = None
    cloud_id: str | None = None
    schema_version: int | None = None
    team_version: str | None = None
    now: datetime | None = None
    names: list[str] = []
    actor_rows: list[ActorRow] = []
    for row in rows:
        if row.kind == "C":
            version, purged = int(row.version), int(row.purged)
            cloud_id = row.name
            team_version = row.status
            schema_version = int(row.owner) if row.owner is not None else None
            now = naive_utc(row.now)
        elif row.kind == "A":
            actor_rows.append(ActorRow(row.name, row.owner, row.status or "active"))
        else:
            names.append(row.name)
    if version is None or purged is None:
        raise CloudSchemaError("the cloud's sync clock row is missing: run `dmledger cloud init`")
    return CloudHeader(
        version,
        purged,
        tuple(names),
        tuple(actor_rows),
        count,
        now=now,
        cloud_id=cloud_id,
        schema_version=schema_version,
        team_version=team_version,
    )


@functools.lru_cache(maxsize=64)
def _page_statement(dialect: str, limit: int) -> sa.Select[Any]:
    """Prospect changes and deletions after the cursor in (version, handle) order, times
    as the cache's text (made by the query where the database can: no Python per time)."""
    p, t, a = prospects, prospect_tombstones, actors

    def stamp(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return stored_text(dialect, column)

    changes = (
        sa.select(
            sa.literal("P").label("kind"),
            p.c.target_username.label("handle"),
            p.c.row_version.label("version"),
            p.c.status,
            p.c.owner_actor,
            a.c.owner_operator,
            p.c.notes,
            stamp(p.c.first_contacted),
            stamp(p.c.last_updated),
            p.c.notes_replaced,
            stamp(p.c.last_dm_at),
            p.c.dm_count,
            stamp(p.c.last_reply_at),
            stamp(p.c.follow_up_at),
            p.c.last_message,
        )
        .select_from(p.outerjoin(a, a.c.username == p.c.owner_actor))
        .where(_after(dialect, p.c.row_version, p.c.target_username))
    )
    text = sa.cast(sa.null(), sa.String)
    stamp_null = stamp(sa.cast(sa.null(), sa.TIMESTAMP))
    deletion_columns: tuple[sa.ColumnElement[Any], ...] = (
        sa.literal("T"),
        t.c.target_username,
        t.c.row_version,
        text,
        text,
        text,
        sa.cast(sa.null(), tables.varchar(4000)),
        stamp_null,
        stamp(t.c.deleted_at),
        sa.cast(sa.null(), tables.varchar(4000)),
        stamp_null,
        sa.cast(sa.null(), sa.Integer),
        stamp_null,
        stamp_null,
        sa.cast(sa.null(), tables.varchar(4000)),
    )
    # Labelled as the changes' columns: unlabelled, the NULLs of a subquery collapse.
    names = changes.selected_columns.keys()
    deletions = sa.select(
        *(c.label(n) for c, n in zip(deletion_columns, names, strict=True))
    ).where(_after(dialect, t.c.row_version, t.c.target_username))
    if dialect == "postgresql":
        # Only what every transaction below the watermark wrote: those have ended,
        # so nothing can still appear under the cursor. Same snapshot as the rows.
        watermark = sa.select(watermark_of(dialect)).where(sync_clock.c.id == 1)
        below = watermark.scalar_subquery()
        changes = changes.where(p.c.row_version < below)
        deletions = deletions.where(t.c.row_version < below)
    # Each side is limited in cursor order first, so each reads its index from the
    # cursor for one page (a limit only over the union made PostgreSQL scan, format
    # and sort every row after the cursor for each page: quadratic over a resync).
    sides = [
        sa.select(side.order_by(version, handle).limit(limit).subquery())
        for side, version, handle in (
            (changes, p.c.row_version, p.c.target_username),
            (deletions, t.c.row_version, t.c.target_username),
        )
    ]
    union = sa.union_all(*sides).subquery()
    return sa.select(union).order_by(union.c.version, union.c.handle).limit(limit)


def _page_of(dialect: str, rows: Sequence[Sequence[Any]]) -> list[PulledRow]:
    # The select's columns are PulledRow's fields in order: one tuple per row, from
    # one fetch (not a fetch per row).
    if dialect == "sqlite":
        # An embedded cloud keeps times as text of its own (SQLAlchemy's, or
        # CURRENT_TIMESTAMP's without a fraction): read as datetimes, made the cache's.
        rows = [tuple(iso(v) if i in _TIMES else v for i, v in enumerate(r)) for r in rows]
    return [PulledRow(r[0], r[1], int(r[2]), *r[3:]) for r in rows]


# The positions of the times in a pulled row (see ``_page_statement``'s select).
_TIMES = frozenset({7, 8, 10, 12, 13})
# timeutil.iso's text (``2026-03-01T09:00:00.000000``), made by the database.
STORED_TEXT = {
    "postgresql": 'YYYY-MM-DD"T"HH24:MI:SS.US',
    "oracle": 'YYYY-MM-DD"T"HH24:MI:SS.FF6',
}


def stored_text(dialect: str, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """A time column as the text the cache stores it as (``timeutil.iso``); on SQLite
    the column itself (``_page_of`` makes the text)."""
    if dialect == "sqlite":
        return column
    return sa.func.to_char(column, sa.literal(STORED_TEXT[dialect]), type_=sa.String)


def settling(dialect: str, wait: float | None) -> sa.ColumnElement[int]:
    """``dmledger_settle`` (see ddl) as a column: 1 when settled, else 0; NULL
    (no wait) for ``None`` and on SQLite and Oracle."""
    if wait is None or dialect != "postgresql":
        return sa.cast(sa.null(), sa.BigInteger)
    wait_ms = int(wait * 1000)
    return sa.literal_column(f"CAST(dmledger_settle({wait_ms}) AS INTEGER)", sa.BigInteger)


def watermark_of(dialect: str) -> sa.ColumnElement[int]:
    """The version below which every change is final, over ``sync_clock``.

    PostgreSQL: the oldest transaction still running (in this statement's snapshot)
    plus the base; every transaction below it has ended. SQLite and Oracle: the
    clock, which writers take in commit order.
    """
    if dialect == "postgresql":
        xmin = sa.literal_column(
            "pg_snapshot_xmin(pg_current_snapshot())::text::bigint", sa.BigInteger
        )
        return xmin + sync_clock.c.version
    return sync_clock.c.version


def _after(
    dialect: str, version: sa.ColumnElement[Any], handle: sa.ColumnElement[Any]
) -> sa.ColumnElement[bool]:
    """After the cursor, bound as ``after_version`` and ``after_handle``."""
    after_version = sa.bindparam("after_version", type_=sa.BigInteger)
    after_handle = sa.bindparam("after_handle", type_=sa.String)
    if dialect == "oracle":
        # Oracle has no row-value comparison; the leading range keeps the index usable.
        return sa.and_(
            version >= after_version,
            sa.or_(version > after_version, handle > after_handle),
        )
    return sa.tuple_(version, handle) > sa.tuple_(after_version, after_handle)


def now_of(dialect: str) -> sa.ColumnElement[datetime]:
    """The database's clock in UTC, as an expression (the header reads it too)."""
    sql = {
        "oracle": "SYS_EXTRACT_UTC(SYSTIMESTAMP)",
        "postgresql": "timezone('UTC', clock_timestamp())",
        "sqlite": "strftime('%Y-%m-%d %H:%M:%f', 'now')",
    }[dialect]
    return sa.literal_column(sql, sa.TIMESTAMP)


def naive_utc(value: object) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise CloudSchemaError(f"the cloud returned {value!r} for its clock, not a time")
    return value.replace(tzinfo=None)
