"""Insert-if-absent and the contact upsert, each dialect's variant side by side.

PostgreSQL and SQLite use ``ON CONFLICT``; Oracle uses ``MERGE`` (``merge.py``).
Every variant is built from the same rule expressions (``rules_sql.py``), so the
rule is written once. PostgreSQL carries a whole batch as one array per column
(``unnest``), so a batch is one round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from dmledger.cloud.exchange import rules_sql
from dmledger.cloud.exchange import team_settings as followups
from dmledger.cloud.exchange.merge import TARGET, Merge, merge_source
from dmledger.cloud.tables import prospects
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
        conn.execute(insert_ignore_merge(table, columns, keys), list(rows))
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
    if dialect == "postgresql":
        conn.execute(contacts_statement(dialect, firsts))  # the batch travels as arrays
        return
    rows = _contact_values(firsts)
    if dialect == "oracle":
        conn.execute(contacts_merge(), rows)
        return
    conn.execute(contacts_statement(dialect, firsts), rows)


def contacts_statement(
    dialect: str, firsts: Sequence[OutgoingLog], batch_logs: sa.CTE | None = None
) -> Any:
    """PostgreSQL and SQLite: ``INSERT … ON CONFLICT … DO UPDATE … WHERE`` with the
    DM rule's expressions (``rules_sql.contact_update``). PostgreSQL's carries the whole
    batch as arrays; SQLite's is run as executemany of ``_contact_values``.

    With ``batch_logs`` (PostgreSQL: the push's rows, as a CTE) the inserted leads also
    get their DM figures from the batch's logs: a new lead has no DM but the batch's. A
    lead already in the cloud keeps its figures here: the DM rule's update does not
    touch them, ``followups.dm_figures_set_statement`` recounts them."""
    insert: Any
    if dialect == "postgresql":
        values = _contact_values(firsts)
        columns = list(values[0])
        source = unnest(prospects, columns, values, "c")
        if batch_logs is not None:
            source = _with_dm_figures(source.subquery("c_rows"), columns, batch_logs)
            columns += ["last_dm_at", "dm_count", "last_message"]
        insert = postgresql.insert(prospects).from_select(columns, source)
    else:
        insert = sqlite.insert(prospects)
    rule = rules_sql.contact_update(prospects.c, insert.excluded)
    return insert.on_conflict_do_update(
        index_elements=[prospects.c.target_username], set_=rule.values, where=rule.where
    )


def _with_dm_figures(
    contacts: sa.Subquery, columns: Sequence[str], batch_logs: sa.CTE
) -> sa.Select[Any]:
    """The contacts' rows followed by each lead's DM figures over ``batch_logs``."""
    logs = batch_logs.c
    latest, count, text = followups.dm_figures_of(logs.created_at, logs.message_text)
    figures = (
        sa.select(
            logs.target_username,
            latest.label("last_dm_at"),
            count.label("dm_count"),
            text.label("last_message"),
        )
        .group_by(logs.target_username)
        .subquery("c_figures")
    )
    return sa.select(
        *(contacts.c[name] for name in columns),
        figures.c.last_dm_at,
        figures.c.dm_count,
        figures.c.last_message,
    ).join_from(contacts, figures, figures.c.target_username == contacts.c.target_username)


def contacts_merge() -> Merge:
    """Oracle: the same DM rule as a MERGE, run as array DML of ``_contact_values``."""
    target = prospects.alias(TARGET)
    source = merge_source(prospects, CONTACT_COLUMNS)
    rule = rules_sql.contact_update(target.c, source.c)
    return Merge(
        target,
        source,
        rules_sql.same_key(target, source, ["target_username"]),
        update=rule.values,
        where=rule.where,
    )


def insert_ignore_merge(table: sa.Table, columns: Sequence[str], keys: Sequence[str]) -> Merge:
    """Oracle: MERGE … WHEN NOT MATCHED, the insert-if-absent, run as array DML."""
    target = table.alias(TARGET)
    source = merge_source(table, columns)
    return Merge(target, source, rules_sql.same_key(target, source, keys))


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


#: The columns a DM's contact writes, in ``_contact_values``'s order.
CONTACT_COLUMNS = tuple(rules_sql.contact_row("", "", None))


def _contact_values(firsts: Sequence[OutgoingLog]) -> list[Row]:
    return [rules_sql.contact_row(f.target, f.actor, f.sent_at) for f in firsts]
