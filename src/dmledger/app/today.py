"""The Today list: the leads due for a follow-up now, from the cache alone.

``FollowUps.today`` (web, API, native host) and ``dmledger today`` both build it here.
The CLI reads the home's cache without opening a ``Ledger`` (``quick_today.py``), so
the command starts without SQLAlchemy or any cloud driver; everything in this module
is the standard library and the pure domain.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dmledger.domain.followups import FollowUpRule, FollowUpState, followups_sent
from dmledger.domain.handles import validate_actor_username
from dmledger.domain.text import validate_name
from dmledger.domain.timeutil import format_utc
from dmledger.errors import InvalidInput
from dmledger.local import reader

TODAY_LIMIT_MAX = 1000
TODAY_LIMIT_DEFAULT = 200


@dataclass(frozen=True)
class Today:
    """The leads due for a follow-up now, most overdue first."""

    now: datetime
    items: list[dict[str, Any]]
    total: int
    rule: FollowUpRule

    def to_dict(self) -> dict[str, Any]:
        return {
            "now": format_utc(self.now),
            "total": min(self.total, reader.COUNT_CAP),
            "total_capped": self.total > reader.COUNT_CAP,  # more are due than `total` says
            "rule": {
                "follow_up_after_days": self.rule.after_days,
                "max_followups": self.rule.max_followups,
            },
            "items": self.items,
        }


@dataclass(frozen=True)
class TodayQuery:
    """What the Today list is filtered on, checked: bad input is refused, naming it."""

    actor: str | None = None
    operator: str | None = None
    limit: int = TODAY_LIMIT_DEFAULT

    @classmethod
    def of(cls, actor: str | None, operator: str | None, limit: int) -> TodayQuery:
        if not 1 <= limit <= TODAY_LIMIT_MAX:
            raise InvalidInput(f"limit {limit} is out of range: 1 to {TODAY_LIMIT_MAX}")
        return cls(
            validate_actor_username(actor) if actor else None,
            validate_name(operator, "operator") if operator else None,
            limit,
        )


def build_today(db: sqlite3.Connection, now: datetime, query: TodayQuery) -> Today:
    """The Today list at ``now`` (the corrected clock, naive UTC) from an open cache."""
    rule = reader.follow_up_rule(db)
    due, total = reader.due_rows(
        db, now, actor=query.actor, operator=query.operator, limit=query.limit
    )
    return Today(now, [_item(lead, now) for lead in due], total, rule)


def _item(lead: reader.DueRow, now: datetime) -> dict[str, Any]:
    state = FollowUpState(lead.status, lead.last_dm_at, lead.dm_count, lead.last_reply_at)
    return {
        "handle": lead.handle,
        "status": lead.status,
        "owner_actor": lead.owner_actor,
        "owner_operator": lead.owner_operator,
        "due_at": format_utc(lead.due_at),
        "overdue_days": max(0, (now - lead.due_at) // timedelta(days=1)),
        "followups_sent": followups_sent(state),
        "last_dm_at": format_utc(lead.last_dm_at),
        "days_since_last_dm": None
        if lead.last_dm_at is None
        else max(0, (now - lead.last_dm_at) // timedelta(days=1)),
        "last_message": lead.last_message,
        "set_by_hand": lead.follow_up_at is not None,
    }
