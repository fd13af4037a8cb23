"""Insert-if-absent and the contact upsert, each dialect's variant side by side.

PostgreSQL and SQLite use ``ON CONFLICT``; Oracle uses ``MERGE``. PostgreSQL carries a
whole batch as one array per column (``unnest``), so a batch is one round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from dmledger.cloud.schema import prospects
from dmledger.domain.records import OutgoingLog

Row = dict[str, Any]


def insert_ignore(
    conn: sa.Connection, dialect: str, table: sa.Table, rows: Sequence[Row], keys: Sequence[str]
) -> int:
    """Insert rows whose key is not there yet; returns how many were inserted
    (exact on PostgreSQL and SQLite, -1 when the driver cannot tell)."""
    if not rows:
        return 0
    if dialect == "oracle":
        columns = list(rows[0])
        conn.execute(sa.text(_oracle_insert_ignore(table.name, columns, keys)), list(rows))
        return -1
    if dialect == "postgresql":
        # One statement for the whole batch: the rows travel as one array per column.
        columns = list(rows[0])
        batch = (
            postgresql.insert(table)
            .from_select(columns, unnest(table, columns, rows))
            .on_conflict_do_nothing(index_elements=list(keys))
            .execution_options(preserve_rowcount=True)
        )
        return int(conn.execute(batch).rowcount)
    statement = (
        sqlite.insert(table)
        .on_conflict_do_nothing(index_elements=list(keys))
        .execution_options(preserve_rowcount=True)
    )
    # A single row runs as a plain execute, whose rowcount is exact on every driver.
    result = conn.execute(statement, rows[0] if len(rows) == 1 else list(rows))
    return int(result.rowcount)


def apply_contacts(conn: sa.Connection, dialect: str, firsts: Sequence[OutgoingLog]) -> None:
    """The earliest DM of each lead in a batch, applied to its prospect row."""
    rows = [{"t": f.target, "a": f.actor, "s": f.sent_at} for f in firsts]
    if dialect == "oracle":
        conn.execute(sa.text(_ORACLE_CONTACT_MERGE), rows)
        return
    conn.execute(contacts_statement(dialect, firsts), _contact_values(firsts))


def contacts_statement(dialect: str, firsts: Sequence[OutgoingLog]) -> Any:
    """PostgreSQL and SQLite share ON CONFLICT … DO UPDATE … WHERE: the earliest
    contact owns the lead, ``new`` becomes ``contacted``. PostgreSQL's carries the
    whole batch as arrays; SQLite's is run as executemany of ``_contact_values``."""
    insert: Any
    if dialect == "postgresql":
        values = _contact_values(firsts)
        columns = list(values[0])
        insert = postgresql.insert(prospects).from_select(
            columns, unnest(prospects, columns, values, "c")
        )
    else:
        insert = sqlite.insert(prospects)
    new = insert.excluded
    cur = prospects.c
    earlier = sa.or_(
        cur.first_contacted.is_(None),
        new.first_contacted < cur.first_contacted,
        sa.and_(
            new.first_contacted == cur.first_contacted,
            new.owner_actor < cur.owner_actor,
        ),
    )
    is_new = sa.or_(cur.status.is_(None), sa.func.lower(cur.status) == "new")
    return insert.on_conflict_do_update(
        index_elements=[cur.target_username],
        set_={
            "status": sa.case((is_new, sa.literal("contacted")), else_=cur.status),
            "owner_actor": sa.case(
                (
                    cur.first_contacted.is_(None),
                    sa.func.coalesce(cur.owner_actor, new.owner_actor),
                ),
                (earlier, new.owner_actor),
                else_=sa.func.coalesce(cur.owner_actor, new.owner_actor),
            ),
            "first_contacted": sa.case((earlier, new.first_contacted), else_=cur.first_contacted),
        },
        where=sa.or_(is_new, earlier, cur.owner_actor.is_(None)),
    )


def unnest(
    table: sa.Table, columns: Sequence[str], rows: Sequence[Row], prefix: str = "u"
) -> sa.Select[Any]:
    """PostgreSQL: ``SELECT * FROM unnest(:a, :b, …)``, one typed array per column, so a
    batch of any size is one statement and one round trip (``prefix`` keeps the
    parameter names of two in one statement apart)."""
    arrays = [
        sa.bindparam(
            f"{prefix}_{name}",
            value=[row[name] for row in rows],
            type_=postgresql.ARRAY(table.c[name].type),
        )
        for name in columns
    ]
    source = sa.func.unnest(*arrays).table_valued(*columns).render_derived(name=f"{prefix}_rows")
    return sa.select(*(source.c[name] for name in columns))


def _contact_values(firsts: Sequence[OutgoingLog]) -> list[Row]:
    return [
        {
            "target_username": f.target,
            "status": "contacted",
            "owner_actor": f.actor,
            "first_contacted": f.sent_at,
        }
        for f in firsts
    ]


def _oracle_insert_ignore(table: str, columns: Sequence[str], keys: Sequence[str]) -> str:
    """MERGE … WHEN NOT MATCHED: Oracle's insert-if-absent, run as array DML."""
    source = ", ".join(f":{c} AS {c}" for c in columns)
    on = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    names = ", ".join(columns)
    values = ", ".join(f"s.{c}" for c in columns)
    return (
        f"MERGE INTO {table} t USING (SELECT {source} FROM dual) s ON ({on}) "
        f"WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values})"
    )


_ORACLE_CONTACT_MERGE = """MERGE INTO prospects p
USING (SELECT :t AS t, :a AS a, :s AS s FROM dual) x
ON (p.target_username = x.t)
WHEN MATCHED THEN UPDATE SET
    p.status = CASE WHEN p.status IS NULL OR LOWER(p.status) = 'new'
                    THEN 'contacted' ELSE p.status END,
    p.owner_actor = CASE
        WHEN p.first_contacted IS NULL THEN COALESCE(p.owner_actor, x.a)
        WHEN x.s < p.first_contacted OR (x.s = p.first_contacted AND x.a < p.owner_actor)
            THEN x.a
        ELSE COALESCE(p.owner_actor, x.a) END,
    p.first_contacted = CASE
        WHEN p.first_contacted IS NULL OR x.s < p.first_contacted
             OR (x.s = p.first_contacted AND x.a < p.owner_actor)
            THEN x.s ELSE p.first_contacted END
    WHERE p.status IS NULL OR LOWER(p.status) = 'new' OR p.first_contacted IS NULL
        OR x.s < p.first_contacted OR p.owner_actor IS NULL
        OR (x.s = p.first_contacted AND x.a < p.owner_actor)
WHEN NOT MATCHED THEN INSERT (target_username, status, owner_actor, first_contacted)
    VALUES (x.t, 'contacted', x.a, x.s)"""
