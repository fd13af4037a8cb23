"""Time: every timestamp DM Ledger stores is UTC.

Event times (when a DM was sent) come from the sender's clock, read through
``utcnow`` so tests can skew it. Sync cursors never use a client clock at all.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from dmledger.errors import InvalidInput

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current UTC time as a naive datetime (databases store naive UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


def parse_utc(raw: str) -> datetime:
    """Parse ISO 8601; an offset is converted to UTC, a bare time is taken as UTC.

    Returns a naive datetime in UTC. Raises InvalidInput naming the value.
    """
    text = raw.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"time {raw!r} is not ISO 8601: expected e.g. 2026-11-25T14:30:00Z"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def format_utc(moment: datetime | None) -> str | None:
    """ISO 8601 with a trailing Z, or None."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds") + "Z"
