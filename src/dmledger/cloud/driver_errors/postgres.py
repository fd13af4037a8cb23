"""psycopg's errors, translated by their SQLSTATE.

The server sends a five-character SQLSTATE with every refusal (``error.sqlstate``);
the first two characters are its class. One table below says what each known code or
class means for the sync (the kinds of ``driver_errors.Refusal``); an exact code wins
over its class.

libpq reports a failed *connect* without one: psycopg raises a bare
``OperationalError`` (or its subclass ``ConnectionTimeout``) whose ``sqlstate`` is
None, for a refused port, an unknown host or database, a timeout, and a refused login
alike. The same holds for a connection lost mid-statement ("consuming input failed").
Only the server's words tell a refused login from the rest, so that one case reads the
message (see :data:`_LOGIN_WORDS`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import psycopg

if TYPE_CHECKING:
    from dmledger.cloud.driver_errors.kinds import Refusal

_BY_SQLSTATE: dict[str, Refusal] = {
    "40001": "busy",  # serialization_failure
    "40P01": "busy",  # deadlock_detected
    "55P03": "busy",  # lock_not_available (our lock_timeout)
    "53300": "busy",  # too_many_connections
    "57P01": "unreachable",  # admin_shutdown (the session was terminated)
    "57P02": "unreachable",  # crash_shutdown
    "57P03": "unreachable",  # cannot_connect_now (starting up, shutting down)
    "42501": "right",  # insufficient_privilege
    "42P01": "schema",  # undefined_table
    "42703": "schema",  # undefined_column
    "3F000": "schema",  # invalid_schema_name
}
_BY_CLASS: dict[str, Refusal] = {
    "08": "unreachable",  # connection exception
    "28": "login",  # invalid authorization specification (28000, 28P01)
    "22": "row",  # data exception: a value the column cannot hold
    "23": "row",  # integrity constraint violation, our triggers' check_violation
}

# libpq's own connect-failure texts that mean "the server answered and refused this
# login"; there is no SQLSTATE to read (see the module notes). A server set to another
# lc_messages language words them differently: those fall back to "unreachable".
_LOGIN_WORDS = (
    "password authentication failed",
    "no password supplied",
    "is not permitted to log in",
    "no pg_hba.conf entry",
)
_NO_ROLE = re.compile(r'role "[^"]*" does not exist')


def classify_pg(error: BaseException) -> Refusal | None:
    """The kind of a psycopg error, from its SQLSTATE (None: not psycopg's error)."""
    if not isinstance(error, psycopg.Error):
        return None
    sqlstate = error.sqlstate
    if sqlstate is None:
        if isinstance(error, psycopg.OperationalError):
            return "login" if _refused_login(str(error)) else "unreachable"
        return "other"
    return _BY_SQLSTATE.get(sqlstate) or _BY_CLASS.get(sqlstate[:2], "other")


def _refused_login(text: str) -> bool:
    lowered = text.lower()
    return any(words in lowered for words in _LOGIN_WORDS) or bool(_NO_ROLE.search(lowered))
