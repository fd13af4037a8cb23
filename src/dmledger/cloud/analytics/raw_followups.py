"""The Team page's follow-up figures, aggregated in the cloud like the rest of
``analytics.py`` and over the same filtered logs (period, operator, actor):

- reply rate = replied leads / contacted leads, by operator, by account and by template
  (a lead counts once per operator, account or template that messaged it in the period;
  "replied" means it has a recorded reply at all);
- median time from first contact to first reply, over the leads messaged in the period
  that replied (here the median is taken in Python over one row per such lead: the
  definition; ``followup_figures`` picks the middle delays in SQL);
- follow-ups sent per day: DMs in the period later than their lead's first contact;
- leads lost to "no reply after the last follow-up": the SQL mirror of
  ``domain.followups.lost`` under the team's rule (a test keeps the two in agreement).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from dmledger.cloud.analytics.raw import LogFilter, as_date, day_of, filtered_logs
from dmledger.cloud.tables import prospect_replies, prospects
from dmledger.domain.followups import CLOSING, FollowUpRule

Row = dict[str, Any]


def _rate_statement(flt: LogFilter, dialect: str, key: str) -> sa.Select[Any]:
    fl = filtered_logs(flt, dialect, operator=key == "op", template=key == "template")
    # A log without a lead contacts no one (the rollups keep only logs with a lead).
    pairs = sa.select(fl.c[key].label("k"), fl.c.target).where(fl.c.target.is_not(None))
    pairs = pairs.distinct()
    if key == "template":
        pairs = pairs.where(fl.c.template.is_not(None))
    sub = pairs.subquery("pairs")
    return (
        sa.select(
            sub.c.k.label("name"),
            sa.func.count().label("leads"),
            sa.func.count(prospects.c.last_reply_at).label("replied"),
        )
        .select_from(sub.outerjoin(prospects, prospects.c.target_username == sub.c.target))
        .group_by(sub.c.k)
        .order_by(sa.func.count().desc(), sub.c.k)
    )


def reply_rate_statements(flt: LogFilter, dialect: str) -> dict[str, sa.Select[Any]]:
    return {
        "by_operator": _rate_statement(flt, dialect, "op"),
        "by_actor": _rate_statement(flt, dialect, "actor"),
        "by_template": _rate_statement(flt, dialect, "template"),
    }


def first_reply_statement(flt: LogFilter, dialect: str) -> sa.Select[Any]:
    fl = filtered_logs(flt, dialect)
    leads = sa.select(fl.c.target).distinct().subquery("leads")
    r = prospect_replies.c
    return (
        sa.select(prospects.c.first_contacted, sa.func.min(r.replied_at).label("first_reply"))
        .select_from(
            leads.join(prospects, prospects.c.target_username == leads.c.target).join(
                prospect_replies, r.target_username == leads.c.target
            )
        )
        .group_by(leads.c.target, prospects.c.first_contacted)
    )


def followups_per_day_statement(flt: LogFilter, dialect: str) -> sa.Select[Any]:
    fl = filtered_logs(flt, dialect, template=True)
    day = day_of(fl.c.created, dialect)
    return (
        sa.select(day.label("day"), sa.func.count().label("followups"))
        .select_from(fl.join(prospects, prospects.c.target_username == fl.c.target))
        .where(fl.c.created > prospects.c.first_contacted)
        .group_by(day)
        .order_by(day)
    )


def lost_statement(
    flt: LogFilter, dialect: str, rule: FollowUpRule, now: datetime
) -> sa.Select[Any]:
    fl = filtered_logs(flt, dialect)
    leads = sa.select(fl.c.target).distinct().subquery("leads")
    p = prospects.c
    cutoff = sa.bindparam("cutoff", now - timedelta(days=rule.after_days), type_=sa.TIMESTAMP)
    closing: list[sa.ColumnElement[Any]] = [
        sa.literal_column(f"'{s.value}'") for s in sorted(CLOSING)
    ]
    return (
        sa.select(sa.func.count().label("lost"))
        .select_from(leads.join(prospects, p.target_username == leads.c.target))
        .where(
            p.last_reply_at.is_(None),
            p.follow_up_at.is_(None),
            p.last_dm_at <= cutoff,
            # followups_sent = dm_count - 1 >= max
            p.dm_count >= sa.literal_column(str(rule.max_followups + 1)),
            sa.or_(p.status.is_(None), sa.func.lower(p.status).not_in(closing)),
        )
    )


def statements(flt: LogFilter, dialect: str) -> dict[str, sa.Select[Any]]:
    """Every statement this module sends (for the static Oracle checks)."""
    found = {f"reply_rate_{k}": v for k, v in reply_rate_statements(flt, dialect).items()}
    found["first_reply"] = first_reply_statement(flt, dialect)
    found["followups_per_day"] = followups_per_day_statement(flt, dialect)
    found["lost"] = lost_statement(flt, dialect, FollowUpRule(), datetime(2026, 3, 1))
    return found


def first_reply(conn: sa.Connection, flt: LogFilter) -> tuple[float | None, int]:
    """The median time from first contact to first reply, in hours and not rounded
    (None: no lead replied), and how many replied leads it is taken over."""
    delays = [
        row.first_reply - row.first_contacted
        for row in conn.execute(first_reply_statement(flt, conn.dialect.name))
        if row.first_contacted is not None and row.first_reply is not None
    ]
    return median_hours(delays), len(delays)


def median_hours(delays: Sequence[timedelta]) -> float | None:
    """The median of ``delays`` in hours, the mean of the middle two for an even count
    (None: no delay). One rule for the raw figure (every delay) and the rollups' (the
    middle one or two delays only, which have the same median)."""
    if not delays:
        return None
    return statistics.median(delay.total_seconds() / 3600 for delay in delays)


def followup_figures(
    conn: sa.Connection, flt: LogFilter, rule: FollowUpRule, now: datetime
) -> dict[str, Any]:
    """The follow-up figures for the Team page, JSON-ready, from the raw logs."""
    dialect = conn.dialect.name
    return assemble(
        {key: list(conn.execute(s)) for key, s in reply_rate_statements(flt, dialect).items()},
        first_reply(conn, flt),
        list(conn.execute(followups_per_day_statement(flt, dialect))),
        int(conn.execute(lost_statement(flt, dialect, rule, now)).scalar_one()),
        rule,
    )


def rate_row(name: str | None, leads: int, replied: int) -> dict[str, Any]:
    """One reply rate's JSON shape: leads messaged, those who replied, their share."""
    return {
        "name": name,
        "leads": leads,
        "replied": replied,
        "rate": round(replied / leads, 4) if leads else 0.0,
    }


def assemble(
    rates: dict[str, list[Any]],
    first_replies: tuple[float | None, int],
    per_day: list[Any],
    lost: int,
    rule: FollowUpRule,
) -> dict[str, Any]:
    """The figures' JSON shape (one source, for the raw statements and the rollups):
    ``rates`` rows have ``name, leads, replied``; ``first_replies`` is ``first_reply``'s
    (median hours, replied leads); ``per_day`` rows have ``day, followups``."""
    median, replied = first_replies
    return {
        "reply_rate": {
            key: [rate_row(row.name, int(row.leads), int(row.replied)) for row in rows]
            for key, rows in rates.items()
        },
        "median_hours_to_first_reply": None if median is None else round(median, 1),
        "replied_leads": replied,
        "followups_per_day": [
            [as_date(row.day).isoformat(), int(row.followups)] for row in per_day
        ],
        "lost_no_reply": lost,
        "rule": {"follow_up_after_days": rule.after_days, "max_followups": rule.max_followups},
    }
