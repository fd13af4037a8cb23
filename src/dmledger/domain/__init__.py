"""Pure rules of DM Ledger: no I/O, no database, no clock except through ``timeutil``."""

from __future__ import annotations

from dmledger.domain.handles import normalize_handle, validate_actor_username
from dmledger.domain.statuses import (
    ACTOR_STATUSES,
    STATUSES,
    Status,
    parse_actor_status,
    parse_status,
    status_after_dm,
)
from dmledger.domain.text import (
    MESSAGE_MAX_BYTES,
    NAME_MAX,
    NOTES_MAX_BYTES,
    TARGET_USERNAME_MAX,
    TRUNCATION_MARKER,
    escape_controls,
    fit_bytes,
    has_control,
    validate_name,
    validate_search,
)
from dmledger.domain.timeutil import format_utc, parse_utc, utcnow

__all__ = [
    "ACTOR_STATUSES",
    "MESSAGE_MAX_BYTES",
    "NAME_MAX",
    "NOTES_MAX_BYTES",
    "STATUSES",
    "TARGET_USERNAME_MAX",
    "TRUNCATION_MARKER",
    "Status",
    "escape_controls",
    "fit_bytes",
    "format_utc",
    "has_control",
    "normalize_handle",
    "parse_actor_status",
    "parse_status",
    "parse_utc",
    "status_after_dm",
    "utcnow",
    "validate_actor_username",
    "validate_name",
    "validate_search",
]
