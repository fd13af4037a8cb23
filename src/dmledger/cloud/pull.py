"""The pull: the header (clock, horizon, people) and pages of prospect changes, and
the clock expressions both read (the watermark, the database's time).

Called through ``CloudStore.header`` / ``pull_page``. The cursor comparison is the one
place dialects differ: a row-value comparison, or Oracle's two-part range.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from dmledger.cloud import followups as fu
from dmledger.cloud import schema
from dmledger.cloud.schema import (
    actors,
    dmledger_info,
    operators,
    prospect_tombstones,
    prospects,
    sync_clock,
)
from dmledger.domain.records import ActorRow, CloudHeader, Cursor, PulledRow
from dmledger.errors import CloudSchemaError

if TYPE_CHECKING:
    from dmledger.cloud.store import CloudStore


def header(
    store: CloudStore, conn: sa.Connection, *, with_count: bool = False, settle: bool = False
) -> CloudHeader:
    """The clock, the tombstone horizon, operators and actors: one statement.

    ``with_count`` adds a second statement counting prospects (for a progress bar
    on a full pull only: a no-op sync must stay at two round trips). ``settle``
    (PostgreSQL) makes the same statement wait, at most ``settle_wait``, for the
    transactions open when it began, so a pull sent next reads what they commit.
    """
    text = sa.cast(sa.null(), sa.String)
    number = sa.cast(sa.null(), sa.BigInteger)
    stamp = sa.cast(sa.null(), sa.TIMESTAMP)

    def info(key: str) -> sa.ScalarSelect[Any]:
        return (
            sa.select(dmledger_info.c.info_value)
            .where(dmledger_info.c.info_key == key)
            .scalar_subquery()
        )

    statement = sa.union_all(
        # The clock row also carries the cloud's identity, schema version and time.
        sa.select(
            sa.literal("C").label("kind"),
            info("cloud_id").label("name"),
            info("schema_version").label("owner"),
            info(fu.TEAM_VERSION_KEY).label("status"),
            watermark_of(store.dialect).label("version"),
            sync_clock.c.purged_through.label("purged"),
            now_of(store.dialect).label("now"),
            settling(store.dialect, store.settle_wait if settle else None).label("settled"),
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
    version = purged = None
    cloud_id: str | None = None
    schema_version: int | None = None
    team_version: str | None = None
    now: datetime | None = None
    names: list[str] = []
    actor_rows: list[ActorRow] = []
    for row in conn.execute(statement):
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
    count = None
    if with_count:
        count = int(conn.execute(sa.select(sa.func.count()).select_from(prospects)).scalar_one())
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


def pull_page(store: CloudStore, conn: sa.Connection, after: Cursor, limit: int) -> list[PulledRow]:
    """Prospect changes and deletions after ``after`` in (version, handle) order."""
    p, t, a = prospects, prospect_tombstones, actors
    changes = (
        sa.select(
            sa.literal("P").label("kind"),
            p.c.target_username.label("handle"),
            p.c.row_version.label("version"),
            p.c.status,
            p.c.owner_actor,
            a.c.owner_operator,
            p.c.notes,
            p.c.first_contacted,
            p.c.last_updated,
            p.c.notes_replaced,
            p.c.last_dm_at,
            p.c.dm_count,
            p.c.last_reply_at,
            p.c.follow_up_at,
            p.c.last_message,
        )
        .select_from(p.outerjoin(a, a.c.username == p.c.owner_actor))
        .where(_after(store.dialect, p.c.row_version, p.c.target_username, after))
    )
    text = sa.cast(sa.null(), sa.String)
    stamp = sa.cast(sa.null(), sa.TIMESTAMP)
    deletions = sa.select(
        sa.literal("T"),
        t.c.target_username,
        t.c.row_version,
        text,
        text,
        text,
        sa.cast(sa.null(), schema.varchar(4000)),
        stamp,
        t.c.deleted_at,
        sa.cast(sa.null(), schema.varchar(4000)),
        stamp,
        sa.cast(sa.null(), sa.Integer),
        stamp,
        stamp,
        sa.cast(sa.null(), schema.varchar(4000)),
    ).where(_after(store.dialect, t.c.row_version, t.c.target_username, after))
    union = sa.union_all(changes, deletions).subquery()
    statement = sa.select(union).order_by(union.c.version, union.c.handle).limit(limit)
    if store.dialect == "postgresql":
        # Only what every transaction below the watermark wrote: those have ended,
        # so nothing can still appear under the cursor. Same snapshot as the rows.
        watermark = sa.select(watermark_of(store.dialect)).where(sync_clock.c.id == 1)
        statement = statement.where(union.c.version < watermark.scalar_subquery())
    # The select's columns are PulledRow's fields in order: one tuple per row, from
    # one fetchall (not a fetch per row).
    rows = conn.execute(statement).all()
    return [PulledRow(row[0], row[1], int(row[2]), *row[3:]) for row in rows]


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
    dialect: str, version: sa.ColumnElement[Any], handle: sa.ColumnElement[Any], after: Cursor
) -> sa.ColumnElement[bool]:
    if dialect == "oracle":
        # Oracle has no row-value comparison; the leading range keeps the index usable.
        return sa.and_(
            version >= after.version,
            sa.or_(version > after.version, handle > after.handle),
        )
    return sa.tuple_(version, handle) > sa.tuple_(
        sa.literal(after.version, sa.BigInteger), sa.literal(after.handle, sa.String)
    )


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
