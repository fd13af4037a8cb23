"""The Team queries answered from the rollups (``rollups.py``), with the same names,
arguments and row shapes as ``raw.py``, whose statements over the raw logs are
the definition these answers are tested against.

A period whose bounds are whole UTC days (every period the Team page offers except a
custom one typed with a time of day) is answered from the rollups alone; a period
bounded inside a day cannot be cut out of day buckets, and is answered by the raw
statements (``analytics``). Call ``fold.fold`` first (``app.dashboard`` does), so
the rollups include every write.

How each figure is read (S, E: the period's first and after-last day):

- messages per day: SUM over ``rollup_status`` in [S, E) (with the follow-ups
  per day, in the same statement); the heatmap: over ``rollup_hours`` (its weekday
  stored);
- leads (distinct) per status, operator or actor, booked leads and replied leads: SUM
  over the "first in period" rows of ``rollup_firsts`` -- day in [S, E), previous day
  NULL or before S -- of the grouping the filter needs (``KINDS``); the rows per
  operator and per account are also the reply rates (``followup_figures``);
- DMs per status, operator or actor: SUM over ``rollup_status``, one statement per
  (status, operator, actor) summed in Python for each;
- double contacts: all time unfiltered, ``rollup_doubles`` itself; else
  ``rollup_double_rows`` (the detail rows of the leads more than
  one actor ever messaged) in [S, E), grouped per lead.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from dmledger.cloud.analytics import raw
from dmledger.cloud.analytics.raw import (
    BOOKED_STATUSES,
    DOUBLE_CONTACTS_LIMIT,
    LogFilter,
    Row,
    as_date,
)
from dmledger.cloud.analytics.rollups import double_rows, doubles, firsts, hours, status_days
from dmledger.cloud.tables import actors, prospects


def answers(flt: LogFilter) -> bool:
    """Whether the rollups answer ``flt``: both bounds absent or at midnight."""
    return all(
        bound is None or bound == datetime.combine(bound.date(), datetime.min.time())
        for bound in (flt.start, flt.end)
    )


def _day(bound: datetime | None, name: str) -> sa.BindParameter[date] | None:
    return None if bound is None else sa.bindparam(name, bound.date(), type_=sa.Date)


def _period(day: sa.ColumnElement[Any], flt: LogFilter) -> list[sa.ColumnElement[bool]]:
    start, end = _day(flt.start, "d_from"), _day(flt.end, "d_to")
    found: list[sa.ColumnElement[bool]] = []
    if start is not None:
        found.append(day >= start)
    if end is not None:
        found.append(day < end)
    return found


def _who(table: sa.Table | Any, flt: LogFilter) -> list[sa.ColumnElement[bool]]:
    found: list[sa.ColumnElement[bool]] = []
    if flt.actor is not None:
        found.append(table.c.actor_username == sa.bindparam("actor_name", flt.actor))
    if flt.operator is not None:
        found.append(table.c.operator_name == sa.bindparam("op_name", flt.operator))
    return found


def _kind(actor: bool, op: bool) -> int:
    return {(False, False): 0, (True, False): 1, (False, True): 2, (True, True): 3}[(actor, op)]


def fresh(table: sa.Table, flt: LogFilter, kind: int) -> list[sa.ColumnElement[bool]]:
    """The first-in-period rows of grouping ``kind`` of ``table`` (``rollup_firsts`` or
    one of the follow-up figures' tables of first rows) under ``flt``."""
    c = table.c
    start = _day(flt.start, "d_from")
    fresh = (
        c.prev_day.is_(None) if start is None else sa.or_(c.prev_day.is_(None), c.prev_day < start)
    )
    return [c.kind == sa.literal_column(str(kind)), *_period(c.day, flt), fresh, *_who(table, flt)]


#: What the lead counts are grouped by, and the column.
LEAD_KEYS = {
    "status": firsts.c.status,
    "operator": firsts.c.operator_name,
    "actor": firsts.c.actor_username,
}


def lead_kind(flt: LogFilter, by: str) -> int:
    """The grouping of a lead that counts it once per ``by`` under ``flt``: the lead with
    whichever of actor and operator the key or the filter names."""
    return _kind(
        by == "actor" or flt.actor is not None, by == "operator" or flt.operator is not None
    )


def _booked(status: sa.ColumnElement[Any], value: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    return sa.func.sum(
        sa.case(
            (status.in_([sa.literal_column(f"'{s}'") for s in BOOKED_STATUSES]), value), else_=0
        )
    )


# -- statements ------------------------------------------------------------------------


def per_day_statement(flt: LogFilter, dialect: str) -> sa.Select[Any]:
    """Messages and follow-ups per day (follow-ups are some of the day's
    DMs: a day with any has messages)."""
    # rollup_status has fewer rows a day than rollup_hours.
    s = status_days.c
    total = sa.func.sum(s.messages)
    return (
        sa.select(
            s.day.label("day"), total.label("messages"), sa.func.sum(s.followups).label("followups")
        )
        .where(*_period(s.day, flt), *_who(status_days, flt))
        .group_by(s.day)
        .having(total > 0)
        .order_by(s.day)
    )


def heatmap_statement(flt: LogFilter, dialect: str) -> sa.Select[Any]:
    wd = hours.c.wd
    total = sa.func.sum(hours.c.messages)
    return (
        sa.select(wd.label("wd"), hours.c.hr.label("hr"), total.label("messages"))
        .where(*_period(hours.c.day, flt), *_who(hours, flt))
        .group_by(wd, hours.c.hr)
        .having(total > 0)
    )


def leads_statement(flt: LogFilter, by: str) -> sa.Select[Any]:
    """``name, leads, booked, replied`` per ``LEAD_KEYS[by]``, most leads first (then
    the name, in the database's order: the reply rates are listed so)."""
    key = LEAD_KEYS[by]
    c = firsts.c
    total = sa.func.sum(c.leads)
    replied = sa.func.sum(sa.case((c.replied == sa.literal_column("1"), c.leads), else_=0))
    return (
        sa.select(
            key.label("name"),
            total.label("leads"),
            _booked(c.status, c.leads).label("booked"),
            replied.label("replied"),
        )
        .where(*fresh(firsts, flt, lead_kind(flt, by)))
        .group_by(key)
        .having(total > 0)
        .order_by(total.desc(), key)
    )


def messages_statement(flt: LogFilter) -> sa.Select[Any]:
    """DMs per (status, operator, actor): what ``messages_by`` sums per status, per
    operator and per actor (one statement for the three)."""
    s = status_days.c
    total = sa.func.sum(s.messages)
    keys = (s.status, s.operator_name, s.actor_username)
    return (
        sa.select(*keys, total.label("messages"))
        .where(*_period(s.day, flt), *_who(status_days, flt))
        .group_by(*keys)
        .having(total != 0)
    )


def messages_by(rows: list[Any], by: str) -> dict[Any, int]:
    """``messages_statement``'s rows summed per status, operator or actor (those with
    DMs only)."""
    column = {"status": "status", "operator": "operator_name", "actor": "actor_username"}[by]
    found: dict[Any, int] = {}
    for row in rows:
        key = getattr(row, column)
        found[key] = found.get(key, 0) + int(row.messages)
    return {key: count for key, count in found.items() if count > 0}


def _candidates(flt: LogFilter) -> sa.Select[Any]:
    d = double_rows.c
    found = (
        sa.select(
            d.target_username.label("handle"),
            sa.func.sum(d.messages).label("messages"),
            sa.func.max(d.last_at).label("last_message_at"),
        )
        .where(*_period(d.day, flt))
        .group_by(d.target_username)
        .having(sa.func.min(d.actor_username) < sa.func.max(d.actor_username))
    )
    if flt.actor is not None or flt.operator is not None:
        touched = double_rows.alias("touched")
        found = found.where(
            d.target_username.in_(
                sa.select(touched.c.target_username).where(
                    *_period(touched.c.day, flt), *_who(touched, flt)
                )
            )
        )
    return found


def double_contacts_statement(
    flt: LogFilter, dialect: str, limit: int = DOUBLE_CONTACTS_LIMIT
) -> sa.Select[Any]:
    if flt == LogFilter():
        # All time, no filter: the double contacts are rollup_doubles itself.
        d = doubles.c
        found = sa.select(
            d.target_username.label("handle"),
            d.messages.label("messages"),
            d.last_at.label("last_message_at"),
        ).subquery("doubles")
    else:
        found = _candidates(flt).subquery("doubles")
    # The lead rows are joined for the listed ones only, after the limit.
    listed = (
        sa.select(found, sa.func.count().over().label("total"))
        .order_by(found.c.last_message_at.desc(), found.c.handle)
        .limit(limit)
        .subquery("listed")
    )
    return (
        sa.select(
            listed.c.handle,
            listed.c.messages,
            listed.c.last_message_at,
            prospects.c.first_contacted,
            listed.c.total,
        )
        .select_from(listed.outerjoin(prospects, prospects.c.target_username == listed.c.handle))
        .order_by(listed.c.last_message_at.desc(), listed.c.handle)
    )


def lead_actors_statement(flt: LogFilter, handles: list[str]) -> sa.Select[Any]:
    d = double_rows.c
    return (
        sa.select(d.target_username.label("handle"), d.actor_username.label("actor"))
        .where(
            d.target_username.in_(sa.bindparam("handles", handles, expanding=True)),
            d.actor_username.is_not(None),
            *_period(d.day, flt),
        )
        .distinct()
        .order_by(d.target_username, d.actor_username)
    )


def statements(flt: LogFilter, dialect: str) -> dict[str, sa.Select[Any]]:
    """Every statement this module sends, by name (for static checks on Oracle)."""
    return {
        "per_day": per_day_statement(flt, dialect),
        "heatmap": heatmap_statement(flt, dialect),
        **{f"{by}_leads": leads_statement(flt, by) for by in LEAD_KEYS},
        "messages": messages_statement(flt),
        "double_contacts": double_contacts_statement(flt, dialect),
        "lead_actors": lead_actors_statement(flt, ["a.lead", "b.lead"]),
    }


# -- queries (analytics' signatures and shapes) --------------------------------------------


def messages_per_day(conn: sa.Connection, flt: LogFilter) -> list[tuple[date, int]]:
    if not answers(flt):
        return raw.messages_per_day(conn, flt)
    return per_day(list(conn.execute(per_day_statement(flt, conn.dialect.name))))


def per_day(rows: list[Any]) -> list[tuple[date, int]]:
    """``per_day_statement``'s rows as ``messages_per_day`` returns them."""
    return [(as_date(r.day), int(r.messages)) for r in rows]


def heatmap(conn: sa.Connection, flt: LogFilter) -> list[tuple[int, int, int]]:
    if not answers(flt):
        return raw.heatmap(conn, flt)
    rows = conn.execute(heatmap_statement(flt, conn.dialect.name))
    return [(int(r.wd), int(r.hr), int(r.messages)) for r in rows]


def leads(conn: sa.Connection, flt: LogFilter, by: str) -> list[Any]:
    """``leads_statement``'s rows (``answers(flt)`` only)."""
    return list(conn.execute(leads_statement(flt, by)))


def messages(conn: sa.Connection, flt: LogFilter) -> list[Any]:
    """``messages_statement``'s rows (``answers(flt)`` only)."""
    return list(conn.execute(messages_statement(flt)))


def lead_statuses(conn: sa.Connection, flt: LogFilter) -> list[tuple[str | None, int, int]]:
    if not answers(flt):
        return raw.lead_statuses(conn, flt)
    return statuses_from(leads(conn, flt, "status"), messages(conn, flt))


def statuses_from(
    lead_rows: list[Any], message_rows: list[Any]
) -> list[tuple[str | None, int, int]]:
    """``lead_statuses`` from ``leads(…, "status")`` and ``messages``."""
    sent = messages_by(message_rows, "status")
    return [(r.name, int(r.leads), sent.get(r.name, 0)) for r in lead_rows]


def _board(
    conn: sa.Connection, lead_rows: list[Any], sent: dict[Any, int]
) -> list[tuple[Any, int, int, int]]:
    """``(key, messages, leads, booked)``, most messages first (then the key, NULL last
    on PostgreSQL and Oracle, first on SQLite, as their ORDER BY puts it)."""
    counted = {r.name: (int(r.leads), int(r.booked or 0)) for r in lead_rows}
    rows = [(key, count, *counted.get(key, (0, 0))) for key, count in sent.items()]
    nulls_last = conn.dialect.name != "sqlite"
    rows.sort(key=lambda r: (-r[1], (r[0] is None) == nulls_last, r[0] or ""))
    return rows


def by_operator(conn: sa.Connection, flt: LogFilter) -> list[Row]:
    if not answers(flt):
        return raw.by_operator(conn, flt)
    return operators_from(conn, leads(conn, flt, "operator"), messages(conn, flt))


def operators_from(conn: sa.Connection, lead_rows: list[Any], message_rows: list[Any]) -> list[Row]:
    """``by_operator`` from ``leads(…, "operator")`` and ``messages``."""
    return [
        {"operator": key, "messages": sent, "leads": leads, "booked": booked}
        for key, sent, leads, booked in _board(
            conn, lead_rows, messages_by(message_rows, "operator")
        )
    ]


def by_actor(conn: sa.Connection, flt: LogFilter) -> list[Row]:
    if not answers(flt):
        return raw.by_actor(conn, flt)
    return actors_from(conn, leads(conn, flt, "actor"), messages(conn, flt))


def actors_from(conn: sa.Connection, lead_rows: list[Any], message_rows: list[Any]) -> list[Row]:
    """``by_actor`` from ``leads(…, "actor")`` and ``messages`` (and the accounts)."""
    board = _board(conn, lead_rows, messages_by(message_rows, "actor"))
    names = [key for key, *_ in board if key is not None]
    people = (
        {
            r.username: (r.owner_operator, r.status)
            for r in conn.execute(
                sa.select(actors.c.username, actors.c.owner_operator, actors.c.status).where(
                    actors.c.username.in_(sa.bindparam("names", names, expanding=True))
                )
            )
        }
        if names
        else {}
    )
    return [
        {
            "actor": key,
            "operator": people.get(key, (None, None))[0],
            "status": people.get(key, (None, None))[1] or "active",
            "messages": sent,
            "leads": leads,
            "booked": booked,
        }
        for key, sent, leads, booked in board
    ]


def double_contacts(
    conn: sa.Connection, flt: LogFilter, limit: int = DOUBLE_CONTACTS_LIMIT
) -> tuple[int, list[Row]]:
    if not answers(flt):
        return raw.double_contacts(conn, flt, limit)
    found = list(conn.execute(double_contacts_statement(flt, conn.dialect.name, limit)))
    return raw.double_contact_rows(conn, found, lambda handles: lead_actors_statement(flt, handles))
