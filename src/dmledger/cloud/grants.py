"""Least-privilege database roles: what a teammate's agent needs, and nothing more.

An operator's agent reads and writes prospects and DMs, registers operators and
actors, and reads the sync bookkeeping. It gets no DDL, no DELETE on outreach logs
(a lead that has DMs can only be deleted by the team lead's user) and cannot reset
the cloud. The triggers that maintain the sync clock and the tombstones run with the
schema owner's rights (PostgreSQL ``SECURITY DEFINER``; Oracle triggers always do),
so the role needs no write access to them.
"""

from __future__ import annotations

import re

from dmledger.errors import InvalidInput

ROLES = ("operator",)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,62}")

# (table, privileges): the operator role's whole grant.
OPERATOR_GRANTS: tuple[tuple[str, str], ...] = (
    ("prospects", "SELECT, INSERT, UPDATE, DELETE"),
    ("outreach_logs", "SELECT, INSERT"),
    ("operators", "SELECT, INSERT"),
    ("actors", "SELECT, INSERT, UPDATE"),
    ("prospect_tombstones", "SELECT"),
    ("sync_clock", "SELECT"),
    ("dmledger_info", "SELECT"),
)


def check_identifier(name: str, what: str = "database user") -> str:
    """A plain SQL identifier; anything else is refused (identifiers are never quoted
    user input)."""
    if not _IDENTIFIER.fullmatch(name):
        raise InvalidInput(
            f"{what} {name!r} is not a plain identifier: use letters, digits, '_' or '$', "
            "starting with a letter or '_', at most 63 characters"
        )
    return name


def grant_statements(dialect: str, role: str, user: str, *, owner: str | None = None) -> list[str]:
    """The statements giving ``user`` the ``role`` on this dialect.

    PostgreSQL: ``owner`` is the schema holding the tables (default ``public``).
    Oracle: ``owner`` is the schema owner (default ``ADMIN``, the ATP admin user);
    the agent then sets ``CURRENT_SCHEMA`` to it on connect.
    """
    if role not in ROLES:
        raise InvalidInput(f"role {role!r} is not one of: {', '.join(ROLES)}")
    check_identifier(user)
    if dialect == "postgresql":
        schema = check_identifier(owner or "public", "schema")
        statements = [f"GRANT USAGE ON SCHEMA {schema} TO {user}"]
        statements += [
            f"GRANT {privileges} ON {schema}.{table} TO {user}"
            for table, privileges in OPERATOR_GRANTS
        ]
        return statements
    if dialect == "oracle":
        schema = check_identifier(owner or "ADMIN", "schema").upper()
        statements = [f"GRANT CREATE SESSION TO {user}"]
        statements += [
            f"GRANT {privileges} ON {schema}.{table.upper()} TO {user}"
            for table, privileges in OPERATOR_GRANTS
        ]
        return statements
    raise InvalidInput(
        f"grants are for a shared database (postgresql or oracle), not {dialect!r}: "
        "the embedded SQLite cloud has no users"
    )
