"""The pipeline statuses of a prospect, the seed tool's legacy names, and the DM rule."""

from __future__ import annotations

import functools
from enum import StrEnum

from dmledger.errors import InvalidInput


class Status(StrEnum):
    """Where a lead stands. Order matters: it is the pipeline, earliest first."""

    NEW = "new"
    CONTACTED = "contacted"
    COLD = "cold"
    WARM = "warm"
    HOT = "hot"
    BOOKED = "booked"
    CLIENT = "client"
    REJECTED = "rejected"
    EXCLUDED = "excluded"


STATUSES: tuple[str, ...] = tuple(s.value for s in Status)

# Values written by the tool the seed comes from; read as the matching status.
LEGACY_ALIASES: dict[str, Status] = {
    "cold_noreply": Status.COLD,
    "cold_no_reply": Status.COLD,
    "noreply": Status.COLD,
    "no_reply": Status.COLD,
}

ACTOR_STATUSES: tuple[str, ...] = ("active", "restricted", "banned", "retired")


def parse_status(raw: str) -> Status:
    """Read a status typed by a person or stored by the seed's tool (``Cold_NoReply``).

    Raises InvalidInput naming the value and the statuses that exist.
    """
    key = raw.strip().lower()
    if key in STATUSES:
        return Status(key)
    if key in LEGACY_ALIASES:
        return LEGACY_ALIASES[key]
    raise InvalidInput(f"status {raw!r} is not one of: {', '.join(STATUSES)}")


@functools.lru_cache(maxsize=1024)  # a pull reads it per row; a cloud has few spellings
def read_stored_status(raw: str | None) -> Status:
    """Like parse_status, for values already in a database: unknown values read as ``new``.

    A cloud row written by another tool must never stop a sync; the raw value stays
    in the cloud untouched.
    """
    if raw is None:
        return Status.NEW
    try:
        return parse_status(raw)
    except InvalidInput:
        return Status.NEW


def canonical_status(raw: str | None) -> str:
    """How a status stored in the cloud is kept in the cache and shown: ``Warm`` is
    ``warm``, ``Cold_NoReply`` is ``cold``, None is ``new``.

    A value that matches no status is kept as written (stripped), so it stays visible
    instead of passing for ``new``; the cloud's copy is never rewritten.
    """
    if raw is None or not raw.strip():
        return Status.NEW.value
    try:
        return parse_status(raw).value
    except InvalidInput:
        return raw.strip()


def parse_actor_status(raw: str) -> str:
    key = raw.strip().lower()
    if key not in ACTOR_STATUSES:
        raise InvalidInput(f"actor status {raw!r} is not one of: {', '.join(ACTOR_STATUSES)}")
    return key


def status_after_dm(current: Status | None) -> Status:
    """The status after a DM is logged: ``new`` (or unknown) becomes ``contacted``.

    A DM never moves a lead backwards: ``booked`` stays ``booked``. Whether a DM to an
    ``excluded`` lead is allowed at all is the caller's decision (see rules.check_dm_allowed).
    """
    if current is None or current is Status.NEW:
        return Status.CONTACTED
    return current


def status_after_reply(current: Status) -> Status:
    """A reply moves an earlier status (new, contacted, cold) to ``warm``, never backwards."""
    if current in (Status.NEW, Status.CONTACTED, Status.COLD):
        return Status.WARM
    return current
