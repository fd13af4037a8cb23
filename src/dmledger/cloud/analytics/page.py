"""The whole Team page's figures in one call, each statement sent once.

``figures`` and ``followup_figures`` answer one figure at a time; several of
their figures are read from the same rows, which the page then reads once and hands
to each: the leads per operator and per account (the boards' lead counts and issue
12's reply rates), the DMs per (status, operator, actor) (the funnel's, the
operators' and the accounts' message counts), and the messages and follow-ups per
day. A period the rollups do not answer (``figures.answers``) is read from the
raw logs, figure by figure, as there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from dmledger.cloud.analytics import figures, followup_figures, raw, raw_followups
from dmledger.cloud.analytics.raw import LogFilter, Row
from dmledger.domain.followups import FollowUpRule


@dataclass
class TeamFigures:
    """Every figure of the Team page, each as its own query function returns it."""

    messages_per_day: list[tuple[date, int]]
    heatmap: list[tuple[int, int, int]]
    lead_statuses: list[tuple[str | None, int, int]]
    by_operator: list[Row]
    by_actor: list[Row]
    double_contacts: tuple[int, list[Row]]
    followups: dict[str, Any]


def team_figures(
    conn: sa.Connection, flt: LogFilter, rule: FollowUpRule, now: datetime
) -> TeamFigures:
    """The Team page's figures under ``flt`` (call ``fold.fold`` first)."""
    if not figures.answers(flt):
        return TeamFigures(
            raw.messages_per_day(conn, flt),
            raw.heatmap(conn, flt),
            raw.lead_statuses(conn, flt),
            raw.by_operator(conn, flt),
            raw.by_actor(conn, flt),
            raw.double_contacts(conn, flt),
            raw_followups.followup_figures(conn, flt, rule, now),
        )
    per_day = list(conn.execute(figures.per_day_statement(flt, conn.dialect.name)))
    sent = figures.messages(conn, flt)
    by_operator = figures.leads(conn, flt, "operator")
    by_actor = figures.leads(conn, flt, "actor")
    return TeamFigures(
        figures.per_day(per_day),
        figures.heatmap(conn, flt),
        figures.statuses_from(figures.leads(conn, flt, "status"), sent),
        figures.operators_from(conn, by_operator, sent),
        figures.actors_from(conn, by_actor, sent),
        figures.double_contacts(conn, flt),
        followup_figures.figures_from(
            conn, flt, rule, now, by_operator=by_operator, by_actor=by_actor, per_day=per_day
        ),
    )
