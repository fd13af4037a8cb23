"""P7: the Team page's queries on PostgreSQL with a million outreach logs.

The queries answer from the rollups (``cloud/rollup_figures.py``, and issue 12's
follow-up figures ``cloud/rollup_followups.py``). The logs are COPYed
in with the rollups' triggers on, so every lead is queued; the first fold, which
recomputes them all, is timed apart (``fold_after_load_ms``) before the queries."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg

from bench.context import RunContext, new_home
from bench.data import ACTORS, EPOCH, actor_owner, load_logs
from bench.harness import Figure, median
from dmledger.app.cloud_access import cloud_store_for
from dmledger.app.ledger import Ledger

QUERIES = (
    "messages_per_day",
    "heatmap",
    "lead_statuses",
    "by_operator",
    "by_actor",
    "double_contacts",
)
RUNS = 3


def team_available() -> str | None:
    try:
        from dmledger.cloud.analytics import figures as rollup_figures
    except Exception as error:  # P7 is optional until the dashboards exist
        return f"{type(error).__name__}: {error}"
    missing = [name for name in QUERIES if not hasattr(rollup_figures, name)]
    return f"dmledger.cloud.analytics.figures lacks {', '.join(missing)}" if missing else None


def _follow_up_facts(dsn: str) -> None:
    """What issue 12's figures read, beyond the COPYed logs: half the DMs came from one
    of three templates, a quarter of the contacted leads replied (1 to 72 hours after
    their first contact), and each lead's DM count and last DM are its logs' (as a push
    keeps them). Written with the triggers on, so the fold sees every lead."""
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "UPDATE outreach_logs SET template_name ="
            " (ARRAY['opener', 'bump', 'case study'])[1 + log_id % 3] WHERE log_id % 2 = 0"
        )
        conn.execute(
            "INSERT INTO prospect_replies (client_reply_id, target_username, replied_at)"
            " SELECT gen_random_uuid()::text, target_username,"
            " first_contacted + interval '1 hour' * (1 + abs(hashtext(target_username)) % 72)"
            " FROM prospects WHERE first_contacted IS NOT NULL"
            " AND abs(hashtext(target_username)) % 4 = 0"
        )
        conn.execute(
            "UPDATE prospects p SET last_reply_at = r.at FROM (SELECT target_username,"
            " max(replied_at) AS at FROM prospect_replies GROUP BY target_username) r"
            " WHERE r.target_username = p.target_username"
        )
        conn.execute(
            "UPDATE prospects p SET dm_count = c.n, last_dm_at = c.at FROM (SELECT"
            " target_username, count(*) AS n, max(created_at) AS at FROM outreach_logs"
            " GROUP BY target_username) c WHERE c.target_username = p.target_username"
        )


def team_queries(ctx: RunContext) -> list[Figure]:
    from dmledger.cloud.analytics import figures
    from dmledger.cloud.analytics import fold as rollup_fold
    from dmledger.cloud.analytics import raw as analytics

    n = ctx.sizes.team_logs
    load_logs(ctx.db.dsn(), n, ctx.seed + 7)
    _follow_up_facts(ctx.db.dsn())
    with psycopg.connect(ctx.db.dsn()) as conn:
        counted = conn.execute("SELECT count(*) FROM outreach_logs").fetchone()
    logs = int(counted[0]) if counted else 0
    end = EPOCH + timedelta(days=180)  # first contacts run from EPOCH to here
    actor = ACTORS[3]
    filters: dict[str, Any] = {
        "all time": analytics.LogFilter(),
        "last 30 days": analytics.LogFilter(start=end - timedelta(days=30), end=end),
        "90 days, one operator": analytics.LogFilter(
            start=end - timedelta(days=90), end=end, operator=actor_owner(actor)
        ),
        "90 days, one actor": analytics.LogFilter(
            start=end - timedelta(days=90), end=end, actor=actor
        ),
    }
    store = cloud_store_for(ctx.db.cloud_url())
    found: list[Figure] = []
    try:
        started = time.perf_counter()
        rollup_fold.bring_up_to_date(store.db)
        fold_ms = (time.perf_counter() - started) * 1000
        with psycopg.connect(ctx.db.dsn()) as conn:
            conn.execute("ANALYZE")
        with store.reading() as conn:
            for name in QUERIES:
                query: Callable[..., Any] = getattr(figures, name)
                per_filter: dict[str, float] = {}
                for label, flt in filters.items():
                    query(conn, flt)  # warm: plan and buffers
                    runs = []
                    for _ in range(RUNS):
                        started = time.perf_counter()
                        query(conn, flt)
                        runs.append(time.perf_counter() - started)
                    per_filter[label] = median(runs) * 1000
                worst_label = max(per_filter, key=lambda k: per_filter[k])
                worst = per_filter[worst_label]
                found.append(
                    Figure(
                        "P7",
                        f"Team query {name} with {logs:,} logs (slowest filter: {worst_label})",
                        worst,
                        "ms",
                        None,
                        None,
                        None,
                        "≤ 100 ms",
                        worst <= 100,
                        {
                            "median_ms_by_filter": {k: round(v, 1) for k, v in per_filter.items()},
                            "fold_after_load_ms": round(fold_ms, 1),
                        },
                    )
                )
            found += _followup_figures(conn, filters, logs)
    finally:
        store.dispose()
    found.append(_whole_page(ctx, logs))
    return found


def _followup_figures(conn: Any, filters: dict[str, Any], logs: int) -> list[Figure]:
    """Issue 12's follow-up figures from the rollups (``cloud/rollup_followups.py``),
    each statement under each filter, like the queries above."""
    found: list[Figure] = []
    for name in _followup_statements(next(iter(filters.values()))):
        per_filter: dict[str, float] = {}
        for label, flt in filters.items():
            statement = _followup_statements(flt)[name]
            conn.execute(statement).all()  # warm: plan and buffers
            runs = []
            for _ in range(RUNS):
                started = time.perf_counter()
                conn.execute(statement).all()
                runs.append(time.perf_counter() - started)
            per_filter[label] = median(runs) * 1000
        worst_label = max(per_filter, key=lambda k: per_filter[k])
        worst = per_filter[worst_label]
        found.append(
            Figure(
                "P7",
                f"Team follow-up figure {name} with {logs:,} logs (slowest filter: {worst_label})",
                worst,
                "ms",
                None,
                None,
                None,
                "≤ 100 ms",
                worst <= 100,
                {"median_ms_by_filter": {k: round(v, 1) for k, v in per_filter.items()}},
            )
        )
    return found


def _followup_statements(flt: Any) -> dict[str, Any]:
    """The statements of issue 12's figures, by figure: three of their own, and three
    the Team page shares with other figures (the leads per operator and per account,
    the messages per day: ``cloud/rollup_page.py``)."""
    from dmledger.cloud.analytics import figures as rollup_figures
    from dmledger.cloud.analytics import followup_figures as rollup_followups

    own = rollup_followups.statements(flt, "postgresql")
    return {
        "reply_rate_by_operator": rollup_figures.leads_statement(flt, "operator"),
        "reply_rate_by_actor": rollup_figures.leads_statement(flt, "actor"),
        "reply_rate_by_template": own["reply_rate_by_template"],
        "first_reply": own["first_reply"],
        "followups_per_day": rollup_figures.per_day_statement(flt, "postgresql"),
        "lost": own["lost"],
    }


def _whole_page(ctx: RunContext, logs: int) -> Figure:
    """The Team page's service call as the web page makes it (period "all": every log)."""
    from dmledger.app import dashboard as team
    from dmledger.domain.timeutil import utcnow

    # The report reads only the cloud: any home will do.
    home = new_home(ctx.tmp / "p7_home", ctx.db.cloud_url())
    ledger = Ledger.open(home)
    try:
        flt = team.TeamFilter(period="all")
        team.build_report(ledger.cloud, flt, None, None, utcnow())  # warm
        runs = []
        for _ in range(RUNS):
            started = time.perf_counter()
            team.build_report(ledger.cloud, flt, None, None, utcnow())
            runs.append(time.perf_counter() - started)
        # What of it is issue 12's follow-up figures (from the rollups).
        from dmledger.cloud.analytics.followup_figures import followup_figures
        from dmledger.cloud.analytics.raw import LogFilter
        from dmledger.domain.followups import FollowUpRule

        with ledger.cloud.reading() as conn:
            started = time.perf_counter()
            followup_figures(conn, LogFilter(), FollowUpRule(), utcnow())
            followups_ms = (time.perf_counter() - started) * 1000
    finally:
        ledger.close()
    return Figure(
        "P7",
        f"whole Team page (app.dashboard.build_report, all six queries), {logs:,} logs, all time",
        median(runs) * 1000,
        "ms",
        None,
        None,
        None,
        "≤ 300 ms",
        median(runs) * 1000 <= 300,
        {
            "runs_ms": [round(r * 1000, 1) for r in runs],
            "of_which_followup_figures_ms": round(followups_ms, 1),
        },
    )
