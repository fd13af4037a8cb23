"""The Team page's use case: the team's numbers from the cloud, cached for offline viewing.

Every aggregation runs in the cloud database (``cloud/analytics/``); this
module turns the filter into UTC bounds, fills in what SQL leaves out (days and
statuses with no rows, the 7 × 24 heatmap grid) and keeps the last answer for each
filter in the local store, so the page still shows something, with its age, when
the cloud cannot be reached.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from dmledger.cloud import LogFilter, bring_up_to_date, rate_row, read_team_config, team_figures
from dmledger.domain.followups import rule_of
from dmledger.domain.handles import validate_actor_username
from dmledger.domain.statuses import STATUSES, Status, read_stored_status
from dmledger.domain.text import validate_name
from dmledger.domain.timeutil import format_utc, parse_utc
from dmledger.errors import CloudUnavailable, InvalidInput

if TYPE_CHECKING:
    from collections.abc import Callable

    from dmledger.cloud import CloudStore
    from dmledger.domain.timeutil import Clock
    from dmledger.local import LocalStore

log = logging.getLogger(__name__)

#: The periods the Team page offers, with their labels.
PERIODS: dict[str, str] = {
    "today": "Today",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "all": "All time",
    "custom": "Custom",
}
#: A custom period may not be longer than this (the per-day series has one point a day).
MAX_CUSTOM_DAYS = 3660
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TOTAL_KEYS = ("messages", "leads_contacted", "booked", "clients", "double_contacts")
# Bump when TeamReport's shape changes: older cached payloads are then ignored.
_CACHE_VERSION = 3  # 2: the follow-up figures; 3: the team's reply rate
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class TeamFilter:
    """What the Team page shows: a period and, optionally, one operator or actor.

    ``period`` is "today", "7d", "30d", "all" or "custom". The rolling periods are
    whole UTC days ending with today ("7d" is today and the 6 days before it).
    ``start``/``end`` are for "custom" only: naive UTC (an aware datetime is
    converted), ``start`` inclusive and required, ``end`` exclusive and defaulting to
    the end of today. ``operator`` is an operator name, ``actor`` an Instagram
    username (``@Name`` and profile URLs are accepted, as everywhere).
    """

    period: str = "30d"
    start: datetime | None = None
    end: datetime | None = None
    operator: str | None = None
    actor: str | None = None

    def bounds(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        """The period as ``[start, end)`` in naive UTC (None: unbounded), for ``now``.

        Validates the whole filter; InvalidInput names the value and the rule.
        """
        today = _naive_utc(now).replace(hour=0, minute=0, second=0, microsecond=0)
        tomorrow = today + _DAY
        if self.period not in PERIODS:
            raise InvalidInput(f"period {self.period!r} is not one of: {', '.join(PERIODS)}")
        if self.period != "custom" and (self.start is not None or self.end is not None):
            raise InvalidInput(
                f"start and end apply only to the custom period, not to {self.period!r}"
            )
        self.normalised()  # validates operator and actor
        if self.period == "today":
            return today, tomorrow
        if self.period == "7d":
            return today - 6 * _DAY, tomorrow
        if self.period == "30d":
            return today - 29 * _DAY, tomorrow
        if self.period == "all":
            return None, None
        if self.start is None:
            raise InvalidInput("a custom period needs a start date")
        start = _naive_utc(self.start)
        end = tomorrow if self.end is None else _naive_utc(self.end)
        # Said the way the dates were typed: days, and the last day rather than the
        # exclusive end the queries use.
        first, last = _day_text(start), _day_text(end - _DAY if _is_midnight(end) else end)
        if start >= end:
            raise InvalidInput(
                f"the custom period starts on {first}, after its last day {last}: "
                "choose a start on or before the end"
            )
        if end - start > MAX_CUSTOM_DAYS * _DAY:
            raise InvalidInput(
                f"the custom period {first} to {last} is {(end - start).days} days long: "
                f"the limit is {MAX_CUSTOM_DAYS} days (choose 'all' for everything)"
            )
        return start, end

    def normalised(self) -> TeamFilter:
        """The same filter with the operator trimmed and the actor in stored form."""
        operator = None
        if self.operator is not None and self.operator.strip():
            operator = validate_name(self.operator, "operator name")
        actor = None
        if self.actor is not None and self.actor.strip():
            actor = validate_actor_username(self.actor)
        return replace(self, operator=operator, actor=actor)

    def label(self) -> str:
        """The period for people: "Last 30 days", or the custom range ("2026-11-01 to
        2026-11-07", the last day inclusive when both ends are midnights)."""
        if self.period != "custom" or self.start is None:
            return PERIODS.get(self.period, self.period)
        start = _naive_utc(self.start)
        if self.end is None:
            if _is_midnight(start):
                return f"Since {start:%Y-%m-%d}"
            return f"Since {start:%Y-%m-%d %H:%M} UTC"
        end = _naive_utc(self.end)
        if _is_midnight(start) and _is_midnight(end):
            return f"{start:%Y-%m-%d} to {end - _DAY:%Y-%m-%d}"
        return f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"

    def cache_key(self) -> str:
        """The local cache key of this filter (rolling periods keep their key from day to day)."""
        flt = self.normalised()
        parts = [
            flt.period,
            _iso_or_none(flt.start),
            _iso_or_none(flt.end),
            flt.operator,
            flt.actor,
        ]
        return f"team/v{_CACHE_VERSION}/" + json.dumps(parts, separators=(",", ":"))


@dataclass
class TeamReport:
    """Everything the Team page shows, ready for a template or JSON.

    - ``totals``: messages, leads_contacted, booked (booked or client), clients,
      double_contacts (all of them, not just the listed 50);
    - ``messages_per_day``: ``(ISO date, messages)`` for every UTC day of the period,
      zeros included (for "all": from the first to the last day with a DM);
    - ``by_operator``: ``{operator, messages, leads, booked}``, most messages first
      (``operator`` None for DMs whose operator is unknown);
    - ``by_actor``: ``{actor, operator, status, messages, leads, booked}``, ``status``
      being the account's health (active, restricted, banned, retired);
    - ``funnel``: ``(status, leads)`` for all nine statuses in pipeline order, counting
      the leads messaged in the period by their current status;
    - ``heatmap``: 7 rows (Monday first) of 24 hourly counts, UTC;
    - ``double_contacts``: the 50 most recent, ``{handle, actors, first_contacted,
      last_message_at, messages}`` (times naive UTC datetimes).
    """

    generated_at: datetime
    period_label: str
    totals: dict[str, int]
    messages_per_day: list[tuple[str, int]]
    by_operator: list[dict[str, Any]]
    by_actor: list[dict[str, Any]]
    funnel: list[tuple[str, int]]
    heatmap: list[list[int]]
    double_contacts: list[dict[str, Any]] = field(default_factory=list)
    # The follow-up figures: reply rates, time to first reply, follow-ups per day, leads lost
    # (cloud/analytics/followup_figures.py: followup_figures), JSON-ready as they come.
    followups: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ISO 8601 with a trailing Z, tuples as lists."""
        return {
            "generated_at": format_utc(self.generated_at),
            "period_label": self.period_label,
            "totals": dict(self.totals),
            "messages_per_day": [[day, count] for day, count in self.messages_per_day],
            "by_operator": [dict(row) for row in self.by_operator],
            "by_actor": [dict(row) for row in self.by_actor],
            "funnel": [[status, count] for status, count in self.funnel],
            "heatmap": [list(row) for row in self.heatmap],
            "double_contacts": [
                {
                    **row,
                    "actors": list(row["actors"]),
                    "first_contacted": format_utc(row.get("first_contacted")),
                    "last_message_at": format_utc(row.get("last_message_at")),
                }
                for row in self.double_contacts
            ],
            "followups": self.followups,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TeamReport:
        """The inverse of ``to_dict``. InvalidInput when the payload is not a report."""
        try:
            return cls(
                generated_at=parse_utc(data["generated_at"]),
                period_label=str(data["period_label"]),
                totals={key: int(data["totals"][key]) for key in TOTAL_KEYS},
                messages_per_day=[(str(d), int(n)) for d, n in data["messages_per_day"]],
                by_operator=[dict(row) for row in data["by_operator"]],
                by_actor=[dict(row) for row in data["by_actor"]],
                funnel=[(str(s), int(n)) for s, n in data["funnel"]],
                heatmap=[[int(n) for n in row] for row in data["heatmap"]],
                double_contacts=[
                    {
                        **row,
                        "actors": [str(a) for a in row["actors"]],
                        "first_contacted": _parse_or_none(row.get("first_contacted")),
                        "last_message_at": _parse_or_none(row.get("last_message_at")),
                    }
                    for row in data["double_contacts"]
                ],
                followups=dict(data.get("followups") or {}),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidInput(f"not a team report: {error!r}") from None


class TeamDashboard:
    """The Team page's numbers for one home: owned by ``Ledger`` (``ledger.team``), built
    with the local store (the cache of reports), the cloud store (opened on first use,
    so a broken cloud setting is an error of the fetch) and the clock."""

    def __init__(self, local: LocalStore, cloud: Callable[[], CloudStore], clock: Clock) -> None:
        self.local = local
        self._cloud = cloud
        self.clock = clock

    def report(self, flt: TeamFilter) -> tuple[TeamReport, datetime, bool]:
        """``(report, fetched_at, from_cache)`` for the Team page.

        Queries the cloud; on success caches the report in the local store under the
        filter's key. When the cloud cannot be reached (CloudUnavailable) returns the
        cached report for the same filter, with the time it was fetched (naive UTC: the
        caller shows its age), or re-raises when there is none. InvalidInput for a bad
        filter, before anything is sent.
        """
        now = self.clock()
        start, end = flt.bounds(now)
        flt = flt.normalised()
        key = flt.cache_key()
        try:
            report = build_report(self._cloud(), flt, start, end, now)
        except CloudUnavailable:
            cached = self._cached(key)
            if cached is None:
                raise
            log.info("cloud unreachable: showing the team report cached at %s", cached[1])
            return cached[0], cached[1], True
        with self.local.transaction() as conn:
            self.local.put_team_cache(conn, key, json.dumps(report.to_dict()), now)
        return report, now, False

    def _cached(self, key: str) -> tuple[TeamReport, datetime] | None:
        with self.local.reading() as conn:
            found = self.local.get_team_cache(conn, key)
        if found is None:
            return None
        payload, fetched_at = found
        try:
            return TeamReport.from_dict(json.loads(payload)), fetched_at
        except (InvalidInput, ValueError) as error:
            # A payload from an older version is as good as none; the next fetch replaces it.
            log.warning("ignoring an unreadable cached team report (%s): %s", key, error)
            return None


def build_report(
    cloud: CloudStore,
    flt: TeamFilter,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
) -> TeamReport:
    """Fold the latest writes into the rollups, run the Team queries from them (one
    connection, each statement once: ``cloud/analytics/page.py``) and assemble."""
    where = LogFilter(start=start, end=end, operator=flt.operator, actor=flt.actor)
    bring_up_to_date(cloud.db)
    # One snapshot: a teammate's fold committed between two statements would make the
    # totals of one disagree with the rows of another.
    with cloud.snapshot() as conn:
        rule = rule_of(read_team_config(conn).rules)
        found = team_figures(conn, where, rule, now)
    double_total, doubles = found.double_contacts
    funnel_counts = dict.fromkeys(STATUSES, 0)
    messages = 0
    for raw, leads, sent in found.lead_statuses:
        funnel_counts[read_stored_status(raw).value] += leads
        messages += sent
    totals = {
        "messages": messages,
        "leads_contacted": sum(funnel_counts.values()),
        "booked": funnel_counts[Status.BOOKED] + funnel_counts[Status.CLIENT],
        "clients": funnel_counts[Status.CLIENT],
        "double_contacts": double_total,
    }
    return TeamReport(
        generated_at=now,
        period_label=flt.label(),
        totals=totals,
        messages_per_day=_every_day(found.messages_per_day, start, end),
        by_operator=found.by_operator,
        by_actor=found.by_actor,
        funnel=[(status, funnel_counts[status]) for status in STATUSES],
        heatmap=_grid(found.heatmap),
        double_contacts=doubles,
        followups=_with_team_rate(found.followups, totals["leads_contacted"]),
    )


def _with_team_rate(followups: dict[str, Any], leads: int) -> dict[str, Any]:
    """The team's reply rate: the leads contacted in the period and those of them who
    replied, each lead once (summing the operators' rows counts a lead that two
    operators messaged twice)."""
    if not followups:
        return followups
    return {
        **followups,
        "reply_rate_team": rate_row(None, leads, int(followups.get("replied_leads", 0))),
    }


def _every_day(
    counts: list[tuple[date, int]], start: datetime | None, end: datetime | None
) -> list[tuple[str, int]]:
    """One point per UTC day of ``[start, end)``; unbounded ends follow the data."""
    found = dict(counts)
    if start is not None:
        first = start.date()
    elif found:
        first = min(found)
    else:
        return []
    if end is not None:
        last = (end - timedelta(microseconds=1)).date()
    elif found:
        last = max(found)
    else:
        return []
    days = []
    day = first
    while day <= last:
        days.append((day.isoformat(), found.get(day, 0)))
        day += _DAY
    return days


def _grid(cells: list[tuple[int, int, int]]) -> list[list[int]]:
    grid = [[0] * 24 for _ in WEEKDAYS]
    for weekday, hour, count in cells:
        grid[weekday][hour] += count
    return grid


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _day_text(moment: datetime) -> str:
    """``2029-01-01``, or ``2029-01-01 10:30 UTC`` for a time that is not midnight."""
    return f"{moment:%Y-%m-%d}" if _is_midnight(moment) else f"{moment:%Y-%m-%d %H:%M} UTC"


def _is_midnight(moment: datetime) -> bool:
    return moment == moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else _naive_utc(moment).isoformat()


def _parse_or_none(text: object) -> datetime | None:
    return None if text is None else parse_utc(str(text))


__all__ = ["PERIODS", "TeamDashboard", "TeamFilter", "TeamReport", "build_report"]
