"""The team dashboards' statements: every aggregation runs in the cloud database.

Each query function takes an open cloud Connection and a ``LogFilter`` and returns
plain rows; nothing here reads all outreach logs into Python. The ``*_statement``
builders are public so the Oracle variants can be compiled and parsed statically
(``statements()`` lists every one of them).

Definitions shared by every query:

- a log counts when ``created_at`` (the DM's sent time, naive UTC) is in
  ``[start, end)``; the operator of a log is ``operator_name``, or, for rows written
  by the seed's tool (which has no such column), the owner of the actor that sent it;
- "leads" are distinct ``target_username`` values messaged;
- "booked" leads have the status booked or client (compared lower-case, so the
  seed tool's ``Booked``/``Client`` count too);
- a double contact is a lead whose logs in the period come from more than one
  distinct actor. The operator/actor filter picks which leads are looked at (those
  the operator or actor messaged in the period); the actors are counted over all of
  the lead's logs in the period, so filtering by one actor still shows the leads it
  shares with someone else.

Where dialects differ (day, hour and ISO weekday of a timestamp) the three variants
sit side by side in one function. Constants inside those expressions are literal SQL,
never bind parameters: PostgreSQL and Oracle only match a GROUP BY expression with a
SELECT expression when both are textually the same, and two binds never are.

Performance (the Team queries' benchmark: each within 300 ms on PostgreSQL with
1,000,000 logs).
What EXPLAIN shows on a generated million-log table, index by index of
``schema.INDEXES``: ``ix_logs_created`` bounds every period (bitmap or index-only
scan); ``ix_logs_operator_created`` serves the operator filter, both its
``operator_name = ?`` branch and the ``operator_name IS NULL`` branch of the seed
tool's rows (a BitmapOr); ``ix_logs_actor_created`` serves the actor filter (an
index-only scan for the day buckets); ``ix_logs_target`` (target, actor) feeds the
all-time per-lead and per-(lead, actor) groups as a presorted index-only scan, and
the double contacts' actor lists. Distinct counts are written as a GROUP BY in a
subquery and "more than one actor" as ``MIN(actor) < MAX(actor)``: PostgreSQL can
hash those, whereas COUNT(DISTINCT) always sorts. The all-time period still reads
every log; only the bounded periods stay well inside the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from dmledger.cloud.tables import actors, outreach_logs, prospects

#: Statuses (lower-case) that count as booked.
BOOKED_STATUSES = ("booked", "client")

#: How many double contacts ``double_contacts`` lists at most (the total is counted apart).
DOUBLE_CONTACTS_LIMIT = 50

Row = dict[str, Any]


@dataclass(frozen=True)
class LogFilter:
    """Which DMs a query counts. Times are naive UTC; ``None`` means unbounded or any.

    ``start`` is inclusive, ``end`` exclusive. ``operator`` and ``actor`` are exact,
    already-normalised names (the service validates them).
    """

    start: datetime | None = None
    end: datetime | None = None
    operator: str | None = None
    actor: str | None = None


# -- dialect variants ------------------------------------------------------------------


def _sql(text: str) -> ColumnElement[Any]:
    """A constant written into the SQL text (see the module docstring: no binds in GROUP BY)."""
    return sa.literal_column(text)


def day_of(column: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp: a date (PostgreSQL), 'YYYY-MM-DD' (SQLite),
    a DATE at midnight (Oracle). Callers normalise with ``as_date``."""
    if dialect == "postgresql":
        return sa.cast(column, sa.Date)
    if dialect == "oracle":
        return sa.func.trunc(column)
    return sa.func.date(column)


def weekday_of(column: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """0 for Monday … 6 for Sunday, whatever the session's language or territory."""
    if dialect == "postgresql":
        # date_part is EXTRACT returning a float instead of a numeric: three times faster
        # to compute and group on, which matters over a million rows.
        return sa.cast(sa.func.date_part(_sql("'isodow'"), column), sa.Integer) - _sql("1")
    if dialect == "oracle":
        # 'IW' truncates to the ISO week's Monday; 'D' would depend on NLS_TERRITORY.
        return sa.func.trunc(column) - sa.func.trunc(column, _sql("'IW'"))
    # strftime('%w') is 0 for Sunday.
    return (sa.cast(sa.func.strftime(_sql("'%w'"), column), sa.Integer) + _sql("6")) % _sql("7")


def hour_of(column: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """The hour 0…23 of a timestamp (UTC: cloud timestamps are stored in UTC)."""
    if dialect == "postgresql":
        return sa.cast(sa.func.date_part(_sql("'hour'"), column), sa.Integer)
    if dialect == "oracle":
        return sa.func.to_number(sa.func.to_char(column, _sql("'HH24'")))
    return sa.cast(sa.func.strftime(_sql("'%H'"), column), sa.Integer)


def delay_of(
    earlier: ColumnElement[Any], later: ColumnElement[Any], dialect: str
) -> ColumnElement[Any]:
    """``later - earlier`` exactly, to the microsecond, as a value that sorts and groups
    like the time between them: an interval (PostgreSQL, Oracle: the driver returns a
    timedelta) or whole microseconds (SQLite). Callers normalise with ``as_delay``."""
    if dialect in ("postgresql", "oracle"):
        return later - earlier

    # SQLite keeps a timestamp as 'YYYY-MM-DD HH:MM:SS[.ffffff]' text, read back by
    # SQLAlchemy with the fraction padded or cut to six digits. strftime('%s') alone
    # would round a fraction to milliseconds (up to the next second from .9995), and
    # julianday is a double: the seconds come from the whole-second prefix and the
    # microseconds from the digits, as the text says.
    def micros(moment: ColumnElement[Any]) -> ColumnElement[Any]:
        seconds = sa.cast(
            sa.func.strftime(_sql("'%s'"), sa.func.substr(moment, _sql("1"), _sql("19"))),
            sa.BigInteger,
        )
        fraction = sa.func.substr(moment, _sql("21")).concat(_sql("'000000'"))
        digits = sa.func.substr(fraction, _sql("1"), _sql("6"))
        return seconds * _sql("1000000") + sa.cast(digits, sa.BigInteger)

    return sa.type_coerce(micros(later) - micros(earlier), sa.BigInteger)


def as_delay(value: object) -> timedelta:
    """A ``delay_of`` value from any dialect as a ``timedelta``."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int):
        return timedelta(microseconds=value)
    raise TypeError(f"not a delay: {value!r}")


def as_date(value: object) -> date:
    """A day bucket from any dialect (date, datetime, or ISO text) as a ``date``."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


# -- the filtered logs -------------------------------------------------------------------


def _period(flt: LogFilter) -> list[ColumnElement[bool]]:
    created = outreach_logs.c.created_at
    conditions: list[ColumnElement[bool]] = []
    if flt.start is not None:
        conditions.append(created >= sa.bindparam("t_from", flt.start, type_=sa.TIMESTAMP))
    if flt.end is not None:
        conditions.append(created < sa.bindparam("t_to", flt.end, type_=sa.TIMESTAMP))
    return conditions


def _filtered_logs(
    flt: LogFilter,
    dialect: str,
    *,
    buckets: bool = False,
    operator: bool = False,
    template: bool = False,
) -> sa.Subquery:
    """The logs the filter selects, as subquery ``fl`` with columns ``target``, ``actor``,
    and on request ``op`` (the effective operator) and the ``sent_day``/``wd``/``hr``
    buckets.

    The actors join is only made when the operator is needed: the common unfiltered
    queries then read ``outreach_logs`` alone.
    """
    logs = outreach_logs
    need_operator = operator or flt.operator is not None
    source: sa.FromClause = logs
    columns: list[ColumnElement[Any]] = [
        logs.c.target_username.label("target"),
        logs.c.actor_username.label("actor"),
    ]
    conditions = _period(flt)
    if need_operator:
        source = logs.outerjoin(actors, actors.c.username == logs.c.actor_username)
        effective = sa.func.coalesce(logs.c.operator_name, actors.c.owner_operator)
        columns.append(effective.label("op"))
        if flt.operator is not None:
            # Written as an OR of the two cases rather than on the COALESCE, so that
            # the first branch can use ix_logs_operator_created.
            chosen = sa.bindparam("op_name", flt.operator, type_=sa.String)
            conditions.append(
                sa.or_(
                    logs.c.operator_name == chosen,
                    sa.and_(logs.c.operator_name.is_(None), actors.c.owner_operator == chosen),
                )
            )
    if flt.actor is not None:
        conditions.append(
            logs.c.actor_username == sa.bindparam("actor_name", flt.actor, type_=sa.String)
        )
    if template:
        # The follow-up figures: the template a DM came from, and its time.
        columns += [logs.c.template_name.label("template"), logs.c.created_at.label("created")]
    if buckets:
        created = logs.c.created_at
        columns += [
            day_of(created, dialect).label("sent_day"),
            weekday_of(created, dialect).label("wd"),
            hour_of(created, dialect).label("hr"),
        ]
    return sa.select(*columns).select_from(source).where(*conditions).subquery("fl")


# The follow-up figures (raw_followups.py) read the same filtered logs.
filtered_logs = _filtered_logs


def _join_booked(pairs: sa.Subquery) -> sa.Join:
    """``pairs`` joined to its lead's prospect row only when that lead is booked.

    The status test sits in the join condition, so COUNT(prospects.target_username)
    counts booked leads and the database may build its hash from booked rows alone.
    """
    return pairs.outerjoin(
        prospects,
        sa.and_(
            prospects.c.target_username == pairs.c.target,
            sa.func.lower(prospects.c.status).in_(BOOKED_STATUSES),
        ),
    )


# -- statements --------------------------------------------------------------------------


def per_day_statement(flt: LogFilter, dialect: str) -> sa.Select[Any]:
    """Messages per UTC day (only days with messages): ``sent_day, messages``."""
    fl = _filtered_logs(flt, dialect, buckets=True)
    return (
        sa.select(fl.c.sent_day, sa.func.count().label("messages"))
        .group_by(fl.c.sent_day)
        .order_by(fl.c.sent_day)
    )


def heatmap_statement(flt: LogFilter, dialect: str) -> sa.Select[Any]:
    """Messages per (weekday 0=Monday, hour UTC): ``wd, hr, messages``."""
    fl = _filtered_logs(flt, dialect, buckets=True)
    return sa.select(fl.c.wd, fl.c.hr, sa.func.count().label("messages")).group_by(fl.c.wd, fl.c.hr)


def lead_statuses_statement(flt: LogFilter, dialect: str) -> sa.Select[Any]:
    """Leads messaged, and their messages, per current status (lower-case, as stored):
    ``status, leads, messages``. Feeds the funnel and the totals."""
    fl = _filtered_logs(flt, dialect)
    per_lead = (
        sa.select(fl.c.target, sa.func.count().label("n"))
        .group_by(fl.c.target)
        .subquery("per_lead")
    )
    status = sa.func.lower(prospects.c.status)
    return (
        sa.select(
            status.label("status"),
            sa.func.count(per_lead.c.target).label("leads"),
            sa.func.sum(per_lead.c.n).label("messages"),
        )
        .select_from(
            per_lead.outerjoin(prospects, prospects.c.target_username == per_lead.c.target)
        )
        .group_by(status)
    )


def by_operator_statement(flt: LogFilter, dialect: str) -> sa.Select[Any]:
    """The operators' leaderboard: ``operator, messages, leads, booked``, most messages first."""
    fl = _filtered_logs(flt, dialect, operator=True)
    pairs = (
        sa.select(fl.c.op, fl.c.target, sa.func.count().label("n"))
        .group_by(fl.c.op, fl.c.target)
        .subquery("pairs")
    )
    messages = sa.func.sum(pairs.c.n)
    return (
        sa.select(
            pairs.c.op.label("operator"),
            messages.label("messages"),
            sa.func.count(pairs.c.target).label("leads"),
            sa.func.count(prospects.c.target_username).label("booked"),
        )
        .select_from(_join_booked(pairs))
        .group_by(pairs.c.op)
        .order_by(messages.desc(), pairs.c.op)
    )


def by_actor_statement(flt: LogFilter, dialect: str) -> sa.Select[Any]:
    """The actors' leaderboard: ``actor, operator, status, messages, leads, booked``.

    ``operator`` and ``status`` are the actor's own (owner operator, account health).
    """
    fl = _filtered_logs(flt, dialect)
    # (target, actor) is ix_logs_target's order: over all time the groups stream
    # from an index-only scan instead of being hashed.
    pairs = (
        sa.select(fl.c.target, fl.c.actor, sa.func.count().label("n"))
        .group_by(fl.c.target, fl.c.actor)
        .subquery("pairs")
    )
    messages = sa.func.sum(pairs.c.n)
    return (
        sa.select(
            pairs.c.actor.label("actor"),
            actors.c.owner_operator.label("operator"),
            actors.c.status.label("status"),
            messages.label("messages"),
            sa.func.count(pairs.c.target).label("leads"),
            sa.func.count(prospects.c.target_username).label("booked"),
        )
        .select_from(_join_booked(pairs).outerjoin(actors, actors.c.username == pairs.c.actor))
        .group_by(pairs.c.actor, actors.c.owner_operator, actors.c.status)
        .order_by(messages.desc(), pairs.c.actor)
    )


def double_contacts_statement(
    flt: LogFilter, dialect: str, limit: int = DOUBLE_CONTACTS_LIMIT
) -> sa.Select[Any]:
    """The most recent double contacts: ``handle, messages, last_message_at,
    first_contacted, total`` (``total`` = how many double contacts in all)."""
    logs = outreach_logs
    spread = (
        sa.select(
            logs.c.target_username.label("handle"),
            sa.func.count().label("messages"),
            sa.func.max(logs.c.created_at).label("last_message_at"),
        )
        .where(*_period(flt))
        .group_by(logs.c.target_username)
        # More than one distinct actor, without a sort-based COUNT(DISTINCT).
        .having(sa.func.min(logs.c.actor_username) < sa.func.max(logs.c.actor_username))
    )
    if flt.operator is not None or flt.actor is not None:
        touched = _filtered_logs(flt, dialect)
        spread = spread.where(logs.c.target_username.in_(sa.select(touched.c.target)))
    doubles = spread.subquery("doubles")
    return (
        sa.select(
            doubles.c.handle,
            doubles.c.messages,
            doubles.c.last_message_at,
            prospects.c.first_contacted,
            sa.func.count().over().label("total"),
        )
        .select_from(doubles.outerjoin(prospects, prospects.c.target_username == doubles.c.handle))
        .order_by(doubles.c.last_message_at.desc(), doubles.c.handle)
        .limit(limit)
    )


def lead_actors_statement(flt: LogFilter, handles: Sequence[str]) -> sa.Select[Any]:
    """The distinct actors that messaged each of ``handles`` in the period: ``handle, actor``."""
    logs = outreach_logs
    return (
        sa.select(logs.c.target_username.label("handle"), logs.c.actor_username.label("actor"))
        .where(
            logs.c.target_username.in_(sa.bindparam("handles", list(handles), expanding=True)),
            logs.c.actor_username.is_not(None),
            *_period(flt),
        )
        .distinct()
        .order_by(logs.c.target_username, logs.c.actor_username)
    )


def statements(flt: LogFilter, dialect: str) -> dict[str, sa.Select[Any]]:
    """Every statement this module sends, by name (for static checks on Oracle)."""
    return {
        "per_day": per_day_statement(flt, dialect),
        "heatmap": heatmap_statement(flt, dialect),
        "lead_statuses": lead_statuses_statement(flt, dialect),
        "by_operator": by_operator_statement(flt, dialect),
        "by_actor": by_actor_statement(flt, dialect),
        "double_contacts": double_contacts_statement(flt, dialect),
        "lead_actors": lead_actors_statement(flt, ["a.lead", "b.lead"]),
    }


# -- queries -----------------------------------------------------------------------------


def messages_per_day(conn: sa.Connection, flt: LogFilter) -> list[tuple[date, int]]:
    """``(day, messages)`` for each UTC day that has messages, oldest first."""
    rows = conn.execute(per_day_statement(flt, conn.dialect.name))
    return [(as_date(r.sent_day), int(r.messages)) for r in rows]


def heatmap(conn: sa.Connection, flt: LogFilter) -> list[tuple[int, int, int]]:
    """``(weekday 0=Monday…6, hour 0…23 UTC, messages)`` for each non-empty cell."""
    rows = conn.execute(heatmap_statement(flt, conn.dialect.name))
    return [(int(r.wd), int(r.hr), int(r.messages)) for r in rows]


def lead_statuses(conn: sa.Connection, flt: LogFilter) -> list[tuple[str | None, int, int]]:
    """``(status as stored, lower-case or None, leads, messages)`` per status of the leads
    messaged. The raw status is returned so the caller can read legacy values
    (``cold_noreply``) with the domain's rules."""
    rows = conn.execute(lead_statuses_statement(flt, conn.dialect.name))
    return [(r.status, int(r.leads), int(r.messages or 0)) for r in rows]


def by_operator(conn: sa.Connection, flt: LogFilter) -> list[Row]:
    """``{operator, messages, leads, booked}`` per operator, most messages first.

    ``operator`` is None for logs whose operator cannot be told (no operator_name and
    an actor without an owner)."""
    rows = conn.execute(by_operator_statement(flt, conn.dialect.name))
    return [
        {
            "operator": r.operator,
            "messages": int(r.messages),
            "leads": int(r.leads),
            "booked": int(r.booked or 0),
        }
        for r in rows
    ]


def by_actor(conn: sa.Connection, flt: LogFilter) -> list[Row]:
    """``{actor, operator, status, messages, leads, booked}`` per actor, most messages first.

    ``status`` is the actor's account health ("active" when the cloud has none)."""
    rows = conn.execute(by_actor_statement(flt, conn.dialect.name))
    return [
        {
            "actor": r.actor,
            "operator": r.operator,
            "status": r.status or "active",
            "messages": int(r.messages),
            "leads": int(r.leads),
            "booked": int(r.booked or 0),
        }
        for r in rows
    ]


def double_contacts(
    conn: sa.Connection, flt: LogFilter, limit: int = DOUBLE_CONTACTS_LIMIT
) -> tuple[int, list[Row]]:
    """``(total, rows)``: how many double contacts there are, and the ``limit`` most
    recent as ``{handle, actors, first_contacted, last_message_at, messages}``
    (``actors`` sorted; ``messages`` counts all of the lead's DMs in the period)."""
    found = list(conn.execute(double_contacts_statement(flt, conn.dialect.name, limit)))
    return double_contact_rows(conn, found, lambda handles: lead_actors_statement(flt, handles))


def double_contact_rows(
    conn: sa.Connection,
    found: list[sa.Row[Any]],
    actors_statement: Callable[[list[str]], sa.Select[Any]],
) -> tuple[int, list[Row]]:
    """``double_contacts``' answer from its leads' rows (``handle, first_contacted,
    last_message_at, messages, total``) and the statement naming each lead's actors
    (rows ``handle, actor``, sorted): the raw logs' and the rollups' share it."""
    if not found:
        return 0, []
    handles = [str(r.handle) for r in found]
    senders: dict[str, list[str]] = {h: [] for h in handles}
    for r in conn.execute(actors_statement(handles)):
        senders[str(r.handle)].append(str(r.actor))
    rows = [
        {
            "handle": str(r.handle),
            "actors": senders[str(r.handle)],
            "first_contacted": r.first_contacted,
            "last_message_at": r.last_message_at,
            "messages": int(r.messages),
        }
        for r in found
    ]
    return int(found[0].total), rows


__all__ = [
    "BOOKED_STATUSES",
    "DOUBLE_CONTACTS_LIMIT",
    "LogFilter",
    "by_actor",
    "by_operator",
    "double_contact_rows",
    "double_contacts",
    "heatmap",
    "lead_statuses",
    "messages_per_day",
    "statements",
]
