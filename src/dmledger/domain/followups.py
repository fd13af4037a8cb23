"""The follow-up rule: when a lead is due for its next DM. Pure, no I/O.

A lead is due N days after its last DM while it has no reply and fewer than the
rule's maximum of follow-ups (DMs after the first); a follow-up date set by hand
overrides the rule; a reply or a closing status (booked, client, rejected, excluded)
means it is never due. All times are naive UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dmledger.domain.statuses import Status, read_stored_status
from dmledger.errors import InvalidInput

CLOSING: frozenset[Status] = frozenset(
    {Status.BOOKED, Status.CLIENT, Status.REJECTED, Status.EXCLUDED}
)
MAX_DAYS = 365
MAX_FOLLOWUPS = 20


@dataclass(frozen=True)
class FollowUpRule:
    """The team's rule: due ``after_days`` after the last DM, at most ``max_followups``."""

    after_days: int = 3
    max_followups: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.after_days <= MAX_DAYS:
            raise InvalidInput(
                f"follow-up-after {self.after_days} days is out of range: 1 to {MAX_DAYS}"
            )
        if not 0 <= self.max_followups <= MAX_FOLLOWUPS:
            raise InvalidInput(
                f"--max {self.max_followups} is out of range: 0 to {MAX_FOLLOWUPS} follow-ups"
            )


@dataclass(frozen=True)
class FollowUpState:
    """What the rule reads of a lead."""

    status: str | None
    last_dm_at: datetime | None = None
    dm_count: int = 0
    last_reply_at: datetime | None = None
    follow_up_at: datetime | None = None  # set by hand; None: the rule decides


RULE_AFTER = "follow_up_after_days"  # the keys of the rule in the cloud's team_rules
RULE_MAX = "max_followups"


def rule_values(rule: FollowUpRule) -> dict[str, str]:
    return {RULE_AFTER: str(rule.after_days), RULE_MAX: str(rule.max_followups)}


def rule_of(values: dict[str, str]) -> FollowUpRule:
    """The rule stored in the cloud; a value another tool wrote that is not a valid rule
    reads as the default, so it never stops a sync."""
    default = FollowUpRule()
    try:
        return FollowUpRule(
            int(values.get(RULE_AFTER, default.after_days)),
            int(values.get(RULE_MAX, default.max_followups)),
        )
    except (ValueError, InvalidInput):
        return default


def followups_sent(state: FollowUpState) -> int:
    """DMs after the first one."""
    return _after_first(state.dm_count)


def _after_first(dm_count: int) -> int:
    return max(0, dm_count - 1)


def due_at(state: FollowUpState, rule: FollowUpRule) -> datetime | None:
    """When the lead is due for a follow-up (None: never, as things stand)."""
    return due_of(
        state.status, state.last_dm_at, state.dm_count, state.last_reply_at,
        state.follow_up_at, rule,
    )  # fmt: skip


def due_of(
    status: str | None,
    last_dm_at: datetime | None,
    dm_count: int,
    last_reply_at: datetime | None,
    follow_up_at: datetime | None,
    rule: FollowUpRule,
) -> datetime | None:
    """``due_at`` from the state's fields (a full resync asks it per row, without
    making a state)."""
    if last_reply_at is not None or read_stored_status(status) in CLOSING:
        return None
    if follow_up_at is not None:
        return follow_up_at
    if last_dm_at is None or _after_first(dm_count) >= rule.max_followups:
        return None
    return last_dm_at + timedelta(days=rule.after_days)


def lost(state: FollowUpState, rule: FollowUpRule, now: datetime) -> bool:
    """No reply after the last follow-up the rule allows, and its wait is over."""
    return (
        state.last_reply_at is None
        and state.follow_up_at is None
        and read_stored_status(state.status) not in CLOSING
        and state.last_dm_at is not None
        and followups_sent(state) >= rule.max_followups
        and state.last_dm_at + timedelta(days=rule.after_days) <= now
    )


_RELATIVE = re.compile(r"^\+(\d{1,3})d$")
_DURATION = re.compile(r"^(\d{1,3})d$")


def parse_days(raw: str, what: str) -> int:
    """``2d`` or ``2`` as a number of days."""
    text = raw.strip().lower()
    match = _DURATION.match(text) or (re.match(r"^(\d{1,3})$", text))
    if not match:
        raise InvalidInput(f"{what} {raw!r} is not a number of days such as 2d")
    return int(match.group(1))


def parse_follow_up(raw: str, now: datetime) -> datetime | None:
    """A follow-up date as typed: ``2026-12-03`` (midnight UTC), ``+3d`` or ``none``."""
    text = raw.strip().lower()
    if text == "none":
        return None
    relative = _RELATIVE.match(text)
    if relative:
        return now + timedelta(days=int(relative.group(1)))
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"follow-up {raw!r} is not a date: give YYYY-MM-DD, +Nd (N days from now) or none"
        ) from None
    return datetime.combine(day, time())
