"""The Team queries answered from the rollups (``rollups.py``), with the same names,
arguments and row shapes as ``analytics.py``, whose statements over the raw logs are
the definition these answers are tested against.

A period whose bounds are whole UTC days (every period the Team page offers except a
custom one typed with a time of day) is answered from the rollups alone; a period
bounded inside a day cannot be cut out of day buckets, and is answered by the raw
statements (``analytics``). Call ``rollup_fold.fold`` first (``app.team`` does), so
the rollups include every write.

How each figure is read (S, E: the period's first and after-last day):

- messages per day: SUM over ``rollup_status`` in [S, E); the heatmap: over
  ``rollup_hours`` (its weekday stored);
- leads (distinct) per status, operator or actor, and booked leads: SUM over the
  "first in period" rows of ``rollup_firsts`` -- day in [S, E), previous day NULL or
  before S -- of the grouping the filter needs (``KINDS``);
- DMs per status, operator or actor: SUM over ``rollup_status``;
- double contacts: all time unfiltered, ``rollup_doubles`` itself; else
  ``rollup_double_rows`` (the detail rows of the leads more than
  one actor ever messaged) in [S, E), grouped per lead.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from dmledger.cloud import analytics
from dmledger.cloud.analytics import (
    BOOKED_STATUSES,
    DOUBLE_CONTACTS_LIMIT,
    LogFilter,
    Row,
    as_date,
)
from dmledger.cloud.rollups import double_rows, doubles, firsts, hours, status_days
from dmledger.cloud.schema import actors, prospects


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


def _firsts(flt: LogFilter, kind: int) -> list[sa.ColumnElement[bool]]:
    """The first-in-period rows of grouping ``kind`` under ``flt``."""
    c = firsts.c
    start = _day(flt.start, "d_from")
    fresh = (
        c.prev_day.is_(None) if start is None else sa.or_(c.prev_day.is_(None), c.prev_day < start)
    )
    return [c.kind == sa.literal_column(str(kind)), *_period(c.day, flt), fresh, *_who(firsts, flt)]


# For rollup_followups (issue 12's figures read the rollups the same way).
period, who, kind_of = _period, _who, _kind


def _booked(status: sa.ColumnElement[Any], value: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    return sa.func.sum(
        sa.case(
            (status.in_([sa.literal_column(f"'{s}'") for s in BOOKED_STATUSES]), value), else_=0
        )
    )


# -- statements ------------------------------------------------------------------------


def per_day_statement(flt: LogFilter, dialect: str) -> sa.Select[Any]:
    # rollup_status has fewer rows a day than rollup_hours.
    s = status_days.c
    total = sa.func.sum(s.messages)
    return (
        sa.select(s.day.label("sent_day"), total.label("messages"))
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


def _leads_statement(flt: LogFilter, kind: int, key: sa.ColumnElement[Any]) -> sa.Select[Any]:
    total = sa.func.sum(firsts.c.leads)
    return (
        sa.select(
            key.label("k"),
            total.label("leads"),
            _booked(firsts.c.status, firsts.c.leads).label("booked"),
        )
        .where(*_firsts(flt, kind))
        .group_by(key)
        .having(total > 0)
    )


def _messages_statement(flt: LogFilter, key: sa.ColumnElement[Any]) -> sa.Select[Any]:
    total = sa.func.sum(status_days.c.messages)
    return (
        sa.select(key.label("k"), total.label("messages"))
        .where(*_period(status_days.c.day, flt), *_who(status_days, flt))
        .group_by(key)
        .having(total > 0)
    )


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
        "status_leads": _leads_statement(
            flt, _kind(flt.actor is not None, flt.operator is not None), firsts.c.status
        ),
        "status_messages": _messages_statement(flt, status_days.c.status),
        "operator_leads": _leads_statement(
            flt, _kind(True, True) if flt.actor else 2, firsts.c.operator_name
        ),
        "operator_messages": _messages_statement(flt, status_days.c.operator_name),
        "actor_leads": _leads_statement(flt, 3 if flt.operator else 1, firsts.c.actor_username),
        "actor_messages": _messages_statement(flt, status_days.c.actor_username),
        "double_contacts": double_contacts_statement(flt, dialect),
        "lead_actors": lead_actors_statement(flt, ["a.lead", "b.lead"]),
    }


# -- queries (analytics' signatures and shapes) --------------------------------------------


def messages_per_day(conn: sa.Connection, flt: LogFilter) -> list[tuple[date, int]]:
    if not answers(flt):
        return analytics.messages_per_day(conn, flt)
    rows = conn.execute(per_day_statement(flt, conn.dialect.name))
    return [(as_date(r.sent_day), int(r.messages)) for r in rows]


def heatmap(conn: sa.Connection, flt: LogFilter) -> list[tuple[int, int, int]]:
    if not answers(flt):
        return analytics.heatmap(conn, flt)
    rows = conn.execute(heatmap_statement(flt, conn.dialect.name))
    return [(int(r.wd), int(r.hr), int(r.messages)) for r in rows]


def lead_statuses(conn: sa.Connection, flt: LogFilter) -> list[tuple[str | None, int, int]]:
    if not answers(flt):
        return analytics.lead_statuses(conn, flt)
    kind = _kind(flt.actor is not None, flt.operator is not None)
    leads = {r.k: int(r.leads) for r in conn.execute(_leads_statement(flt, kind, firsts.c.status))}
    messages = {
        r.k: int(r.messages) for r in conn.execute(_messages_statement(flt, status_days.c.status))
    }
    return [(status, count, messages.get(status, 0)) for status, count in leads.items()]


def _board(
    conn: sa.Connection,
    flt: LogFilter,
    kind: int,
    lead_key: sa.ColumnElement[Any],
    key: sa.ColumnElement[Any],
) -> list[tuple[Any, int, int, int]]:
    """``(key, messages, leads, booked)``, most messages first (then the key, NULL last
    on PostgreSQL and Oracle, first on SQLite, as their ORDER BY puts it)."""
    leads = {
        r.k: (int(r.leads), int(r.booked or 0))
        for r in conn.execute(_leads_statement(flt, kind, lead_key))
    }
    rows = [
        (r.k, int(r.messages), *leads.get(r.k, (0, 0)))
        for r in conn.execute(_messages_statement(flt, key))
    ]
    nulls_last = conn.dialect.name != "sqlite"
    rows.sort(key=lambda r: (-r[1], (r[0] is None) == nulls_last, r[0] or ""))
    return rows


def by_operator(conn: sa.Connection, flt: LogFilter) -> list[Row]:
    if not answers(flt):
        return analytics.by_operator(conn, flt)
    kind = 3 if flt.actor is not None else 2
    return [
        {"operator": key, "messages": messages, "leads": leads, "booked": booked}
        for key, messages, leads, booked in _board(
            conn, flt, kind, firsts.c.operator_name, status_days.c.operator_name
        )
    ]


def by_actor(conn: sa.Connection, flt: LogFilter) -> list[Row]:
    if not answers(flt):
        return analytics.by_actor(conn, flt)
    kind = 3 if flt.operator is not None else 1
    board = _board(conn, flt, kind, firsts.c.actor_username, status_days.c.actor_username)
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
            "messages": messages,
            "leads": leads,
            "booked": booked,
        }
        for key, messages, leads, booked in board
    ]


def double_contacts(
    conn: sa.Connection, flt: LogFilter, limit: int = DOUBLE_CONTACTS_LIMIT
) -> tuple[int, list[Row]]:
    if not answers(flt):
        return analytics.double_contacts(conn, flt, limit)
    found = list(conn.execute(double_contacts_statement(flt, conn.dialect.name, limit)))
    return analytics.double_contact_rows(
        conn, found, lambda handles: lead_actors_statement(flt, handles)
    )
