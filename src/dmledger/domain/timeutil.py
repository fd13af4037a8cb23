"""Time: every timestamp DM Ledger stores is UTC.

Event times (when a DM was sent, when a lead replied) come from the sender's clock,
read through ``utcnow`` so tests can skew it, and pass one rule however they arrive
(``log --at``, ``reply --at``, the API's ``sent_at`` and ``replied_at``, the pages,
the native host, ``import-logs``): :func:`check_event_time`. Sync cursors never use a
client clock at all.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo

from dmledger.errors import InvalidInput

Clock = Callable[[], datetime]

# No DM recorded by this tool can have been sent before this (naive UTC): an earlier
# time is a typo or a number read as seconds since 1970, not history.
EVENT_FLOOR = datetime(2010, 1, 1)
# How far ahead of this machine's clock an event time may be (another machine's clock,
# a time zone typed a little wrong); anything later has not happened yet.
FUTURE_SKEW = timedelta(minutes=5)


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
    return to_utc(moment)


def to_utc(moment: datetime) -> datetime:
    """A datetime as naive UTC (a naive one is taken as UTC already). Raises
    InvalidInput naming the value when its offset takes it outside the years 1-9999."""
    if moment.tzinfo is None:
        return moment
    try:
        return moment.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        raise InvalidInput(
            f"time {moment.isoformat()} is out of range once converted to UTC "
            "(before year 1 or after year 9999)"
        ) from None


def check_event_time(moment: datetime, now: datetime, what: str) -> datetime:
    """The rule for every event time: ``moment`` (naive UTC) is no earlier than
    :data:`EVENT_FLOOR` and no later than ``now`` (naive UTC) plus :data:`FUTURE_SKEW`.

    Returns ``moment``. Raises InvalidInput naming ``what`` ("send time", "reply
    time"), the value and the rule.
    """
    latest = now + FUTURE_SKEW
    if EVENT_FLOOR <= moment <= latest:
        return moment
    rule = (
        f"{what}s run from {EVENT_FLOOR:%Y-%m-%d} to {FUTURE_SKEW.seconds // 60} minutes "
        "past now (clock skew)"
    )
    if moment < EVENT_FLOOR:
        raise InvalidInput(f"{what} {format_utc(moment)} is before {EVENT_FLOOR:%Y-%m-%d}: {rule}")
    raise InvalidInput(
        f"{what} {format_utc(moment)} is in the future: it has not happened yet; {rule}"
    )


def iso(moment: datetime | None) -> str | None:
    """The fixed-width ISO text a naive UTC time is kept as (the cache's columns, the
    pull's rows): text order is time order. The cloud's pull query makes the same text
    (``cloud.pull.STORED_TEXT``)."""
    return None if moment is None else moment.isoformat(timespec="microseconds")


def format_utc(moment: datetime | None) -> str | None:
    """ISO 8601 with a trailing Z, or None."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds") + "Z"


def human_time(
    value: datetime | str | None, *, tz: tzinfo | None = None, now: datetime | None = None
) -> str:
    """A UTC time (naive, or ISO text as ``format_utc`` writes it) as a person reads it
    in a table: ``Nov 7, 09:24`` in ``tz`` (default: this machine's time zone), with the
    year when it is not this year (``Nov 7 2025, 09:24``). Empty for None.

    Tables show this; ``--json`` and the API keep ISO 8601 UTC.
    """
    if value is None or value == "":
        return ""
    moment = parse_utc(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(tz)
    today = (now or datetime.now(UTC)).astimezone(tz)
    day = f"{local:%b} {local.day}" + ("" if local.year == today.year else f" {local.year}")
    return f"{day}, {local:%H:%M}"
