"""The follow-up figures answered from the rollups (``rollups.py``), with the
shape of ``raw_followups.followup_figures``, whose statements over the raw logs
are the definition these answers are tested against (tests/cloud/test_rollups.py).

As in ``figures``, a period whose bounds are whole UTC days is answered from
the rollups alone, any other by the raw statements. How each figure is read:

- reply rate by operator and by account: the rows of ``figures.leads_statement``
  (the "first in period" rows of ``rollup_firsts`` of the grouping the filter needs,
  summed; the replied leads are those with ``replied`` = 1), which the Team page also
  reads for its leads per operator and per account; by template: the same over
  ``rollup_template_firsts`` (the first rows of the groupings of
  ``rollup_lead_templates``, each with the template);
- median time to first reply: the "first in period" rows of ``rollup_reply_firsts``
  (one per replied lead and grouping, with its first contact and first reply) summed
  per delay (exact: ``raw.delay_of``); a running SUM over the delays in order
  picks the middle one or two (the leads at positions ceil(n/2) and floor(n/2) + 1 of
  n), whose median is then taken in Python by the raw figure's own rule
  (``raw_followups.median_hours``): only those rows and n leave the database;
- follow-ups per day: SUM of ``rollup_status.followups`` per day, in
  ``figures.per_day_statement`` (the messages per day's statement);
- leads lost to "no reply": SUM over the "first in period" rows of
  ``rollup_open_firsts`` (the leads with no reply and no follow-up date) with enough
  DMs, a last DM before the rule's cutoff and a status that does not close the lead.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from dmledger.cloud.analytics import raw_followups
from dmledger.cloud.analytics.figures import answers, fresh, lead_kind, leads, per_day_statement
from dmledger.cloud.analytics.raw import LogFilter, as_delay, delay_of
from dmledger.cloud.analytics.rollups import open_firsts, reply_firsts, template_firsts
from dmledger.domain.followups import CLOSING, FollowUpRule


def template_statement(flt: LogFilter) -> sa.Select[Any]:
    t = template_firsts.c
    total = sa.func.sum(t.leads)
    replied = sa.func.sum(sa.case((t.replied == 1, t.leads), else_=0))
    return (
        sa.select(t.template_name.label("name"), total.label("leads"), replied.label("replied"))
        .where(*fresh(template_firsts, flt, lead_kind(flt, "status")))
        .group_by(t.template_name)
        .having(total > 0)
        .order_by(total.desc(), t.template_name)
    )


def first_reply_statement(flt: LogFilter, dialect: str) -> sa.Select[Any]:
    """The middle delay(s) of the replied leads in order (one row, or two for an even
    count whose middle leads' delays differ), each with ``total``: every replied lead."""
    r = reply_firsts.c
    delay = delay_of(r.first_contacted, r.first_reply, dialect)
    leads = sa.func.sum(r.leads)
    per_delay = (
        sa.select(delay.label("delay"), leads.label("leads"))
        .where(*fresh(reply_firsts, flt, lead_kind(flt, "status")))
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
    """``raw_followups.first_reply`` from the rollups: the same median, bit for
    bit, and count."""
    rows = list(conn.execute(first_reply_statement(flt, conn.dialect.name)))
    if not rows:
        return None, 0
    middle = [as_delay(row.delay) for row in rows]
    return raw_followups.median_hours(middle), int(rows[0].total)


def lost_statement(flt: LogFilter, rule: FollowUpRule, now: datetime) -> sa.Select[Any]:
    o = open_firsts.c
    cutoff = sa.bindparam("cutoff", now - timedelta(days=rule.after_days), type_=sa.TIMESTAMP)
    closing: list[sa.ColumnElement[Any]] = [
        sa.literal_column(f"'{s.value}'") for s in sorted(CLOSING)
    ]
    return sa.select(sa.func.coalesce(sa.func.sum(o.leads), 0).label("lost")).where(
        *fresh(open_firsts, flt, lead_kind(flt, "status")),
        # followups_sent = dm_count - 1 >= max
        o.dm_count >= sa.literal_column(str(rule.max_followups + 1)),
        o.last_dm_at <= cutoff,
        sa.or_(o.status.is_(None), o.status.not_in(closing)),
    )


def statements(flt: LogFilter, dialect: str) -> dict[str, sa.Select[Any]]:
    """Every statement this module sends (for the static Oracle checks); the reply
    rates by operator and by account, and the follow-ups per day, are
    ``figures.statements``'."""
    return {
        "reply_rate_by_template": template_statement(flt),
        "first_reply": first_reply_statement(flt, dialect),
        "lost": lost_statement(flt, FollowUpRule(), datetime(2026, 3, 1)),
    }


def followup_figures(
    conn: sa.Connection, flt: LogFilter, rule: FollowUpRule, now: datetime
) -> dict[str, Any]:
    """The follow-up figures for the Team page, JSON-ready (``raw_followups``'
    shape). Call ``fold.fold`` first, as for ``figures``."""
    if not answers(flt):
        return raw_followups.followup_figures(conn, flt, rule, now)
    return figures_from(
        conn,
        flt,
        rule,
        now,
        by_operator=leads(conn, flt, "operator"),
        by_actor=leads(conn, flt, "actor"),
        per_day=list(conn.execute(per_day_statement(flt, conn.dialect.name))),
    )


def figures_from(
    conn: sa.Connection,
    flt: LogFilter,
    rule: FollowUpRule,
    now: datetime,
    *,
    by_operator: list[Any],
    by_actor: list[Any],
    per_day: list[Any],
) -> dict[str, Any]:
    """``followup_figures`` given what the Team page read already (``answers(flt)``
    only): ``figures.leads``' rows per operator and per account, and
    ``per_day_statement``'s rows."""
    return raw_followups.assemble(
        {
            "by_operator": by_operator,
            "by_actor": by_actor,
            "by_template": list(conn.execute(template_statement(flt))),
        },
        first_reply(conn, flt),
        [row for row in per_day if row.followups > 0],
        int(conn.execute(lost_statement(flt, rule, now)).scalar_one()),
        rule,
    )
