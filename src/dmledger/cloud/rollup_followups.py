"""Issue 12's follow-up figures answered from the rollups (``rollups.py``), with the
shape of ``followup_analytics.followup_figures``, whose statements over the raw logs
are the definition these answers are tested against (tests/cloud/test_rollups.py).

As in ``rollup_figures``, a period whose bounds are whole UTC days is answered from
the rollups alone, any other by the raw statements. How each figure is read:

- reply rate by operator and by account: SUM over the "first in period" rows of
  ``rollup_firsts`` of the grouping the filter needs, the replied leads being those
  with ``replied`` = 1; by template: the same over ``rollup_template_firsts`` (the
  first rows of the groupings of ``rollup_lead_templates``, each with the template);
- median time to first reply: the "first in period" rows of ``rollup_reply_firsts``
  (one per replied lead and grouping, with its first contact and first reply) summed
  per delay (exact: ``analytics.delay_of``); a running SUM over the delays in order
  picks the middle one or two (the leads at positions ceil(n/2) and floor(n/2) + 1 of
  n), whose median is then taken in Python by the raw figure's own rule
  (``followup_analytics.median_hours``): only those rows and n leave the database;
- follow-ups per day: SUM of ``rollup_status.followups`` per day;
- leads lost to "no reply": SUM over the "first in period" rows of
  ``rollup_open_firsts`` (the leads with no reply and no follow-up date) with enough
  DMs, a last DM before the rule's cutoff and a status that does not close the lead.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from dmledger.cloud import followup_analytics
from dmledger.cloud.analytics import LogFilter, as_delay, delay_of
from dmledger.cloud.rollup_figures import answers, kind_of, period, who
from dmledger.cloud.rollups import (
    firsts,
    open_firsts,
    reply_firsts,
    status_days,
    template_firsts,
)
from dmledger.domain.followups import CLOSING, FollowUpRule


def _fresh(table: sa.Table, flt: LogFilter, kind: int) -> list[sa.ColumnElement[bool]]:
    """The first-in-period rows of grouping ``kind`` of ``table`` under ``flt``."""
    c = table.c
    start = None if flt.start is None else sa.bindparam("d_from", flt.start.date(), type_=sa.Date)
    fresh = (
        c.prev_day.is_(None) if start is None else sa.or_(c.prev_day.is_(None), c.prev_day < start)
    )
    return [c.kind == sa.literal_column(str(kind)), *period(c.day, flt), fresh, *who(table, flt)]


def _lead_kind(flt: LogFilter) -> int:
    return kind_of(flt.actor is not None, flt.operator is not None)


def _rate_statement(flt: LogFilter, kind: int, key: sa.ColumnElement[Any]) -> sa.Select[Any]:
    total = sa.func.sum(firsts.c.leads)
    replied = sa.func.sum(sa.case((firsts.c.replied == 1, firsts.c.leads), else_=0))
    return (
        sa.select(key.label("name"), total.label("leads"), replied.label("replied"))
        .where(*_fresh(firsts, flt, kind))
        .group_by(key)
        .having(total > 0)
        .order_by(total.desc(), key)
    )


def _template_statement(flt: LogFilter) -> sa.Select[Any]:
    t = template_firsts.c
    total = sa.func.sum(t.leads)
    replied = sa.func.sum(sa.case((t.replied == 1, t.leads), else_=0))
    return (
        sa.select(t.template_name.label("name"), total.label("leads"), replied.label("replied"))
        .where(*_fresh(template_firsts, flt, _lead_kind(flt)))
        .group_by(t.template_name)
        .having(total > 0)
        .order_by(total.desc(), t.template_name)
    )


def reply_rate_statements(flt: LogFilter) -> dict[str, sa.Select[Any]]:
    return {
        "by_operator": _rate_statement(
            flt, 3 if flt.actor is not None else 2, firsts.c.operator_name
        ),
        "by_actor": _rate_statement(
            flt, 3 if flt.operator is not None else 1, firsts.c.actor_username
        ),
        "by_template": _template_statement(flt),
    }


def first_reply_statement(flt: LogFilter, dialect: str) -> sa.Select[Any]:
    """The middle delay(s) of the replied leads in order (one row, or two for an even
    count whose middle leads' delays differ), each with ``total``: every replied lead."""
    r = reply_firsts.c
    delay = delay_of(r.first_contacted, r.first_reply, dialect)
    leads = sa.func.sum(r.leads)
    per_delay = (
        sa.select(delay.label("delay"), leads.label("leads"))
        .where(*_fresh(reply_firsts, flt, _lead_kind(flt)))
        .group_by(delay)
        .having(leads > 0)
        .subquery("per_delay")
    )
    d = per_delay.c
    running = sa.select(
        d.delay,
        d.leads,
        sa.func.sum(d.leads).over(order_by=d.delay, rows=(None, 0)).label("upto"),
        sa.func.sum(d.leads).over().label("total"),
    ).subquery("running")
    c = running.c
    two: sa.ColumnElement[int] = sa.literal_column("2")
    # This row holds the leads at positions (upto - leads, upto]; the middle ones of
    # ``total`` are ceil(total / 2) and floor(total / 2) + 1, written without a
    # division (Oracle's is not an integer one).
    return (
        sa.select(c.delay, c.total)
        .where(two * c.upto >= c.total, two * (c.upto - c.leads) <= c.total)
        .order_by(c.delay)
    )


def first_reply(conn: sa.Connection, flt: LogFilter) -> tuple[float | None, int]:
    """``followup_analytics.first_reply`` from the rollups: the same median, bit for
    bit, and count."""
    rows = list(conn.execute(first_reply_statement(flt, conn.dialect.name)))
    if not rows:
        return None, 0
    middle = [as_delay(row.delay) for row in rows]
    return followup_analytics.median_hours(middle), int(rows[0].total)


def followups_per_day_statement(flt: LogFilter) -> sa.Select[Any]:
    s = status_days.c
    total = sa.func.sum(s.followups)
    return (
        sa.select(s.day.label("day"), total.label("followups"))
        .where(*period(s.day, flt), *who(status_days, flt))
        .group_by(s.day)
        .having(total > 0)
        .order_by(s.day)
    )


def lost_statement(flt: LogFilter, rule: FollowUpRule, now: datetime) -> sa.Select[Any]:
    o = open_firsts.c
    cutoff = sa.bindparam("cutoff", now - timedelta(days=rule.after_days), type_=sa.TIMESTAMP)
    closing: list[sa.ColumnElement[Any]] = [
        sa.literal_column(f"'{s.value}'") for s in sorted(CLOSING)
    ]
    return sa.select(sa.func.coalesce(sa.func.sum(o.leads), 0).label("lost")).where(
        *_fresh(open_firsts, flt, _lead_kind(flt)),
        # followups_sent = dm_count - 1 >= max
        o.dm_count >= sa.literal_column(str(rule.max_followups + 1)),
        o.last_dm_at <= cutoff,
        sa.or_(o.status.is_(None), o.status.not_in(closing)),
    )


def statements(flt: LogFilter, dialect: str) -> dict[str, sa.Select[Any]]:
    """Every statement this module sends (for the static Oracle checks)."""
    found = {f"reply_rate_{k}": v for k, v in reply_rate_statements(flt).items()}
    found["first_reply"] = first_reply_statement(flt, dialect)
    found["followups_per_day"] = followups_per_day_statement(flt)
    found["lost"] = lost_statement(flt, FollowUpRule(), datetime(2026, 3, 1))
    return found


def followup_figures(
    conn: sa.Connection, flt: LogFilter, rule: FollowUpRule, now: datetime
) -> dict[str, Any]:
    """The follow-up figures for the Team page, JSON-ready (``followup_analytics``'
    shape). Call ``rollup_fold.fold`` first, as for ``rollup_figures``."""
    if not answers(flt):
        return followup_analytics.followup_figures(conn, flt, rule, now)
    return followup_analytics.assemble(
        {key: list(conn.execute(s)) for key, s in reply_rate_statements(flt).items()},
        first_reply(conn, flt),
        list(conn.execute(followups_per_day_statement(flt))),
        int(conn.execute(lost_statement(flt, rule, now)).scalar_one()),
        rule,
    )
