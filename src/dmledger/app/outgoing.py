"""The one validation a DM goes through, however it arrives.

``log``, the web's Check page, the JSON API and ``import-logs`` all build their DM
with :func:`new_dm` and check its sender with :func:`require_registered_actor`, so the
same DM is refused the same way everywhere, before anything is written.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa

from dmledger.domain.handles import normalize_handle, validate_actor_username
from dmledger.domain.records import OutgoingLog
from dmledger.domain.text import MESSAGE_MAX_CHARS, clean_text, validate_name
from dmledger.domain.timeutil import check_event_time
from dmledger.errors import InvalidInput, Refused
from dmledger.local import LocalStore


def new_dm(
    client_log_id: str,
    to: str,
    message: str,
    *,
    actor: str,
    operator: str,
    sent_at: datetime | None,
    now: datetime,
) -> OutgoingLog:
    """A DM that was sent, validated: handle, sender, operator name, text, send time.

    ``sent_at`` and ``now`` are naive UTC; a ``sent_at`` given passes the event-time
    rule, None is ``now`` (this machine's clock, which the first sync corrects, so a
    clock set far wrong never loses a DM). Raises InvalidInput naming the value and the
    rule it breaks.
    """
    handle = normalize_handle(to)
    sender = validate_actor_username(actor)
    who = validate_name(operator, "operator name")
    text = clean_text(message, "message", MESSAGE_MAX_CHARS)
    if not text:
        raise InvalidInput("message is empty: record the text that was sent")
    when = now if sent_at is None else check_event_time(sent_at, now, "send time")
    return OutgoingLog(client_log_id, handle, sender, who, text, when)


def client_made_id(raw: str | None, field: str) -> str:
    """The id a client makes for what it records (a DM's ``client_log_id``, a reply's
    ``reply_id``), so that sending it again records nothing new; a new one if none."""
    if raw is None:
        return str(uuid.uuid4())
    text = raw.strip()
    if not 1 <= len(text) <= 36 or not all(c.isalnum() or c in "-_." for c in text):
        raise InvalidInput(
            f"{field} {raw!r} must be 1-36 characters of letters, digits, '-', '_' or '.'"
        )
    return text


def require_registered_actor(store: LocalStore, conn: sa.Connection, actor: str) -> None:
    """Refuse a sender that is not a registered account: a typo must not make a new one."""
    if store.get_actor(conn, actor) is not None:
        return
    known = [row.username for row in store.list_actors(conn)]
    listed = ", ".join(known) if known else "none yet"
    raise Refused(
        f"actor {actor!r} is not a registered account (known: {listed}): check the spelling, "
        f"or register it with `dmledger actor add {actor}`"
    )
