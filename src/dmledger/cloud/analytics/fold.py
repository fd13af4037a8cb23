"""The fold that keeps the rollups (``rollups.py``) equal to the raw logs.

``fold`` takes the leads the triggers queued since the last fold, subtracts their old
detail rows from the summaries, recomputes their detail rows from their raw logs and
adds the new ones: O(DMs of the changed leads). ``rebuild`` recomputes everything
(``cloud upgrade``'s backfill, and the summaries' compaction).

Folds are serialised by the UPDATE of the single ``rollup_state`` row, the first
statement of a fold (a row lock on PostgreSQL and Oracle, the write lock on SQLite).
The queue is taken in one statement on PostgreSQL (``DELETE … RETURNING`` inside the
INSERT), so a lead queued by a transaction still running stays queued for the next
fold; Oracle takes the queue under ``LOCK TABLE … IN EXCLUSIVE MODE`` (writers of
logs wait for the fold to commit); SQLite has one writer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from dmledger.cloud.analytics.raw import day_of, hour_of, weekday_of
from dmledger.cloud.analytics.rollups import (
    KINDS,
    SUMMARIES,
    create_statements,
    dirty,
    double_rows,
    doubles,
    firsts,
    hours,
    lead_days,
    lead_templates,
    open_firsts,
    reply_firsts,
    state,
    status_days,
    template_firsts,
    work,
)
from dmledger.cloud.tables import actors, outreach_logs, prospect_replies, prospects, varchar

if TYPE_CHECKING:
    from dmledger.cloud.connecting.database import CloudDatabase

#: The summaries are recomputed from the detail once their delta rows outnumber
#: their rows at the last recompute (and at least this many).
COMPACT_AFTER = 20_000

_PG_TAKE = (
    "WITH taken AS (DELETE FROM rollup_dirty RETURNING target_username) "
    "INSERT INTO rollup_work (target_username) SELECT DISTINCT target_username FROM taken"
)


def _in_work(column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    return column.in_(sa.select(work.c.target_username))


def detail_select(dialect: str, *, only_work: bool) -> sa.Select[Any]:
    """The detail rows (``rollup_lead_days``' columns, in order) computed from the raw
    logs, of every lead or of the leads in ``rollup_work``."""
    logs = outreach_logs
    created = logs.c.created_at
    op = sa.func.coalesce(logs.c.operator_name, actors.c.owner_operator)
    status = sa.func.lower(prospects.c.status)
    day = day_of(created, dialect)
    hr = hour_of(created, dialect)
    wd = weekday_of(created, dialect)
    p = prospects.c
    replies = sa.select(
        prospect_replies.c.target_username.label("t"),
        sa.func.min(prospect_replies.c.replied_at).label("fr"),
    ).group_by(prospect_replies.c.target_username)
    if only_work:
        replies = replies.where(_in_work(prospect_replies.c.target_username))
    r = replies.subquery("r")
    source = (
        logs.outerjoin(actors, actors.c.username == logs.c.actor_username)
        .outerjoin(prospects, p.target_username == logs.c.target_username)
        .outerjoin(r, r.c.t == logs.c.target_username)
    )
    replied = sa.case((p.last_reply_at.is_not(None), 1), else_=0)
    is_open = sa.case((sa.and_(p.last_reply_at.is_(None), p.follow_up_at.is_(None)), 1), else_=0)
    lead = [replied, p.first_contacted, r.c.fr, is_open, p.dm_count, p.last_dm_at]
    base = (
        sa.select(
            logs.c.target_username.label("t"),
            logs.c.actor_username.label("a"),
            op.label("o"),
            status.label("st"),
            day.label("d"),
            hr.label("h"),
            wd.label("w"),
            sa.func.count().label("m"),
            sa.func.max(created).label("la"),
            sa.func.sum(sa.case((created > p.first_contacted, 1), else_=0)).label("fu"),
            *(column.label(f"l{n}") for n, column in enumerate(lead)),
        )
        .select_from(source)
        .where(logs.c.target_username.is_not(None))
        .group_by(logs.c.target_username, logs.c.actor_username, op, status, day, hr, wd, *lead)
    )
    if only_work:
        base = base.where(_in_work(logs.c.target_username))
    b = base.subquery("b")
    names = {"actor": b.c.a, "op": b.c.o}
    rest = {"actor": b.c.a, "op": b.c.o, "hr": b.c.h}
    windows = _windows(b, names, [b.c.t], rest)
    facts = [b.c.fu, *(b.c[f"l{n}"] for n in range(6))]
    return sa.select(
        b.c.t, b.c.a, b.c.o, b.c.st, b.c.d, b.c.h, b.c.w, b.c.m, b.c.la, *facts, *windows
    )


def _windows(b: Any, names: dict[str, Any], group: list[Any], rest: dict[str, Any]) -> list[Any]:
    """The ``s_*``/``p_*`` first-row marks of each grouping of ``KINDS`` (the
    grouping: ``group`` and the kind's ``names``; ``rest`` orders a day's rows)."""
    windows: list[sa.ColumnElement[Any]] = []
    for kind, kept in KINDS.items():
        partition = [*group, *(names[k] for k in kept)]
        order = [v for k, v in rest.items() if k not in kept]
        first = sa.func.row_number().over(partition_by=[*partition, b.c.d], order_by=order)
        windows.append(sa.case((first == 1, 1), else_=0).label(f"s_{kind}"))
        windows.append(
            sa.func.lag(b.c.d)
            .over(partition_by=partition, order_by=[b.c.d, *order])
            .label(f"p_{kind}")
        )
    return windows


def templates_select(dialect: str, *, only_work: bool) -> sa.Select[Any]:
    """``rollup_lead_templates``' rows (its columns, in order) from the raw logs."""
    logs = outreach_logs
    op = sa.func.coalesce(logs.c.operator_name, actors.c.owner_operator)
    day = day_of(logs.c.created_at, dialect)
    replied = sa.case((prospects.c.last_reply_at.is_not(None), 1), else_=0)
    source = logs.outerjoin(actors, actors.c.username == logs.c.actor_username).outerjoin(
        prospects, prospects.c.target_username == logs.c.target_username
    )
    found = (
        sa.select(
            logs.c.target_username.label("t"),
            logs.c.template_name.label("tp"),
            logs.c.actor_username.label("a"),
            op.label("o"),
            day.label("d"),
            replied.label("r"),
        )
        .select_from(source)
        .where(logs.c.target_username.is_not(None), logs.c.template_name.is_not(None))
        .group_by(
            logs.c.target_username, logs.c.template_name, logs.c.actor_username, op, day, replied
        )
    )
    if only_work:
        found = found.where(_in_work(logs.c.target_username))
    b = found.subquery("b")
    names = {"actor": b.c.a, "op": b.c.o}
    windows = _windows(b, names, [b.c.t, b.c.tp], names)
    return sa.select(b.c.t, b.c.tp, b.c.a, b.c.o, b.c.d, b.c.r, *windows)


def template_deltas(which: sa.ColumnElement[bool] | None, sign: int) -> list[sa.Insert]:
    """``rollup_template_firsts``' rows for the ``rollup_lead_templates`` rows ``which``
    selects, counted ``sign`` times."""
    d = lead_templates.c
    out: list[sa.Insert] = []
    for kind, kept in KINDS.items():
        actor, op, kept_columns = _who_kept(d, kept)
        total = sa.func.sum(d[f"s_{kind}"])
        select = sa.select(
            sa.literal_column(str(kind)),
            d.day,
            d[f"p_{kind}"],
            actor,
            op,
            d.template_name,
            d.replied,
            total if sign > 0 else -total,
        ).where(d[f"s_{kind}"] == 1)
        if which is not None:
            select = select.where(which)
        select = select.group_by(d.day, d[f"p_{kind}"], *kept_columns, d.template_name, d.replied)
        out.append(
            template_firsts.insert().from_select(
                [
                    "kind",
                    "day",
                    "prev_day",
                    "actor_username",
                    "operator_name",
                    "template_name",
                    "replied",
                    "leads",
                ],
                select,
            )
        )
    return out


def _null() -> sa.ColumnElement[Any]:
    return sa.cast(sa.null(), varchar(100))


def _who_kept(
    d: Any, kept: tuple[str, ...]
) -> tuple[sa.ColumnElement[Any], sa.ColumnElement[Any], list[sa.ColumnElement[Any]]]:
    """A grouping kind's actor and operator columns (NULL where the kind does not keep
    them) and the columns it groups by."""
    actor = d.actor_username if "actor" in kept else _null()
    op = d.operator_name if "op" in kept else _null()
    kept_columns = [
        column
        for name, column in (("actor", d.actor_username), ("op", d.operator_name))
        if name in kept
    ]
    return actor, op, kept_columns


def _replied_row() -> sa.ColumnElement[bool]:
    d = lead_days.c
    return sa.and_(d.first_contacted.is_not(None), d.first_reply.is_not(None))


def _open_row() -> sa.ColumnElement[bool]:
    d = lead_days.c
    return sa.and_(d.is_open == 1, d.dm_count.is_not(None), d.last_dm_at.is_not(None))


def delta_statements(which: sa.ColumnElement[bool] | None, sign: int) -> list[sa.Insert]:
    """INSERT … SELECT of the summaries' rows for the detail rows ``which`` selects,
    counted ``sign`` times (-1: taken out, 1: put in)."""
    d = lead_days.c

    def signed(value: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return sa.func.sum(value) if sign > 0 else -sa.func.sum(value)

    def where(select: sa.Select[Any]) -> sa.Select[Any]:
        return select if which is None else select.where(which)

    out: list[sa.Insert] = []
    for kind, kept in KINDS.items():
        actor, op, kept_columns = _who_kept(d, kept)
        heads = [sa.literal_column(str(kind)), d.day, d[f"p_{kind}"], actor, op]
        names = ["kind", "day", "prev_day", "actor_username", "operator_name"]
        group = [d.day, d[f"p_{kind}"], *kept_columns]
        first = d[f"s_{kind}"] == 1
        for table, facts, condition in (
            (firsts, [d.status, d.replied], None),
            (reply_firsts, [d.first_contacted, d.first_reply], _replied_row()),
            (open_firsts, [d.status, d.dm_count, d.last_dm_at], _open_row()),
        ):
            select = where(sa.select(*heads, *facts, signed(d[f"s_{kind}"])).where(first)).group_by(
                *group, *facts
            )
            if condition is not None:
                select = select.where(condition)
            out.append(
                table.insert().from_select([*names, *(f.name for f in facts), "leads"], select)
            )
    who = [d.actor_username, d.operator_name]
    out.append(
        status_days.insert().from_select(
            ["day", "actor_username", "operator_name", "status", "messages", "followups"],
            where(
                sa.select(d.day, *who, d.status, signed(d.messages), signed(d.followups))
            ).group_by(d.day, *who, d.status),
        )
    )
    out.append(
        hours.insert().from_select(
            ["day", "hr", "wd", "actor_username", "operator_name", "messages"],
            where(sa.select(d.day, d.hr, d.wd, *who, signed(d.messages))).group_by(
                d.day, d.hr, d.wd, *who
            ),
        )
    )
    return out


def doubles_statement(only_work: bool) -> sa.Insert:
    """The leads more than one actor messaged, from the detail rows."""
    d = lead_days.c
    select = (
        sa.select(
            d.target_username,
            sa.func.min(d.day),
            sa.func.max(d.day),
            sa.func.sum(d.messages),
            sa.func.max(d.last_at),
        )
        .where(d.target_username.is_not(None))
        .group_by(d.target_username)
        .having(sa.func.min(d.actor_username) < sa.func.max(d.actor_username))
    )
    if only_work:
        select = select.where(_in_work(d.target_username))
    names = ["target_username", "first_day", "last_day", "messages", "last_at"]
    return doubles.insert().from_select(names, select)


def double_rows_statement(only_work: bool) -> sa.Insert:
    """The detail rows of the leads in ``rollup_doubles``."""
    d = lead_days.c
    names = [c.name for c in double_rows.columns]
    select = sa.select(*(d[name] for name in names)).where(
        d.target_username.in_(sa.select(doubles.c.target_username))
    )
    if only_work:
        select = select.where(_in_work(d.target_username))
    return double_rows.insert().from_select(names, select)


def _lock(conn: sa.Connection) -> tuple[int, int]:
    """Take the fold's lock; returns the summaries' (base rows, delta rows)."""
    conn.execute(sa.update(state).where(state.c.id == 1).values(folds=state.c.folds + 1))
    one = state.c.id == 1
    base = conn.execute(sa.select(state.c.base_rows).where(one)).scalar_one()
    delta = conn.execute(sa.select(state.c.delta_rows).where(one)).scalar_one()
    return int(base), int(delta)


def pending(conn: sa.Connection) -> bool:
    """Whether the triggers queued anything since the last fold."""
    return conn.execute(sa.select(dirty.c.dirty_id).limit(1)).first() is not None


def install(conn: sa.Connection) -> list[str]:
    """``cloud upgrade`` to version 6: create the rollups and fill them from the raw
    logs once (in the upgrade's transaction). Returns the steps taken."""
    for statement in create_statements(conn.dialect):
        conn.exec_driver_sql(statement)
    rows = rebuild(conn)
    return ["CREATE rollup tables and triggers", f"rollups filled from the logs ({rows} rows)"]


def bring_up_to_date(db: CloudDatabase) -> int:
    """Fold, in a transaction of its own, when anything is queued (one cheap read when
    nothing is). Returns how many leads were recomputed."""
    with db.reading() as conn:
        if not pending(conn):
            return 0
    with db.transaction() as conn:
        return fold(conn)


def fold(conn: sa.Connection) -> int:
    """Fold in what changed since the last fold, in the caller's transaction. Returns
    how many leads were recomputed."""
    dialect = conn.dialect.name
    base_rows, delta_rows = _lock(conn)
    if dialect == "postgresql":
        conn.exec_driver_sql(_PG_TAKE)
    else:
        if dialect == "oracle":
            conn.exec_driver_sql("LOCK TABLE rollup_dirty IN EXCLUSIVE MODE")
        conn.execute(
            work.insert().from_select(
                ["target_username"], sa.select(dirty.c.target_username).distinct()
            )
        )
        conn.execute(sa.delete(dirty))
    leads = int(conn.execute(sa.select(sa.func.count()).select_from(work)).scalar_one())
    d = lead_days.c
    old = sa.or_(_in_work(d.target_username), d.target_username.is_(None))
    added = 0
    for statement in delta_statements(old, -1):
        added += conn.execute(statement).rowcount
    conn.execute(sa.delete(lead_days).where(old))
    conn.execute(
        lead_days.insert().from_select(_DETAIL_COLUMNS, detail_select(dialect, only_work=True))
    )
    for statement in delta_statements(_in_work(d.target_username), 1):
        added += conn.execute(statement).rowcount
    conn.execute(sa.delete(doubles).where(_in_work(doubles.c.target_username)))
    conn.execute(sa.delete(double_rows).where(_in_work(double_rows.c.target_username)))
    conn.execute(doubles_statement(only_work=True))
    conn.execute(double_rows_statement(only_work=True))
    t = lead_templates.c
    old_templates = sa.or_(_in_work(t.target_username), t.target_username.is_(None))
    for statement in template_deltas(old_templates, -1):
        added += conn.execute(statement).rowcount
    conn.execute(sa.delete(lead_templates).where(old_templates))
    conn.execute(
        lead_templates.insert().from_select(
            _TEMPLATE_COLUMNS, templates_select(dialect, only_work=True)
        )
    )
    for statement in template_deltas(_in_work(t.target_username), 1):
        added += conn.execute(statement).rowcount
    conn.execute(sa.delete(work))
    delta = delta_rows + max(added, 0)
    if delta > max(base_rows, COMPACT_AFTER):
        compact(conn)
    else:
        conn.execute(sa.update(state).where(state.c.id == 1).values(delta_rows=delta))
    return leads


def compact(conn: sa.Connection) -> int:
    """Recompute the summaries from the detail rows (no delta rows left)."""
    for table in SUMMARIES:
        conn.execute(sa.delete(table))
    rows = sum(
        conn.execute(s).rowcount for s in (*delta_statements(None, 1), *template_deltas(None, 1))
    )
    conn.execute(
        sa.update(state).where(state.c.id == 1).values(base_rows=max(rows, 0), delta_rows=0)
    )
    return rows


def rebuild(conn: sa.Connection) -> int:
    """Recompute every rollup from the raw logs. Returns the detail rows made."""
    _lock(conn)
    for table in (lead_days, doubles, double_rows, lead_templates, dirty, work):
        conn.execute(sa.delete(table))
    made = conn.execute(
        lead_days.insert().from_select(
            _DETAIL_COLUMNS, detail_select(conn.dialect.name, only_work=False)
        )
    ).rowcount
    conn.execute(
        lead_templates.insert().from_select(
            _TEMPLATE_COLUMNS, templates_select(conn.dialect.name, only_work=False)
        )
    )
    compact(conn)
    conn.execute(doubles_statement(only_work=False))
    conn.execute(double_rows_statement(only_work=False))
    return int(made)


_DETAIL_COLUMNS = [c.name for c in lead_days.columns]
_TEMPLATE_COLUMNS = [c.name for c in lead_templates.columns]
